"""value(...) / category(...) of event fields and windowed aggregates over attributes."""

from __future__ import annotations

import math
import random
import statistics
from datetime import UTC, datetime
from typing import Any

import pytest

from fengkong.events import Event, parse_event
from fengkong.features import FeatureEngine, FeatureSpecError, parse_feature

T0 = 1_790_000_000.0


def _event(i: int, user: str, ts: float, attributes: dict[str, Any] | None, **more: Any) -> Event:
    body: dict[str, Any] = {
        "event_id": f"e{i}",
        "type": "payment",
        "user_id": user,
        "amount": "10.00",
        "occurred_at": datetime.fromtimestamp(ts, UTC).isoformat(),
        **more,
    }
    if attributes is not None:
        body["attributes"] = attributes
    return parse_event(body)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("value(attributes.V1)", "attr.V1"),
        ("category(attributes.channel)", "attr.channel"),
        ("value(attributes.score) as bureau", "attr.bureau"),
        ("value(amount)", "event.amount"),
        ("value(geo.lat)", "event.geo_lat"),
        ("value(device.fingerprint.is_rooted)", "event.is_rooted"),
        ("category(type)", "event.type"),
        ("mean(attributes.V1) by user over 7d", "user.attr_V1_mean_7d"),
        ("percentile(attributes.x) by merchant over 30d", "merchant.attr_x_percentile_30d"),
        (
            "sum(attributes.points where type=payment) by user over 1d",
            "user.attr_points_sum_payment_24h",
        ),
    ],
)
def test_names(text: str, name: str) -> None:
    assert parse_feature(text).name == name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("value(attributes.V1) by user over 1h", "reads the event itself"),
        ("value(phone)", "takes attributes.NAME or one of"),
        ("category(amount)", "takes attributes.NAME or one of"),
        ("mean(attributes.) by user over 1h", "cannot parse"),
        ("distinct(attributes.V1) by user over 1h", "unknown field"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(FeatureSpecError, match=message):
        parse_feature(text)


def test_values_are_null_safe_and_typed() -> None:
    engine = FeatureEngine(
        ["value(attributes.x)", "category(attributes.c)", "value(amount)", "category(type)"]
    )
    cases: list[tuple[dict[str, Any] | None, Any, Any]] = [
        ({"x": 1.5, "c": "gold"}, 1.5, "gold"),
        ({"x": "2.5", "c": 3}, 2.5, "3"),
        ({"x": True, "c": 3.0}, 1.0, "3"),
        ({"x": "n/a", "c": ""}, None, None),
        ({"x": None, "c": None}, None, None),
        ({"x": {"nested": 1}, "c": ["a"]}, None, None),
        ({}, None, None),
        (None, None, None),
    ]
    for i, (attrs, x, c) in enumerate(cases):
        out = engine.compute(_event(i, "u", T0 + i, attrs))
        assert out == {"attr.x": x, "attr.c": c, "event.amount": 10.0, "event.type": "payment"}
    assert engine.categorical_names() == ["attr.c", "event.type"]
    assert engine.entity_count() == 0  # no state kept for pass-through fields


def test_nan_and_infinity_are_unknown() -> None:
    engine = FeatureEngine(["value(attributes.x)", "mean(attributes.x) by user over 1h"])
    for i, v in enumerate([float("nan"), float("inf"), 4.0]):
        out = engine.compute(_event(i, "u", T0 + i, {"x": v}))
        assert out["attr.x"] == (None if i < 2 else 4.0)
    assert engine.compute(_event(9, "u", T0 + 9, {"x": 1.0}))["user.attr_x_mean_1h"] == 4.0


def test_windowed_attribute_aggregates_equal_brute_force() -> None:
    """Point in time: each value from the events strictly before, inside the window."""
    rng = random.Random(3)
    defs = [
        "mean(attributes.v) by user over 1h",
        "std(attributes.v) by user over 1h",
        "max(attributes.v) by user over 1h",
        "min(attributes.v) by user over 1h",
        "sum(attributes.v) by user over 1h",
    ]
    engine = FeatureEngine(defs)
    width = parse_feature(defs[0]).bucket_s
    past: list[tuple[float, float | None]] = []
    ts = T0
    for i in range(400):
        ts += rng.expovariate(1 / 90)
        v = None if rng.random() < 0.2 else round(rng.gauss(5, 3), 3)
        out = engine.compute(_event(i, "u", ts, {"v": v}))
        cur = int(ts // width)
        inside = [x for t, x in past if x is not None and int(t // width) > cur - 3600 // width]
        if not inside:
            assert out["user.attr_v_mean_1h"] is None and out["user.attr_v_sum_1h"] == 0.0
        else:
            assert out["user.attr_v_sum_1h"] == pytest.approx(sum(inside), abs=1e-6)
            assert out["user.attr_v_mean_1h"] == pytest.approx(statistics.fmean(inside))
            assert out["user.attr_v_std_1h"] == pytest.approx(statistics.pstdev(inside), abs=1e-6)
            assert out["user.attr_v_max_1h"] == max(inside)
            assert out["user.attr_v_min_1h"] == min(inside)
        past.append((ts, v))


def test_constant_attribute_has_no_zscore() -> None:
    engine = FeatureEngine(["zscore(attributes.v) by user over 1h"])
    outs = [engine.compute(_event(i, "u", T0 + i, {"v": 0.1})) for i in range(10)]
    assert all(o["user.attr_v_zscore_1h"] is None for o in outs)
    assert not any(isinstance(o["user.attr_v_zscore_1h"], float) for o in outs)
    assert math.isfinite(
        engine.compute(_event(11, "u", T0 + 11, {"v": 5.0}))["user.attr_v_zscore_1h"] or 0.0
    )


def test_snapshot_keeps_attribute_state() -> None:
    defs = ["mean(attributes.v) by user over 1h", "value(attributes.v)"]
    a = FeatureEngine(defs)
    for i in range(5):
        a.observe(_event(i, "u", T0 + i, {"v": float(i)}))
    b = FeatureEngine(defs)
    b.restore(a.snapshot())
    e = _event(9, "u", T0 + 9, {"v": 1.0})
    assert a.compute(e) == b.compute(e) == {"user.attr_v_mean_1h": 2.0, "attr.v": 1.0}


def test_default_step_reads_no_attributes() -> None:
    """The default set's compiled step is unchanged: no attribute loads on the hot path."""
    step = FeatureEngine().process.__doc__ or ""
    assert "attrs" not in step and "num(" not in step


def test_merge_keeps_the_models_words_for_the_same_meaning() -> None:
    from fengkong.features.spec import merge_definitions

    base = ["sum(amount) by user over 24h", "count(event) by user over 10m"]
    more = ["sum(amount) by user over 1d", "value(attributes.x)", "count(event) by user over 10m"]
    merged = merge_definitions(base, more)
    assert merged == [
        "sum(amount) by user over 1d",
        "count(event) by user over 10m",
        "value(attributes.x)",
    ]
    FeatureEngine(merged)  # one definition per name
