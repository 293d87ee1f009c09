"""Windowed distinct counts, hourly levels and base rates of shared entities."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fengkong.events import parse_event
from fengkong.features.baserates import BaseRates, BaseRatesStage, is_mobile_carrier
from fengkong.features.stage import EnrichStage
from fengkong.features.windows import DistinctWindows, HourlyLevel
from fengkong.identity.fingerprints import event_device_id


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 5000)), max_size=80))
def test_distinct_windows_match_brute_force(sightings: list[tuple[int, int]]) -> None:
    sightings.sort(key=lambda s: s[1])
    w = DistinctWindows((600, 3600), throttle_s=0)
    seen: list[tuple[int, str]] = []
    for value, ts in sightings:
        for i, window in enumerate((600, 3600)):
            expected = len({v for t, v in seen if t > ts - window})
            assert w.counts(ts)[i] == expected
        w.see(str(value), ts)
        seen.append((ts, str(value)))


def test_hourly_level_counts_empty_hours() -> None:
    lv = HourlyLevel(half_life_h=1000)
    for h in range(0, 48, 2):  # 10 every other hour: 5 per hour on average
        lv.add(h * 3600.0, 10)
    level = lv.level(48 * 3600.0)
    assert level is not None and 4.5 < level < 5.5
    assert HourlyLevel().level(0.0) is None


def _event(i: int, ts: int, ip: str, etype: str = "login") -> object:
    return parse_event(
        {
            "event_id": f"e{i}",
            "type": etype,
            "user_id": f"u{i % 700}",
            "ip": ip,
            "occurred_at": f"2026-10-01T{ts // 3600:02d}:{ts % 3600 // 60:02d}:{ts % 60:02d}+08:00",
        }
    )


def test_a_carrier_crowd_has_a_low_registration_share_and_a_farm_a_high_one() -> None:
    rates = BaseRates()
    rnd = random.Random(4)
    for i in range(2000):  # a CGNAT /24: 700 users, some of them signing up
        ts = i * 10
        ev = _event(
            i, ts, f"223.104.9.{rnd.randrange(1, 6)}", "register" if i % 100 == 0 else "login"
        )
        rates.see(ev)  # type: ignore[arg-type]
    crowd = rates.read(_event(5000, 20000, "223.104.9.3"))  # type: ignore[arg-type]
    assert crowd["ip24.users_1h"] and crowd["ip24.users_1h"] > 200  # type: ignore[operator]
    assert crowd["ip24.registration_share_1h"] < 0.05  # type: ignore[operator]
    assert crowd["ip.is_mobile_carrier"] is True
    for j in range(8):  # a farm behind its own exit
        rates.see(_event(9000 + j, 20000 + j * 60, "47.92.1.8", "register"))  # type: ignore[arg-type]
    farm = rates.read(_event(9100, 20600, "47.92.1.8", "register"))  # type: ignore[arg-type]
    assert farm["ip.registrations_1h"] == 8 and farm["ip.registration_share_1h"] == 1.0


def test_mobile_carrier_ranges() -> None:
    assert is_mobile_carrier("117.136.0.1") and is_mobile_carrier("2409:8a00::1")
    assert not is_mobile_carrier("123.112.4.20") and not is_mobile_carrier("not an ip")


@pytest.mark.parametrize(
    "device",
    [
        None,
        {"device_id": "a3f1c9e2-77b0-4d11"},  # the app's own id
        {"device_id": "unknown", "fingerprint": {"platform": "ios", "model": "x", "screen": "s"}},
        {"fingerprint": {"platform": "android", "model": "m", "screen": "s", "canvas_hash": "c"}},
    ],
)
def test_the_device_from_enrich_facts_is_the_events_device_id(device: object) -> None:
    body = {
        "event_id": "e1",
        "type": "login",
        "user_id": "u1",
        "occurred_at": "2026-11-20T09:15:40+08:00",
    }
    event = parse_event({**body, "device": device} if device else body)
    stage = BaseRatesStage()
    facts = EnrichStage().facts(event)
    assert stage._device(event, facts) == stage._device(event) == event_device_id(event.device)
