"""Late events (older than their entity's newest one) on the memory backend: each goes
into its own bucket while inside the window, is dropped outside it, and never moves a
last-seen value backwards (features/late.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from fengkong.events import Event, parse_event
from fengkong.features import FeatureEngine, default_engine

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC).timestamp()


def _event(n: int, ts: float, **extra: Any) -> Event:
    body: dict[str, Any] = {
        "event_id": f"e{n}",
        "type": "payment",
        "user_id": "u1",
        "amount": str(10 + n % 7),
        "occurred_at": datetime.fromtimestamp(ts, UTC).isoformat(),
        "merchant_id": f"m{n % 3}",
        "ip": f"10.0.{n % 4}.1",
        "device": {"device_id": f"d{n % 5}"},
        "geo": {"lat": 31.2 + (n % 3), "lon": 121.4},
    }
    body.update(extra)
    return parse_event(body)


def _stream(n: int, seed: int) -> list[Event]:
    rng = random.Random(seed)
    ts, events = T0, []
    for i in range(n):
        ts += rng.uniform(1, 900)
        kind = rng.choice(["payment", "payment", "login", "transfer", "account_change"])
        extra: dict[str, Any] = {"type": kind}
        if kind == "account_change":
            extra["operation"] = rng.choice(["change_phone", "change_password"])
        if kind == "transfer":
            extra["counterparty"] = {"account_id": f"a{i % 4}"}
        events.append(_event(i, ts, **extra))
    return events


def _device(event: Event) -> str | None:
    return None if event.device is None else event.device.device_id


def _probe(engine: FeatureEngine, ts: float) -> dict[str, Any]:
    return engine.compute(_event(10_000, ts, type="login"), "d1")


def test_a_late_event_reads_as_if_it_had_come_in_order() -> None:
    """Every default feature of a later event is the same whether some events came
    late (swapped with their successor) or in time order."""
    for seed in range(4):
        events = _stream(120, seed)
        late = list(events)
        rng = random.Random(seed)
        for k in rng.sample(range(len(late) - 1), 30):
            late[k], late[k + 1] = late[k + 1], late[k]
        in_order, shuffled = default_engine(), default_engine()
        for e in events:
            in_order.observe(e, _device(e))
        for e in late:
            shuffled.observe(e, _device(e))
        probe_ts = events[-1].ts + 30
        assert _probe(shuffled, probe_ts) == _probe(in_order, probe_ts), seed


def test_a_late_event_is_counted_in_its_own_bucket() -> None:
    """10 minutes: 60 buckets of 10 s. The late event leaves the window with its own
    bucket, not with the newest one (where earlier versions counted it)."""
    engine = FeatureEngine(["count(event) by user over 10m", "sum(amount) by user over 10m"])
    engine.observe(_event(1, T0 + 500))  # amount 11
    engine.observe(_event(2, T0 + 100))  # late, amount 12
    at = engine.compute(_event(3, T0 + 501, type="login"))
    assert at["user.events_10m"] == 2
    assert at["user.amount_sum_10m"] == 23.0
    # At T0 + 710 the bucket of T0 + 100 has left the 10 minutes; T0 + 500's has not.
    later = engine.compute(_event(4, T0 + 710, type="login"))
    assert later["user.events_10m"] == 2  # e1 and the login e3
    assert later["user.amount_sum_10m"] == 11.0 + 13.0


def test_a_late_event_outside_the_window_is_dropped() -> None:
    engine = FeatureEngine(["count(event) by user over 10m", "distinct(ip) by user over 10m"])
    engine.observe(_event(1, T0 + 3600))
    engine.observe(_event(2, T0, ip="10.9.9.9"))  # an hour older: out of every window
    out = engine.compute(_event(3, T0 + 3601))
    assert out["user.events_10m"] == 1
    assert out["user.distinct_ips_10m"] == 1


def test_a_late_event_never_moves_last_seen_values_backwards() -> None:
    engine = FeatureEngine(
        [
            "last_seen(device) by user over 90d",
            "since(event where type=account_change) by user over 90d as since_change",
            "last(operation where type=account_change) by user over 90d as last_change",
            "profile(travel) by user over 90d",
        ]
    )
    change = {"type": "account_change", "device": {"device_id": "d1"}}
    engine.observe(_event(1, T0 + 500, operation="change_phone", **change), "d1")
    moved = {"operation": "change_password", "geo": {"lat": 0, "lon": 0}}
    engine.observe(_event(2, T0 + 300, **moved, **change), "d1")  # late
    out = engine.compute(_event(3, T0 + 600, type="login"), "d1")
    assert out["user.secs_since_device_seen"] == 100.0
    assert out["user.since_change"] == 100.0
    assert out["user.last_change"] == "change_phone"
    assert out["user.km_from_last"] < 500  # from e1's place, not e2's (0, 0)


def test_late_events_in_a_set_keep_it_in_time_order() -> None:
    """A distinct set past its cap drops the least recently seen value, whichever
    order the values came in."""
    engine = FeatureEngine(["distinct(ip) by user over 24h"], max_distinct=3)
    for n, ts in [(1, 100), (2, 400), (3, 300), (4, 200)]:  # 3 and 4 late
        engine.observe(_event(n, T0 + ts, ip=f"10.1.{n}.1"))
    state = engine.state.table("user")["u1"]
    slot = next(s for s in state[1:] if s is not None)
    assert slot[1::2] == [T0 + 200, T0 + 300, T0 + 400]  # 100 dropped: least recent


def test_in_order_events_never_take_the_late_path() -> None:
    """An in-order stream runs none of the late updates (so its decisions, pinned by
    the golden test, are those of the code before); a stream with late events does."""
    from fengkong.features.late import LATE_HELPERS

    for swapped, expect_calls in ((False, False), (True, True)):
        engine = default_engine()
        calls = [0]
        env = engine.process.__globals__
        for name in LATE_HELPERS:
            if name.endswith("_late"):
                env[name] = _counting(env[name], calls)
        events = _stream(60, 7)
        if swapped:
            events[10], events[11] = events[11], events[10]
        for e in events:
            engine.observe(e)
        assert (calls[0] > 0) is expect_calls


def _counting(f: Any, calls: list[int]) -> Any:
    def counted(*args: Any) -> Any:
        calls[0] += 1
        return f(*args)

    return counted


def test_a_late_transfer_leaves_the_inflow_window_with_its_own_hour() -> None:
    """The flows stage's hourly buckets (graph/inflow_late.py): a transfer older than
    the account's newest bucket is kept in its own hour, so it leaves on time."""
    from fengkong.graph.flows import InflowWindow

    window = InflowWindow(window_s=86_400.0)
    window.add("mule", "a", 100.0, ts=7_200.0)  # hour 2
    window.add("mule", "b", 50.0, ts=10.0)  # late: hour 0
    window.add("mule", "c", 25.0, ts=7_300.0)  # hour 2 again
    assert window.read("mule", ts=8_000.0)[:3] == (175.0, 3, 3)
    # An hour past the window of hour 0, not yet past hour 2's.
    assert window.read("mule", ts=86_400.0 + 3_601.0)[:3] == (125.0, 2, 2)
