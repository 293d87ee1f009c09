"""Event types of the wire format v1 (see docs/events.md).

Events are validated and normalised on construction: timestamps become UTC, amounts
become :class:`~decimal.Decimal` (with integer cents at hand), IP addresses are parsed
and written canonically. Unknown top-level fields are rejected so that a typo such as
``amout`` is reported instead of silently ignored; ``attributes`` is the place for
any further field.

>>> e = Event.model_validate({"event_id": "e1", "type": "login", "user_id": "u1",
...                           "occurred_at": "2026-11-20T09:15:40+08:00"})
>>> e.occurred_at.isoformat()
'2026-11-20T01:15:40+00:00'
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)


class EventType(StrEnum):
    """The sensitive actions fengkong decides on."""

    REGISTER = "register"
    LOGIN = "login"
    PAYMENT = "payment"
    CREDIT_DRAW = "credit_draw"
    TRANSFER = "transfer"
    WITHDRAWAL = "withdrawal"
    ACCOUNT_CHANGE = "account_change"
    QR_SCAN = "qr_scan"
    DOCUMENT_UPLOAD = "document_upload"
    VOICE_CHECK = "voice_check"
    CREDIT_APPLICATION = "credit_application"


MONEY_EVENT_TYPES: frozenset[EventType] = frozenset(
    {EventType.PAYMENT, EventType.CREDIT_DRAW, EventType.TRANSFER, EventType.WITHDRAWAL}
)

_REQUIRED_BY_TYPE: dict[EventType, str] = {
    **{t: "amount" for t in MONEY_EVENT_TYPES},
    EventType.ACCOUNT_CHANGE: "operation",
    EventType.QR_SCAN: "qr",
    EventType.DOCUMENT_UPLOAD: "document",
    EventType.VOICE_CHECK: "voice",
    EventType.CREDIT_APPLICATION: "application",
}

Operation = Literal[
    "close_credit_line",
    "change_phone",
    "change_password",
    "add_payee",
    "raise_limit",
    "unbind_card",
    "bind_card",
    "change_device",
    "other",
]
OPERATIONS: frozenset[str] = frozenset(get_args(Operation))
Platform = Literal["android", "ios", "web", "mini_program"]
Entry = Literal["qr", "link", "sms", "home"]
DocumentKind = Literal["id_card", "business_license", "certificate", "seal", "other"]

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")

# Ids are printable: no whitespace, control or invisible formatting characters, which
# would make an id that prints like another one (or cannot be written in a URL path).
# (Spelled with code points, not \p{...} classes, so OpenAPI tools can read it too.)
_ID_PATTERN = r"^[^\s\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff]+$"
Id = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=_ID_PATTERN)]
ShortText = Annotated[str, StringConstraints(max_length=1024)]
# 8 MiB of base64 is far above any sane upload; the API's body limit is lower anyway.
Base64Text = Annotated[str, StringConstraints(max_length=8 * 1024 * 1024)]


_RFC3339 = re.compile(
    r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d\d:?\d\d)", re.ASCII
)
# A decimal string as JSON writes numbers: no "1_000", no full-width or other digits.
_DECIMAL = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*", re.ASCII)


def rfc3339(value: Any) -> Any:
    """Timestamps are RFC 3339 strings with an offset, never a bare Unix number."""
    if isinstance(value, datetime):
        return value  # built in Python, not decoded from JSON
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("give an RFC 3339 timestamp with an offset: 2026-11-20T09:15:40+08:00")
    return value


def to_utc(value: datetime) -> datetime:
    """The same moment in UTC; refused when UTC cannot represent it (year 1 or 9999)."""
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("out of the representable range once converted to UTC") from None


def canonical_amount(amount: Decimal) -> Decimal:
    """One spelling per value ("5", "5.0" and 5 are the same amount) for idempotency."""
    if amount == amount.to_integral_value():
        return amount.quantize(Decimal(1))
    return amount.normalize()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Open(BaseModel):
    """Signals from the app: known fields typed, further ones kept as given."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Fingerprint(_Open):
    platform: Platform | None = None
    os_version: ShortText | None = None
    model: ShortText | None = None
    user_agent: ShortText | None = None
    screen: ShortText | None = None
    timezone: ShortText | None = None
    language: ShortText | None = None
    canvas_hash: ShortText | None = None
    webgl_hash: ShortText | None = None
    fonts_hash: ShortText | None = None
    is_emulator: StrictBool | None = None
    is_rooted: StrictBool | None = None
    build_props: dict[str, Any] | None = None


