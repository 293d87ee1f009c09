"""What a rule can read: event paths (typed, from the wire format) and feature/fact names.

Every name in an expression is resolved here once, at compile time, to a small getter
closure over the evaluation :class:`Frame`; the getter walks a fixed, whitelisted path
(never an arbitrary attribute), and gives ``None`` for anything missing.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args

from fengkong.events import EventType
from fengkong.events.fields import EventLike
from fengkong.events.models import DocumentKind, Entry, Operation, Platform

Type = Literal["num", "str", "bool", "any", "list", "null"]
Getter = Callable[["Frame"], Any]


class ListLookup(Protocol):
    """Named lists of values (block/allow lists) with expiry."""

    def contains(self, name: str, value: str, at: float) -> bool: ...


class _NoLists:
    def contains(self, name: str, value: str, at: float) -> bool:
        return False


NO_LISTS: ListLookup = _NoLists()


class Frame:
    """What one evaluation sees: the event, feature/fact values, lists and the time.

    ``now`` is the time lists are checked at (server time online, the event's time in a
    backtest); ``amount`` is the event amount as a float, converted once per event.
    ``ev`` is the event or (in the pipeline) its :class:`~fengkong.events.fields.EventFields`.
    """

    __slots__ = ("amount", "ev", "facts", "feat", "lists", "now", "offset_s")

    def __init__(
        self,
        ev: EventLike,
        features: Mapping[str, Any],
        facts: Mapping[str, Any],
        lists: ListLookup = NO_LISTS,
        now: float | None = None,
        offset_s: float = 0.0,
    ) -> None:
        self.ev = ev
        self.feat = features
        self.facts = facts
        self.lists = lists
        # ``Event.ts`` is a pydantic private attribute (slow to read): avoid it here.
        self.now = ev.occurred_at.timestamp() if now is None else now
        self.offset_s = offset_s
        amount = ev.amount
        self.amount = None if amount is None else float(amount)


@dataclass(frozen=True, slots=True)
class NameInfo:
    """A resolved name: where it comes from, its static type, allowed values, getter."""

    path: str
    source: Literal["event", "feature"]
    type: Type
    getter: Getter
    enum: frozenset[str] | None = None


def _enum(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


EVENT_TYPES: frozenset[str] = _enum(t.value for t in EventType)
_ENUMS: dict[str, frozenset[str]] = {
    "type": EVENT_TYPES,
    "operation": _enum(get_args(Operation)),
    "context.entry": _enum(get_args(Entry)),
    "device.fingerprint.platform": _enum(get_args(Platform)),
    "document.kind": _enum(get_args(DocumentKind)),
}

# (path, type): the typed part of the wire format v1 a rule may read.
_EVENT_FIELDS: dict[str, Type] = {
    "event_id": "str",
    "type": "str",
    "user_id": "str",
    "session_id": "str",
    "ip": "str",
    "phone": "str",
    "id_number": "str",
    "bank_card": "str",
    "amount": "num",
    "currency": "str",
    "merchant_id": "str",
    "operation": "str",
    "device.device_id": "str",
    "geo.lat": "num",
    "geo.lon": "num",
    "geo.accuracy_m": "num",
    "counterparty.account_id": "str",
    "counterparty.bank_card": "str",
    "counterparty.name": "str",
    "context.in_call": "bool",
    "context.caller_in_contacts": "bool",
    "context.screen_sharing": "bool",
    "context.remote_control_app": "bool",
    "context.entry": "str",
    "qr.payload": "str",
    "document.kind": "str",
    "voice.claimed_user_id": "str",
}
for _fp in (
    "platform",
    "os_version",
    "model",
    "user_agent",
    "screen",
    "timezone",
    "language",
    "canvas_hash",
    "webgl_hash",
    "fonts_hash",
):
    _EVENT_FIELDS[f"device.fingerprint.{_fp}"] = "str"
_EVENT_FIELDS["device.fingerprint.is_emulator"] = "bool"
_EVENT_FIELDS["device.fingerprint.is_rooted"] = "bool"

# Free-form objects: any key below these prefixes may be read (value type unknown).
OPEN_PREFIXES: tuple[str, ...] = ("attributes.", "device.fingerprint.build_props.")

EVENT_PATHS: frozenset[str] = frozenset(_EVENT_FIELDS)


def _top(attr: str) -> Getter:
    def get(f: Frame) -> Any:
        return getattr(f.ev, attr)

    return get


def _nested(outer: str, attr: str) -> Getter:
    def get(f: Frame) -> Any:
        o = getattr(f.ev, outer)
        return None if o is None else getattr(o, attr)

    return get


def _fingerprint(attr: str) -> Getter:
    def get(f: Frame) -> Any:
        d = f.ev.device
        if d is None or d.fingerprint is None:
            return None
        return getattr(d.fingerprint, attr)

    return get


def _dict_walk(root: Getter, keys: tuple[str, ...]) -> Getter:
    def get(f: Frame) -> Any:
        v = root(f)
        for k in keys:
            if not isinstance(v, dict):
                return None
            v = v.get(k)
        return v

    return get


def _amount(f: Frame) -> Any:
    return f.amount


def _event_type(f: Frame) -> Any:
    return f.ev.type  # a StrEnum: equal to, and hashing like, its string value


def _event_getter(path: str) -> Getter:
    if path == "amount":
        return _amount
    if path == "type":
        return _event_type
    parts = path.split(".")
    if len(parts) == 1:
        return _top(path)
    if parts[0] == "device" and parts[1] == "fingerprint":
        return _fingerprint(parts[2])
    return _nested(parts[0], parts[1])


def _feature_getter(name: str) -> Getter:
    # Features first, then facts; a name lives in one of the two in practice.
    def get(f: Frame) -> Any:
        v = f.feat.get(name)
        return f.facts.get(name) if v is None else v

    return get


class UnknownName(ValueError):
    """A name that is neither an event path nor a known feature or fact."""

    def __init__(self, path: str, suggestions: list[str]) -> None:
        self.path = path
        self.suggestions = suggestions
        hint = f"; did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(f"unknown name {path!r}{hint}")


class Resolver:
    """Resolves names against the event schema and the known feature/fact names.

    ``known`` maps feature/fact names to a static type (``"num"``, ``"bool"``, ``"str"``)
    or ``"any"``; a plain set of names means all ``"any"``.
    """

    def __init__(self, known: Mapping[str, Type] | Iterable[str] = ()) -> None:
        if isinstance(known, Mapping):
            self.known: dict[str, Type] = dict(known)
        else:
            self.known = dict.fromkeys(known, "any")
        self._cache: dict[str, NameInfo] = {}

    def resolve(self, path: str) -> NameInfo:
        info = self._cache.get(path)
        if info is None:
            info = self._resolve(path)
            self._cache[path] = info
        return info

    def _resolve(self, path: str) -> NameInfo:
        if path in _EVENT_FIELDS:
            return NameInfo(
                path, "event", _EVENT_FIELDS[path], _event_getter(path), _ENUMS.get(path)
            )
        for prefix in OPEN_PREFIXES:
            if path.startswith(prefix) and len(path) > len(prefix):
                keys = tuple(path[len(prefix) :].split("."))
                root = (
                    _top("attributes") if prefix == "attributes." else _fingerprint("build_props")
                )
                return NameInfo(path, "event", "any", _dict_walk(root, keys))
        if path in self.known:
            return NameInfo(path, "feature", self.known[path], _feature_getter(path))
        raise UnknownName(path, self.suggest(path))

    def suggest(self, path: str) -> list[str]:
        pool = [*EVENT_PATHS, *self.known]
        return difflib.get_close_matches(path, pool, n=3, cutoff=0.6)


def suggest_value(value: str, allowed: Iterable[str]) -> list[str]:
    """Closest allowed values for an enum typo (``"tranfer"`` → ``"transfer"``)."""
    return difflib.get_close_matches(value, sorted(allowed), n=3, cutoff=0.5)
