"""Point-in-time training sets, no label leakage, train -> save -> load -> same scores."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np

from fengkong.events import Event, Label, parse_label
from fengkong.models import (
    PAYMENT_FEATURES,
    FeatureSet,
    LabelRiskSpec,
    TrainConfig,
    build_rows,
    targets,
    train_model,
)
from fengkong.models.model import Model

from .conftest import T0

FS = FeatureSet(PAYMENT_FEATURES, LabelRiskSpec(windows_days=(1, 3), delay_days=2))


def test_future_label_is_not_used(stream: tuple[list[Event], list[Label]]) -> None:
    events, labels = stream
    events = events[:2500]
    victim = events[100]
    # Plant a fraud label on an early event that only becomes known far in the future.
    planted = parse_label(
        {
            "event_id": victim.event_id,
            "label": "fraud",
            "source": "analyst",
            "at": (T0 + timedelta(days=300)).isoformat(),
        }
    )
    honest = [lb for lb in labels if lb.event_id != victim.event_id]
    base = build_rows(events, honest, FS)
    leak = build_rows(events, [*honest, planted], FS)
    # Not one feature of any event changes: the label is not known at any event's time.
    assert np.array_equal(base.x, leak.x, equal_nan=True)
    # It is not a training target either when training happens before it is known ...
    i = base.event_ids.index(victim.event_id)
    assert targets(leak, [*honest, planted], as_of=events[-1].ts)[i] == 0
    # ... and it is one once known (so the test above can fail).
    assert targets(leak, [*honest, planted], as_of=None)[i] == 1


def test_known_label_is_used_after_its_time(stream: tuple[list[Event], list[Label]]) -> None:
    events, _ = stream
    events = events[:3000]
    victim = events[50]
    known_at = T0 + timedelta(days=2, hours=12)
    lab = parse_label(
        {
            "event_id": victim.event_id,
            "label": "fraud",
            "source": "analyst",
            "at": known_at.isoformat(),
        }
    )
    rows = build_rows(events, [lab], FS)
    col = rows.names.index("merchant.known_frauds_3d")
    same = np.array([e.merchant_id == victim.merchant_id for e in events])
    before = same & (rows.ts < known_at.timestamp())
    after = same & (rows.ts >= known_at.timestamp()) & (rows.ts < victim.ts + 4 * 86400)
    assert np.nansum(rows.x[before, col]) == 0
    assert after.any() and np.all(rows.x[after, col] == 1)


def _trained(stream: tuple[list[Event], list[Label]]) -> tuple[Model, np.ndarray]:
    events, labels = stream
    rows = build_rows(events, labels, FS, start=(T0 + timedelta(days=3)).timestamp())
    cfg = TrainConfig(
        start=(T0 + timedelta(days=3)).timestamp(),
        train_days=6,
        valid_days=2,
        gap_days=2,
        test_days=4,
        label_delay_days=2,
        rounds=60,
        early_stopping=20,
        num_threads=1,
        anomaly_trees=10,
    )
    res = train_model(rows, labels, FS, cfg)
    assert res.test_rows is not None
    keep = [res.test_rows.names.index(n) for n in res.model.features]
    return res.model, res.test_rows.x[:, keep]


def test_round_trip_and_compiled_scores(
    stream: tuple[list[Event], list[Label]], tmp_path: Path
) -> None:
    model, x = _trained(stream)
    assert model.meta["metrics"]["test"]["auroc"] > 0.8  # learnt the planted fraud
    model.save(tmp_path / "m")
    loaded = Model.load(tmp_path / "m")
    assert loaded.features == model.features and loaded.platt == model.platt
    assert np.array_equal(loaded.predict(x), model.predict(x))
    for row in x[:200]:
        r = list(map(float, row))
        a, b = model.score_vector(r), loaded.score_vector(r)
        assert (a.score, a.anomaly, a.reasons) == (b.score, b.anomaly, b.reasons)
    # The compiled path equals LightGBM's batch path.
    compiled = np.array([model.score_vector(list(map(float, r)), 0).score for r in x[:300]])
    assert np.allclose(compiled, model.predict(x[:300]), rtol=0, atol=1e-12)
