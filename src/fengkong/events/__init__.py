"""Events: the wire format v1, its validation, normalisation and tokenisation."""

from fengkong.events.codec import (
    EventValidationError,
    FieldError,
    body_hash,
    decode_json,
    event_to_json,
    normalise,
    parse_event,
)
from fengkong.events.labels import Label, LabelSource, LabelValue, parse_label
from fengkong.events.models import (
    MONEY_EVENT_TYPES,
    OPERATIONS,
    Context,
    Counterparty,
    CreditApplication,
    Device,
    Document,
    Event,
    EventType,
    Fingerprint,
    Geo,
    QRCode,
    Voice,
)
from fengkong.events.tokens import Tokenizer, is_token

__all__ = [
    "MONEY_EVENT_TYPES",
    "OPERATIONS",
    "Context",
    "Counterparty",
    "CreditApplication",
    "Device",
    "Document",
    "Event",
    "EventType",
    "EventValidationError",
    "FieldError",
    "Fingerprint",
    "Geo",
    "Label",
    "LabelSource",
    "LabelValue",
    "QRCode",
    "Tokenizer",
    "Voice",
    "body_hash",
    "decode_json",
    "event_to_json",
    "is_token",
    "normalise",
    "parse_event",
    "parse_label",
]
