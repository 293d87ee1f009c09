"""Every feature equals a brute-force recomputation from the raw events before it.

The brute force below is written from the documented semantics (docs/features.md,
"Windows"), not from the accumulators: event j is in the window of event i when
``t_j // w > t_i // w - n`` for the definition's bucket width ``w`` and count ``n``.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fengkong.events import Event
from fengkong.features import DEFAULT_FEATURES, FeatureDef, FeatureEngine, parse_feature
from fengkong.features.accumulators import cell_centre, cell_of, haversine_km

EXTRA = (
    "min(amount where type=transfer) by user over 2h",
    "count(event where operation in (change_phone, close_credit_line)) by user over 30m",
    "distinct(merchant) by user over 6h",
    "last_seen(ip24) by user over 3d",
    "new(phone) by device over 7d",
    "first_seen(device) over 10m",
    "since(event where type=login) by ip over 2h",
    "last(type) by cp_card over 1h",
    "sum(amount) by bank_card over 45m",
    "distinct(cp_card) by id_number over 12h",
)
T0 = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
PLACES = [(39.9042, 116.4074), (31.2304, 121.4737), (39.95, 116.45), (22.5431, 114.0579)]
IPS = ["223.104.3.17", "223.104.3.99", "117.136.0.5", "2408:8456:3a1:5e::7", "2408:8456:3a1:5e::9"]
MONEY = {"payment", "credit_draw", "transfer", "withdrawal"}
OPS = ["close_credit_line", "change_phone", "add_payee", "other"]
TYPES = ["register", "login", "payment", "transfer", "withdrawal", "credit_draw", "account_change"]


def maybe(values: list[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.sampled_from(values))


@st.composite
def streams(draw: st.DrawFn, max_size: int = 40) -> list[tuple[Event, str | None]]:
    """Time-ordered events over few entities, with gaps from 0 s to weeks."""
    n = draw(st.integers(1, max_size))
    t = T0 + draw(st.integers(0, 86400))
    out = []
    for i in range(n):
        t += draw(
            st.one_of(st.integers(0, 120), st.integers(0, 7200), st.integers(0, 20 * 86400)).map(
                float
            )
        )
        typ = draw(st.sampled_from(TYPES))
        ev: dict[str, Any] = {
            "event_id": f"e{i}",
            "type": typ,
            "occurred_at": datetime.fromtimestamp(t, UTC),
            "user_id": draw(st.sampled_from(["u1", "u2", "u3"])),
            "ip": draw(maybe(IPS)),
            "phone": draw(maybe(["p1", "p2"])),
            "id_number": draw(maybe(["i1", "i2"])),
            "bank_card": draw(maybe(["b1", "b2"])),
            "merchant_id": draw(maybe(["m1", "m2", "m3"])),
        }
        if draw(st.booleans()):
            lat, lon = draw(st.sampled_from(PLACES))
            ev["geo"] = {"lat": lat, "lon": lon}
        if typ in MONEY:
            ev["amount"] = draw(st.integers(0, 500_000)) / 100
        if typ == "account_change":
            ev["operation"] = draw(st.sampled_from(OPS))
        if typ == "transfer" and draw(st.booleans()):
            ev["counterparty"] = {
                "account_id": draw(maybe(["a1", "a2"])),
                "bank_card": draw(maybe(["c1", "c2"])),
            }
        device = draw(maybe(["d1", "d2", "d3"]))
        out.append((Event.model_validate(ev), device))
    return out


def key(e: Event, dev: str | None, name: str) -> Any:
    cp = e.counterparty
    if name == "user":
        return e.user_id
    if name == "device":
        return dev
    if name == "ip":
        return e.ip
    if name == "ip24":
        if e.ip is None:
            return None
        bits = 24 if ipaddress.ip_address(e.ip).version == 4 else 64
        return str(ipaddress.ip_network(f"{e.ip}/{bits}", strict=False))
    if name == "merchant":
        return e.merchant_id
    if name == "cp_account":
        return None if cp is None else cp.account_id
    if name == "cp_card":
        return None if cp is None else cp.bank_card
    if name == "payee":
        if cp is None:
            return None
        return f"a:{cp.account_id}" if cp.account_id else (cp.bank_card and f"c:{cp.bank_card}")
    if name == "type":
        return e.type.value
    if name == "event":
        return "event"
    if name == "cell":
        return None if e.geo is None else cell_of(e.geo.lat, e.geo.lon)
    return getattr(e, name)


def cents(e: Event) -> int | None:
    return e.amount_cents


def brute(d: FeatureDef, events: list[tuple[Event, str | None]], i: int, cap: int) -> list[Any]:
    """The values of definition ``d`` for event ``i``, from events ``0..i-1``."""
    e, dev = events[i]
    me = key(e, dev, d.entity)
    if me is None:
        return [None] * len(d.outputs)
    w, n = d.bucket_s, d.n_buckets
    cur = e.ts // w

    def ok(ej: Event) -> bool:
        if d.types is not None and ej.type.value not in d.types:
            return False
        return d.operations is None or ej.operation in d.operations

    prior = [
        (ej, dj) for ej, dj in events[:i] if key(ej, dj, d.entity) == me and ej.ts // w > cur - n
    ]
    if d.agg == "profile":
        return brute_profile(d, e, prior)
    prior = [(ej, dj) for ej, dj in prior if ok(ej)]
    if d.agg == "count":
        return [len(prior)]
    amounts = [c for ej, _ in prior if (c := cents(ej)) is not None]
    if d.agg == "percentile":
        past = sorted(amounts[-200:])
        x = cents(e)
        if x is None or len(past) < 5:
            return [None]
        below = sum(1 for a in past if a < x)
        ties = sum(1 for a in past if a == x)
        return [100.0 * (below + ties / 2) / len(past)]
    if d.agg in ("sum", "mean", "std", "max", "min", "zscore"):
        cnt, s, ss = len(amounts), sum(amounts), sum(a * a for a in amounts)
        if not cnt:
            return [0.0 if d.agg == "sum" else None]
        std_c = math.sqrt(cnt * ss - s * s) / cnt
        x = cents(e)
        z_ok = x is not None and cnt >= 3 and std_c > 0
        return [
            {
                "sum": s / 100,
                "mean": s / cnt / 100,
                "std": std_c / 100,
                "max": max(amounts) / 100,
                "min": min(amounts) / 100,
                "zscore": (x - s / cnt) / std_c if z_ok else None,  # type: ignore[operator]
            }[d.agg]
        ]
    values = [(ej.ts, v) for ej, dj in prior if (v := key(ej, dj, d.field)) is not None]
    v = key(e, dev, d.field)
    if d.agg == "distinct":
        return [min(len({x for _, x in values}), cap)]
    # new / last_seen remember the `cap` most recently seen values (documented bound).
    recent: dict[Any, float] = {}
    for t, x in values:
        recent.pop(x, None)
        recent[x] = t
    remembered = dict(list(recent.items())[-cap:])
    if d.agg == "new":
        return [None if v is None or not values else v not in remembered]
    if d.agg == "last_seen":
        return [None if v not in remembered else e.ts - remembered[v]]
    if d.agg == "first_seen":
        return [e.ts - prior[0][0].ts if prior else None]
    if d.agg == "since":
        return [e.ts - prior[-1][0].ts if prior else None]
    assert d.agg == "last"
    return [values[-1][1] if values else None]


def brute_profile(d: FeatureDef, e: Event, prior: list[tuple[Event, str | None]]) -> list[Any]:
    if d.field == "hours":
        hours = [int((ej.ts + 8 * 3600) // 3600) % 24 for ej, _ in prior]
        if len(hours) < 10:
            return [None, None]
        h = int((e.ts + 8 * 3600) // 3600) % 24
        share = sum(1 for x in hours if x in ((h - 1) % 24, h, (h + 1) % 24)) / len(hours)
        return [share, share < 0.05]
    located = [ej for ej, _ in prior if ej.geo is not None]
    if e.geo is None or not located:
        return [None] * len(d.outputs)
    if d.field == "places":
        cells: list[int] = []
        for ej in located:  # the 16 most recently seen cells
            assert ej.geo is not None
            c = cell_of(ej.geo.lat, ej.geo.lon)
            if c in cells:
                cells.remove(c)
            cells.append(c)
        km = min(haversine_km(e.geo.lat, e.geo.lon, *cell_centre(c)) for c in cells[-16:])
        return [km, km > 50]
    last = located[-1]
    assert last.geo is not None
    km = haversine_km(last.geo.lat, last.geo.lon, e.geo.lat, e.geo.lon)
    kmh = km * 3600 / max(e.ts - last.ts, 60.0)
    return [km, kmh, kmh > 900 and km > 100]


def check(texts: tuple[str, ...], events: list[tuple[Event, str | None]], cap: int) -> None:
    engine = FeatureEngine(texts, max_distinct=cap)
    defs = [parse_feature(t) for t in texts]
    for i, (e, dev) in enumerate(events):
        got = engine.compute(e, dev)
        for d in defs:
            want = brute(d, events, i, cap)
            have = [got[name] for name in d.outputs]
            assert have == want, (d.text, i, have, want)


SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(streams())
def test_default_features_equal_brute_force(events: list[tuple[Event, str | None]]) -> None:
    check(DEFAULT_FEATURES, events, cap=1000)


@SETTINGS
@given(streams())
def test_more_definitions_and_saturating_distinct(events: list[tuple[Event, str | None]]) -> None:
    check(EXTRA + DEFAULT_FEATURES[:3] + ("distinct(user) by ip over 30d",), events, cap=2)
