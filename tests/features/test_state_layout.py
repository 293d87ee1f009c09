"""State layout: lazy slots, big last-seen sets, incremental expiry, stage maintenance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fengkong.events import Event
from fengkong.features import FeatureEngine, default_engine
from fengkong.features.slots import SMALL_SEEN
from fengkong.features.stage import FeaturesStage
from tests.features.test_properties import EXTRA, brute, streams
from tests.features.test_restart import canonical

T0 = datetime(2026, 3, 1, tzinfo=UTC).timestamp()


def event(i: int, t: float, **fields: Any) -> Event:
    base: dict[str, Any] = {"event_id": f"e{i}", "type": "login", "user_id": "u1"}
    base.update(fields)
    base["occurred_at"] = datetime.fromtimestamp(T0 + t, UTC)
    return Event.model_validate(base)


def test_slots_are_created_on_first_use_and_dropped_when_empty() -> None:
    engine = FeatureEngine(
        ["count(event where type=register) by user over 1h", "sum(amount) by user over 1h"]
    )
    engine.observe(event(0, 0))
    assert engine.state.table("user")["u1"][1:] == [None, None]  # a login keeps nothing
    engine.observe(event(1, 10, type="payment", amount="2.50"))
    st = engine.state.table("user")["u1"]
    assert st[1] is None and st[2] is not None
    assert engine.expire(T0 + 10 + 2 * 3600) == 1
    assert engine.entity_count() == 0


@st.composite
def crowded(draw: st.DrawFn) -> list[tuple[Event, str | None]]:
    """Many users behind few IPs and merchants: last-seen sets grow past SMALL_SEEN."""
    n = draw(st.integers(SMALL_SEEN, 4 * SMALL_SEEN))
    t = 0.0
    out = []
    for i in range(n):
        t += draw(st.sampled_from([0.0, 30.0, 600.0, 5000.0]))
        user = f"u{draw(st.integers(0, 3 * SMALL_SEEN))}"
        ip = draw(st.sampled_from(["1.2.3.4", "1.2.3.5"]))
        out.append((event(i, t, user_id=user, ip=ip), None))
    return out


CROWDED = (
    "distinct(user) by ip over 2h",
    "new(user) by ip24 over 3h",
    "last_seen(user) by ip over 1h",
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crowded(), st.sampled_from([5, SMALL_SEEN + 3, 1000]))
def test_big_last_seen_sets_equal_brute_force(
    events: list[tuple[Event, str | None]], cap: int
) -> None:
    engine = FeatureEngine(CROWDED, max_distinct=cap)
    for i, (e, dev) in enumerate(events):
        got = engine.compute(e, dev)
        for d in engine.definitions:
            assert [got[n] for n in d.outputs] == brute(d, events, i, cap), (d.text, i)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(max_size=40), st.integers(1, 7))
def test_incremental_expiry_equals_one_sweep(
    events: list[tuple[Event, str | None]], budget: int
) -> None:
    texts = (*EXTRA, "distinct(user) by ip over 30d")
    whole, sliced = FeatureEngine(texts), FeatureEngine(texts)
    for e, dev in events:
        whole.observe(e, dev)
        sliced.observe(e, dev)
    now = events[-1][0].ts + 3 * 86400
    dropped = whole.expire(now)
    total = 0
    for _ in range(sliced.entity_count() // budget + 1):
        total += sliced.expire(now, budget=budget)
    assert total == dropped
    assert canonical(whole) == canonical(sliced)


def test_stage_maintain_expires_state() -> None:
    stage = FeaturesStage(default_engine())
    stage.observe(event(0, 0))
    assert stage.engine.entity_count() == 1
    stage.maintain(T0 + 3600)
    assert stage.engine.entity_count() == 1  # still inside the 90-day windows
    stage.maintain(T0 + 91 * 86400)
    assert stage.engine.entity_count() == 0


def test_last_seen_set_grows_into_a_dict_and_shrinks_back() -> None:
    from collections import OrderedDict

    texts = ("distinct(user) by ip over 1h", "last_seen(user) by ip over 1h")
    engine = FeatureEngine(texts, max_distinct=30)
    events = [(event(i, 60.0 * i, user_id=f"u{i % 40}", ip="1.2.3.4"), None) for i in range(40)] + [
        (event(40 + i, 3 * 3600 + i, user_id=f"u{i}", ip="1.2.3.4"), None) for i in range(3)
    ]
    for i, (e, dev) in enumerate(events):
        got = engine.compute(e, dev)
        for d in engine.definitions:
            assert [got[n] for n in d.outputs] == brute(d, events, i, 30), (d.text, i)
        slot = engine.state.table("ip")["1.2.3.4"][1]
        if i == 39:
            assert isinstance(slot, OrderedDict) and len(slot) == 30  # capped
    assert engine.state.table("ip")["1.2.3.4"][1] == [
        "u0",
        events[40][0].ts,
        "u1",
        events[41][0].ts,
        "u2",
        events[42][0].ts,
    ]  # back to a flat list after expiry
