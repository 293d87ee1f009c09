"""Parsing events from JSON with errors that name the offending field."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from fengkong.events.limits import DEFAULT_LIMITS, Limits, structure_problem
from fengkong.events.models import Event
from fengkong.events.tokens import Tokenizer

# Cross-field checks name their field in backticks; lift it into the error's path.
_REQUIRED_FIELD = re.compile(r"^`(\w+)` is required")

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field: ``loc`` is the path, e.g. ``("device", "fingerprint")``."""

    loc: tuple[str | int, ...]
    msg: str
    type: str

    @property
    def path(self) -> str:
        """The dotted path, e.g. ``events[3].amount``."""
        out = ""
        for part in self.loc:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out or "body"

    def as_dict(self) -> dict[str, Any]:
        return {"loc": list(self.loc), "field": self.path, "msg": self.msg, "type": self.type}


class EventValidationError(ValueError):
    """An event (or batch) that does not follow the wire format; nothing of it is kept."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        summary = "; ".join(f"{e.path}: {e.msg}" for e in self.errors[:5])
        super().__init__(summary)

    def prefixed(self, *prefix: str | int) -> EventValidationError:
        return EventValidationError(
            [FieldError((*prefix, *e.loc), e.msg, e.type) for e in self.errors]
        )


def _from_pydantic(exc: ValidationError) -> EventValidationError:
    errors = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"].removeprefix("Value error, ")
        named = _REQUIRED_FIELD.match(msg)
        if named and not loc:
            loc = (named.group(1),)
        errors.append(FieldError(loc, msg, err["type"]))
    return EventValidationError(errors)


def decode_object(data: bytes | str | dict[str, Any], limits: Limits = DEFAULT_LIMITS) -> Any:
    """JSON text (or an object already decoded) checked against ``limits``."""
    value = decode_json(data) if isinstance(data, bytes | bytearray | memoryview | str) else data
    problem = structure_problem(value, limits)
    if problem is not None:
        raise EventValidationError([FieldError(problem[0], problem[1], "limit_exceeded")])
    return value


def validate_object(
    model: type[ModelT], data: bytes | str | dict[str, Any], limits: Limits = DEFAULT_LIMITS
) -> ModelT:
    """Decode (one parser for every path), check the limits, then validate ``model``."""
    value = decode_object(data, limits)
    if not isinstance(value, dict):
        raise EventValidationError([FieldError((), "expected a JSON object", "dict_type")])
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise _from_pydantic(exc) from None


def check_time(at: datetime, name: str, limits: Limits) -> None:
    """Refuse a timestamp outside ``limits``' range, naming the field."""
    problem = limits.time_problem(at)
    if problem is not None:
        raise EventValidationError([FieldError((name,), f"{name} {problem}", "time_range")])


def parse_event(data: bytes | str | dict[str, Any], limits: Limits = DEFAULT_LIMITS) -> Event:
    """Validate one event given as JSON text or a decoded object.

    Raises :class:`EventValidationError` naming each offending field.
    """
    event = validate_object(Event, data, limits)
    check_time(event.occurred_at, "occurred_at", limits)
    return event


def decode_json(data: bytes | bytearray | memoryview | str) -> Any:
    """Decode JSON, turning a syntax error into an :class:`EventValidationError`.

    orjson refuses ``NaN`` and ``Infinity``, numbers beyond a double and nesting
    beyond 1,024 levels; :func:`decode_object` adds the tighter limits.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise EventValidationError(
            [FieldError((), f"invalid JSON: {exc}", "json_invalid")]
        ) from None


def event_to_json(event: Event) -> bytes:
    """Canonical JSON of an (already tokenised) event, as stored."""
    return event.model_dump_json(exclude_none=True).encode()


def body_hash(canonical_json: bytes) -> str:
    """Fingerprint of an event's canonical body, for idempotency checks."""
    return hashlib.blake2b(canonical_json, digest_size=16).hexdigest()


def normalise(
    data: bytes | str | dict[str, Any], tokenizer: Tokenizer, limits: Limits = DEFAULT_LIMITS
) -> Event:
    """Parse, validate and tokenise one event: the whole edge in one call."""
    return tokenizer.tokenize(parse_event(data, limits))
