"""Shared helpers for the rules tests."""

from __future__ import annotations

import builtins
from typing import Any

import pytest

from fengkong.events import Event
from fengkong.rules import Frame, ListSnapshot, Resolver

KNOWN: dict[str, Any] = {
    "user.amount_mean_30d": "any",
    "user.amount_zscore_30d": "any",
    "user.is_new_payee": "bool",
    "user.secs_since_account_change": "any",
    "user.last_account_change": "any",
    "device.accounts_registered_1h": "any",
    "ip.is_datacenter": "bool",
    "device.key": "str",
}


def make_event(**fields: Any) -> Event:
    base: dict[str, Any] = {
        "event_id": "e1",
        "type": "transfer",
        "user_id": "u1",
        "occurred_at": "2026-11-20T09:15:40+08:00",
        "amount": "5000",
    }
    base.update(fields)
    return Event.model_validate(base)


def frame(
    event: Event | None = None,
    features: dict[str, Any] | None = None,
    facts: dict[str, Any] | None = None,
    lists: ListSnapshot | None = None,
    now: float | None = None,
    offset_s: float = 0.0,
) -> Frame:
    return Frame(
        event or make_event(),
        features or {},
        facts or {},
        lists or ListSnapshot(),
        now,
        offset_s,
    )


@pytest.fixture
def resolver() -> Resolver:
    return Resolver(KNOWN)


def spy_on_dynamic_code(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of ``eval``/``exec``/``compile``/``__import__`` as they get called."""
    called: list[str] = []
    for name in ("eval", "exec", "compile", "__import__"):
        real = getattr(builtins, name)

        def spy(*a: Any, _n: str = name, _r: Any = real, **k: Any) -> Any:
            called.append(_n)
            return _r(*a, **k)

        monkeypatch.setattr(builtins, name, spy)
    return called