class Device(_Strict):
    device_id: ShortText | None = None
    fingerprint: Fingerprint | None = None


class Geo(_Strict):
    lat: StrictFloat = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: StrictFloat = Field(ge=-180, le=180, allow_inf_nan=False)
    accuracy_m: StrictFloat | None = Field(default=None, ge=0, allow_inf_nan=False)


class Counterparty(_Strict):
    account_id: ShortText | None = None
    bank_card: ShortText | None = None
    name: ShortText | None = None


class Context(_Open):
    in_call: StrictBool | None = None
    caller_in_contacts: StrictBool | None = None
    screen_sharing: StrictBool | None = None
    remote_control_app: StrictBool | None = None
    entry: Entry | None = None


def _one_of_present(*names: str) -> dict[str, Any]:
    """JSON Schema: at least one of ``names`` is given and not null."""
    return {
        "anyOf": [{"required": [n], "properties": {n: {"not": {"type": "null"}}}} for n in names]
    }


class QRCode(_Strict):
    model_config = ConfigDict(json_schema_extra=_one_of_present("payload", "image_b64"))

    payload: Annotated[str, StringConstraints(max_length=8192)] | None = None
    image_b64: Base64Text | None = None

    @model_validator(mode="after")
    def _one_of(self) -> QRCode:
        if self.payload is None and self.image_b64 is None:
            raise ValueError("give `payload` (decoded text) or `image_b64`")
        return self


class Document(_Strict):
    kind: DocumentKind
    image_b64: Base64Text


class Voice(_Strict):
    audio_b64: Base64Text
    claimed_user_id: Id | None = None


class CreditApplication(_Strict):
    """What a credit application (or a limit raise) asks for, and who asks.

    ``applicant`` holds the scorecard's variables by name (numbers or category
    labels); ``stated_income`` is annual, ``existing_debt`` is credit outstanding.
    """

    requested_amount: Decimal = Field(gt=0, lt=Decimal("1e12"), allow_inf_nan=False)
    term_months: int = Field(ge=1, le=600)
    stated_income: Decimal | None = Field(None, ge=0, lt=Decimal("1e12"), allow_inf_nan=False)
    existing_debt: Decimal | None = Field(None, ge=0, lt=Decimal("1e12"), allow_inf_nan=False)
    purpose: ShortText | None = None
    applicant: dict[Annotated[str, StringConstraints(max_length=128)], Any] = Field(
        default_factory=dict, max_length=500
    )

    @field_validator("applicant")
    @classmethod
    def _plain_values(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, v in value.items():
            if isinstance(v, float) and v != v:
                raise ValueError(f"`{key}`: give null, not NaN, for a missing value")
            if not (v is None or isinstance(v, str | int | float | bool)):
                raise ValueError(f"`{key}`: must be a number, a string, true/false or null")
            if isinstance(v, str) and len(v) > 256:
                raise ValueError(f"`{key}`: at most 256 characters")
        return value


# Timings in milliseconds; a minute bounds any single key hold, gap or touch.
TimingMs = Annotated[float, Field(ge=0, le=60_000, allow_inf_nan=False, strict=True)]
Unit = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False, strict=True)]
MAX_TIMINGS = 256


class Keystrokes(_Strict):
    """Key timings of one typed field: ``hold_ms[i]`` key i held, ``flight_ms[i]`` the gap
    from releasing key i to pressing key i + 1 (negative overlaps are sent as 0)."""

    field: Annotated[str, StringConstraints(max_length=64)] | None = None
    hold_ms: Annotated[list[TimingMs], Field(min_length=2, max_length=MAX_TIMINGS)]
    flight_ms: Annotated[list[TimingMs], Field(max_length=MAX_TIMINGS - 1)]

    @model_validator(mode="after")
    def _aligned(self) -> Keystrokes:
        if len(self.flight_ms) != len(self.hold_ms) - 1:
            raise ValueError("`flight_ms` must have one entry fewer than `hold_ms`")
        return self


