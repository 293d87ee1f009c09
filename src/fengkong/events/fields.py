"""An event's fields as plain attributes, copied once per decided event.

Reading a field of a pydantic model costs about ten times a plain attribute read
(``BaseModel`` defines ``__getattr__``, so CPython cannot specialise the read), and the
stages read the event's fields nearly two hundred times per decision. The pipeline
copies them once into an :class:`EventFields` (``ctx.fields``), a slotted object with
the same names, and the stages' hot paths read that instead; functions that take
either are typed :data:`EventLike`.

>>> from fengkong.events import parse_event
>>> e = parse_event({"event_id": "e1", "type": "payment", "user_id": "u1", "amount": "12.5",
...                  "occurred_at": "2026-11-20T09:15:40+08:00", "merchant_id": "m1"})
>>> f = EventFields(e)
>>> (f.user_id, f.merchant_id, f.amount, f.amount_float, f.ts == e.ts, f.event is e)
('u1', 'm1', Decimal('12.5'), 12.5, True, True)
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from fengkong.events.models import (
    Behaviour,
    Context,
    Counterparty,
    CreditApplication,
    Device,
    Document,
    Event,
    EventType,
    Geo,
    Operation,
    QRCode,
    Voice,
)

# The model's fields, copied as they are (nested parts stay models).
_FIELDS = tuple(Event.model_fields)


class EventFields:
    """The fields of one :class:`Event` (same names and values), plus ``ts``,
    ``amount_float`` and the event itself (``event``)."""

    __slots__ = ("amount_float", "event", "ts", *_FIELDS)

    event_id: str
    type: EventType
    occurred_at: datetime
    user_id: str
    session_id: str | None
    device: Device | None
    ip: str | None
    geo: Geo | None
    phone: str | None
    id_number: str | None
    bank_card: str | None
    amount: Decimal | None
    currency: str
    merchant_id: str | None
    counterparty: Counterparty | None
    operation: Operation | None
    context: Context | None
    qr: QRCode | None
    document: Document | None
    voice: Voice | None
    application: CreditApplication | None
    behaviour: Behaviour | None
    attributes: dict[str, Any] | None

    def __init__(self, event: Event) -> None:
        # One read of the instance dict (where pydantic keeps the values), not one
        # model attribute read per field.
        values = event.__dict__
        self.event_id = values["event_id"]
        self.type = values["type"]
        self.occurred_at = values["occurred_at"]
        self.user_id = values["user_id"]
        self.session_id = values["session_id"]
        self.device = values["device"]
        self.ip = values["ip"]
        self.geo = values["geo"]
        self.phone = values["phone"]
        self.id_number = values["id_number"]
        self.bank_card = values["bank_card"]
        self.amount = values["amount"]
        self.currency = values["currency"]
        self.merchant_id = values["merchant_id"]
        self.counterparty = values["counterparty"]
        self.operation = values["operation"]
        self.context = values["context"]
        self.qr = values["qr"]
        self.document = values["document"]
        self.voice = values["voice"]
        self.application = values["application"]
        self.behaviour = values["behaviour"]
        self.attributes = values["attributes"]
        self.event = event
        self.ts = event.ts
        amount = values["amount"]
        self.amount_float = 0.0 if amount is None else float(amount)

    @property
    def amount_cents(self) -> int | None:
        """The amount in minor units (cents), rounded half-even (as ``Event``'s)."""
        if self.amount is None:
            return None
        return int((self.amount * 100).to_integral_value())


EventLike = Event | EventFields
