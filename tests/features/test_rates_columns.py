"""Base rates restored from their columns decide exactly as the objects they were."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fengkong.events import Event, parse_event
from fengkong.features.baserates import BaseRates, EntityRates
from fengkong.features.rates_columns import RateColumns

T0 = datetime(2026, 10, 1, tzinfo=UTC)

# (seconds after the previous event, user, ip, registers)
steps = st.lists(
    st.tuples(st.integers(0, 9000), st.integers(0, 6), st.integers(0, 4), st.booleans()),
    min_size=1,
    max_size=60,
)


def _events(plan: list[tuple[int, int, int, bool]], start: datetime, tag: str) -> list[Event]:
    out, at = [], start
    for i, (gap, user, ip, registers) in enumerate(plan):
        at += timedelta(seconds=gap)
        out.append(
            parse_event(
                {
                    "event_id": f"{tag}{i}",
                    "type": "register" if registers else "login",
                    "user_id": f"u{user}",
                    "ip": f"198.51.{ip % 2}.{ip}",
                    "merchant_id": f"m{user % 3}",
                    "occurred_at": at.isoformat(),
                }
            )
        )
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, steps, st.integers(0, 10 * 86_400))
def test_restored_columns_continue_like_the_objects(
    first: list[tuple[int, int, int, bool]], more: list[tuple[int, int, int, bool]], pause: int
) -> None:
    live = BaseRates()
    before = _events(first, T0, "a")
    for e in before:
        live.see(e)
    restored = pickle.loads(pickle.dumps(live))
    assert all(r.entities == {} for r in restored.kinds.values())  # all still packed
    assert {k: len(r) for k, r in restored.kinds.items()} == {
        k: len(r) for k, r in live.kinds.items()
    }
    after = _events(more, before[-1].occurred_at + timedelta(seconds=pause), "b")
    for i, e in enumerate(after):
        assert restored.read(e) == live.read(e)
        restored.see(e)
        live.see(e)
        if i == len(after) // 2:  # saved again with some entities taken out
            restored = pickle.loads(pickle.dumps(restored))
            assert restored.expire(e.ts) == live.expire(e.ts)


def test_a_snapshot_of_objects_still_loads() -> None:
    rates = EntityRates("ip")
    rates.see("198.51.0.1", "u1", 1000.0, registers=True)
    old = {"kind": "ip", "names": rates.names, "entities": rates.entities}
    again = EntityRates.__new__(EntityRates)
    again.__setstate__(old)
    out_old: dict[str, object] = {}
    out_new: dict[str, object] = {}
    again.read("198.51.0.1", 2000.0, out_old)
    rates.read("198.51.0.1", 2000.0, out_new)
    assert out_old == out_new and out_new["ip.registrations_1h"] == 1


def test_columns_that_do_not_fit_are_refused() -> None:
    rates = EntityRates("ip")
    for i in range(3):
        rates.see(f"198.51.0.{i}", f"u{i}", 1000.0 + i, registers=False)
    windows, keys, strings, cols = rates.__getstate__()["columns"].__getstate__()
    with pytest.raises(ValueError, match="outside the strings"):
        RateColumns(windows, keys, strings[:1], cols)
    with pytest.raises(ValueError, match="other lengths"):
        RateColumns(windows, keys[:2], strings, cols)
    cut = {**cols, "q0_off": cols["q0_off"][:-1]}
    with pytest.raises(ValueError, match="q0 do not fit"):
        RateColumns(windows, keys, strings, cut)