class Touch(_Strict):
    """Touch gestures of the session: per tap its duration, pressure and contact size,
    per swipe its speed (px/ms)."""

    tap_ms: Annotated[list[TimingMs], Field(max_length=MAX_TIMINGS)] = []
    pressure: Annotated[list[Unit], Field(max_length=MAX_TIMINGS)] = []
    size: Annotated[list[Unit], Field(max_length=MAX_TIMINGS)] = []
    swipe_speed: Annotated[
        list[Annotated[float, Field(ge=0, le=100, allow_inf_nan=False, strict=True)]],
        Field(max_length=MAX_TIMINGS),
    ] = []


class Behaviour(_Strict):
    keystrokes: Keystrokes | None = None
    touch: Touch | None = None


_IP_SCHEMA = {"anyOf": [{"type": "string", "format": f} for f in ("ipv4", "ipv6")]}
_AMOUNT_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0, "exclusiveMaximum": 1e15},
        {"type": "string", "pattern": r"^[0-9]{1,15}(\.[0-9]{1,12})?$"},
    ],
    "description": "≥ 0 and below 10^15; a decimal string keeps every digit",
}


def _required_by_type_schema() -> dict[str, Any]:
    """JSON Schema ``if``/``then`` per event type: the field each type requires."""
    by_field: dict[str, list[str]] = {}
    for kind, name in _REQUIRED_BY_TYPE.items():
        by_field.setdefault(name, []).append(kind.value)
    return {
        "allOf": [
            {
                "if": {"properties": {"type": {"enum": sorted(kinds)}}, "required": ["type"]},
                "then": {"required": [name], "properties": {name: {"not": {"type": "null"}}}},
            }
            for name, kinds in by_field.items()
        ]
    }


class Event(_Strict):
    """One sensitive action, as sent by a client (wire format v1)."""

    model_config = ConfigDict(json_schema_extra=_required_by_type_schema())

    event_id: Id
    type: EventType
    occurred_at: AwareDatetime
    user_id: Id
    session_id: ShortText | None = None
    device: Device | None = None
    ip: Annotated[str, WithJsonSchema(_IP_SCHEMA)] | None = None
    geo: Geo | None = None
    phone: ShortText | None = None
    id_number: ShortText | None = None
    bank_card: ShortText | None = None
    amount: Annotated[Decimal, WithJsonSchema(_AMOUNT_SCHEMA)] | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"
    merchant_id: ShortText | None = None
    counterparty: Counterparty | None = None
    operation: Operation | None = None
    context: Context | None = None
    qr: QRCode | None = None
    document: Document | None = None
    voice: Voice | None = None
    application: CreditApplication | None = None
    behaviour: Behaviour | None = None
    attributes: dict[str, Any] | None = None

    _rfc3339 = field_validator("occurred_at", mode="before")(rfc3339)
    _to_utc = field_validator("occurred_at")(to_utc)

    @field_validator("ip")
    @classmethod
    def _parse_ip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if _CANONICAL_IPV4.fullmatch(value):
            return value  # already canonical: skip the slower general parser
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError(f"not an IPv4 or IPv6 address: {value[:64]!r}") from None

    @field_validator("currency", mode="before")
    @classmethod
    def _upper_currency(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("amount", mode="before")
    @classmethod
    def _parse_amount(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise ValueError("amount must be a number or a decimal string")
        if isinstance(value, str) and not _DECIMAL.fullmatch(value):
            raise ValueError(f"not a decimal number: {value[:64]!r}")
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"not a decimal number: {str(value)[:64]!r}") from None
        if not amount.is_finite():
            raise ValueError("amount must be finite")
        if amount < 0:
            raise ValueError("amount must be ≥ 0")
        if amount >= Decimal("1e15"):
            raise ValueError("amount must be below 10^15")
        return canonical_amount(amount)

    @model_validator(mode="after")
    def _required_by_type(self) -> Event:
        required = _REQUIRED_BY_TYPE.get(self.type)
        if required is not None and getattr(self, required) is None:
            raise ValueError(f"`{required}` is required for `{self.type.value}` events")
        return self

    @cached_property
    def ts(self) -> float:
        """Seconds since the Unix epoch (UTC) of ``occurred_at``."""
        # Cached in the instance dict: read on every feature update, it must be cheap.
        return self.occurred_at.timestamp()

    @property
    def amount_cents(self) -> int | None:
        """The amount in minor units (cents), rounded half-even."""
        if self.amount is None:
            return None
        return int((self.amount * 100).to_integral_value())

    @property
    def amount_float(self) -> float:
        """The amount as a float for arithmetic features; 0.0 when absent."""
        return 0.0 if self.amount is None else float(self.amount)
