"""The filter in front of the idempotency look-up: new ids skip the store, retries do not."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from fengkong.decisions.engine import IdempotencyConflict
from fengkong.decisions.seen import SeenIds
from fengkong.decisions.store import StoredDecision
from fengkong.runtime import build_runtime
from fengkong.settings import Settings


def test_an_added_id_is_always_maybe_and_few_others_are() -> None:
    seen = SeenIds(f"e{i}" for i in range(300_000))  # past the first layers' capacity
    assert all(seen.maybe(f"e{i}") for i in range(300_000))
    false = sum(seen.maybe(f"x{i}") for i in range(50_000))
    assert false < 50_000 * 0.01


def _event(i: int, amount: str = "20.00") -> dict[str, Any]:
    return {
        "event_id": f"s{i}",
        "type": "payment",
        "user_id": "u1",
        "occurred_at": f"2026-11-01T12:{i:02d}:00Z",
        "amount": amount,
        "ip": "203.0.113.7",
    }


def test_stored_ids_are_asked_about_and_new_ones_are_not(settings: Settings) -> None:
    first = build_runtime(settings)
    answers = [first.engine.decide(_event(i)) for i in range(3)]
    first.close()

    rt = build_runtime(settings)  # the filter is built from the stored ids
    asked: list[list[str]] = []
    lookup = rt.store.lookup

    def counting(ids: Sequence[str]) -> dict[str, StoredDecision]:
        asked.append(list(ids))
        return lookup(ids)

    rt.store.lookup = counting  # type: ignore[method-assign]
    try:
        assert rt.engine.decide(_event(1)) == answers[1]  # a retry after the restart
        with pytest.raises(IdempotencyConflict):
            rt.engine.decide(_event(2, amount="99.00"))
        rt.engine.decide(_event(10))
        rt.engine.decide(_event(11))
        assert rt.engine.decide(_event(10))["event_id"] == "s10"  # a retry of this run's
        assert asked == [["s1"], ["s2"], ["s10"]]
    finally:
        rt.close()
