"""Restart: the state rebuilt from the horizon's events, or from a snapshot, is the same."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from fengkong.events import Event
from fengkong.features import FeatureEngine, SnapshotMismatch, default_engine
from tests.features.test_properties import EXTRA, streams


def canonical(engine: FeatureEngine) -> dict[str, Any]:
    """Tables compared as mappings; inside an entity's state, order matters (last-seen)."""

    def plain(x: Any) -> Any:
        if isinstance(x, dict):
            return (type(x).__name__, [(k, plain(v)) for k, v in x.items()])
        if isinstance(x, deque | list | tuple):
            return [plain(v) for v in x]
        return x

    return {
        kind: {key: plain(st) for key, st in engine.state.table(kind).items()}
        for kind in engine.state.kinds()
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(max_size=40))
def test_rebuild_from_horizon_equals_state_before(events: list[tuple[Event, str | None]]) -> None:
    texts = (*EXTRA, "distinct(user) by ip over 30d", "count(event) by device over 90d")
    live = FeatureEngine(texts, max_distinct=3)
    for e, dev in events:
        live.observe(e, dev)
    now = events[-1][0].ts
    rebuilt = FeatureEngine(texts, max_distinct=3)
    horizon = rebuilt.horizon_seconds()
    # What the engine core does on start: replay the stored events of the last horizon.
    rebuilt.observe_all((e, d) for e, d in events if e.ts >= now - horizon)
    live.expire(now)
    rebuilt.expire(now)
    assert canonical(live) == canonical(rebuilt)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(max_size=30), streams(max_size=10))
def test_snapshot_restore_continues_identically(
    first: list[tuple[Event, str | None]], more: list[tuple[Event, str | None]]
) -> None:
    a = default_engine()
    for e, dev in first:
        a.observe(e, dev)
    b = default_engine()
    b.restore(a.snapshot())
    assert canonical(a) == canonical(b)
    shift = first[-1][0].ts - more[0][0].ts + 1  # continue after the snapshot's events
    for e, dev in more:
        later = Event.model_validate(
            {**e.model_dump(), "occurred_at": e.occurred_at + timedelta(seconds=shift)}
        )
        assert a.compute(later, dev) == b.compute(later, dev)


def test_snapshot_of_other_definitions_is_refused() -> None:
    a = FeatureEngine(["count(event) by user over 1h"])
    b = FeatureEngine(["count(event) by user over 2h"])
    with pytest.raises(SnapshotMismatch):
        b.restore(a.snapshot())
    with pytest.raises(SnapshotMismatch):
        b.restore(b"not a snapshot")


def test_expire_bounds_memory() -> None:
    engine = FeatureEngine(["count(event) by user over 1h", "distinct(ip) by user over 1h"])
    t0 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    for i in range(500):
        e = Event.model_validate(
            {
                "event_id": f"e{i}",
                "type": "login",
                "user_id": f"u{i}",
                "ip": "1.2.3.4",
                "occurred_at": datetime.fromtimestamp(t0 + i, UTC),
            }
        )
        engine.observe(e)
    assert engine.entity_count() == 500
    assert engine.expire(t0 + 499 + 1800) == 0  # all still inside the hour
    assert engine.expire(t0 + 499 + 7200) == 500
    assert engine.entity_count() == 0
