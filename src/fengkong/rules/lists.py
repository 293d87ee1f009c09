"""Named value lists with expiry, and freezes (the emergency switch).

Both are snapshots in memory, built by a store and swapped whole when it changes, so
that a lookup at decision time is one or two dict probes. Entries are *point in time*:
an entry counts at time ``t`` when ``added_at <= t < expires_at``, which lets a
backtest see the lists as they were when each event happened.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fengkong.rules.schema import EVENT_TYPES

FreezeKind = Literal["user", "device", "ip", "phone", "event_type"]
FREEZE_KINDS: tuple[FreezeKind, ...] = ("user", "device", "ip", "phone", "event_type")
FREEZE_ACTIONS: tuple[str, ...] = (
    "challenge:otp",
    "challenge:biometric",
    "challenge:voice",
    "review",
    "block",
)
LIST_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_VALUE_CHARS = 256


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One value of a named list; ``expires_at`` ``None`` means never."""

    list_name: str
    value: str
    added_at: float
    expires_at: float | None = None
    note: str = ""

    def live_at(self, at: float) -> bool:
        return self.added_at <= at < (math.inf if self.expires_at is None else self.expires_at)

    def as_dict(self) -> dict[str, Any]:
        return {
            "list": self.list_name,
            "value": self.value,
            "added_at": self.added_at,
            "expires_at": self.expires_at,
            "note": self.note,
        }


def check_list_name(name: str) -> str:
    if not LIST_NAME.match(name):
        raise ValueError(f"bad list name {name!r}: 1-64 of letters, digits, _ . : -")
    return name


def check_list_value(value: str) -> str:
    if not value or len(value) > MAX_VALUE_CHARS:
        raise ValueError(f"list values are 1-{MAX_VALUE_CHARS} characters")
    return value


class ListSnapshot:
    """Read-only lists for evaluation: ``contains(name, value, at)``."""

    __slots__ = ("_data",)

    def __init__(self, entries: Iterable[ListEntry] = ()) -> None:
        data: dict[str, dict[str, tuple[float, float]]] = {}
        for e in entries:
            exp = math.inf if e.expires_at is None else e.expires_at
            data.setdefault(e.list_name, {})[e.value] = (e.added_at, exp)
        self._data = data

    def contains(self, name: str, value: str, at: float) -> bool:
        d = self._data.get(name)
        if d is None:
            return False
        span = d.get(value)
        return span is not None and span[0] <= at < span[1]

    def names(self) -> list[str]:
        return sorted(self._data)

    def size(self, name: str) -> int:
        return len(self._data.get(name, {}))


@dataclass(frozen=True, slots=True)
class Freeze:
    """Force ``action`` for every event of an entity (or of an event type) until expiry."""

    kind: FreezeKind
    value: str
    action: str
    reason: str
    created_at: float
    expires_at: float | None = None
    created_by: str = ""

    def live_at(self, at: float) -> bool:
        return self.created_at <= at < (math.inf if self.expires_at is None else self.expires_at)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "value": self.value,
            "action": self.action,
            "reason": self.reason,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "created_by": self.created_by,
        }


def check_freeze(kind: str, value: str, action: str) -> None:
    """Raise ``ValueError`` naming what is wrong with a freeze request."""
    if kind not in FREEZE_KINDS:
        raise ValueError(f"freeze kind must be one of {', '.join(FREEZE_KINDS)}, got {kind!r}")
    if action not in FREEZE_ACTIONS:
        raise ValueError(
            f"freeze action must be one of {', '.join(FREEZE_ACTIONS)}, got {action!r}"
        )
    check_list_value(value)
    if kind == "event_type" and value not in EVENT_TYPES:
        raise ValueError(f"unknown event type {value!r}: one of {', '.join(sorted(EVENT_TYPES))}")


class FreezeTable:
    """Freezes in force, keyed by (kind, value) for constant-time matching per event."""

    __slots__ = ("_by_key",)

    def __init__(self, freezes: Iterable[Freeze] = ()) -> None:
        self._by_key: dict[tuple[str, str], Freeze] = {(f.kind, f.value): f for f in freezes}

    def __bool__(self) -> bool:
        return bool(self._by_key)

    def match(self, event: Any, facts: Mapping[str, Any], at: float) -> list[Freeze]:
        """The freezes that apply to ``event`` at time ``at``."""
        if not self._by_key:
            return []
        keys: list[tuple[str, str]] = [("user", event.user_id), ("event_type", str(event.type))]
        dev = event.device
        if dev is not None and dev.device_id:
            keys.append(("device", dev.device_id))
        dk = facts.get("device.key")
        if isinstance(dk, str) and dk:
            keys.append(("device", dk))
        if event.ip:
            keys.append(("ip", event.ip))
        if event.phone:
            keys.append(("phone", event.phone))
        out = []
        for k in keys:
            f = self._by_key.get(k)
            if f is not None and f.live_at(at) and f not in out:
                out.append(f)
        return out

    def all(self) -> list[Freeze]:
        return list(self._by_key.values())
