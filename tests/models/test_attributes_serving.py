"""A model on app-supplied attributes: CLI training -> champion -> HTTP scores = offline."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from tests.keys import AUTH

from fengkong.api.app import create_app
from fengkong.cli.main import main
from fengkong.models.dataset import build_rows, read_events, read_labels
from fengkong.models.registry import Registry
from fengkong.settings import Settings
from fengkong.storage.models_sqlite import SQLiteModelStore

T0 = 1_767_225_600


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


FEATURES = """\
# the app's own columns
value(attributes.x1)
value(attributes.x2)
category(attributes.tier)
mean(attributes.x1) by user over 7d
value(amount)
"""


def _write(tmp: Path, n: int = 900, seed: int = 1) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(seed)
    tiers = ["gold", "silver", "bronze", "new"]
    risk = {"gold": -1.5, "silver": -0.5, "bronze": 0.5, "new": 1.5}
    events, labels = [], []
    for i in range(n):
        tier = tiers[int(rng.integers(4))]
        x1 = float(rng.normal())
        attrs: dict[str, Any] = {"x1": round(x1, 4), "x2": str(round(float(rng.normal()), 3))}
        if rng.random() > 0.05:
            attrs["tier"] = tier  # sometimes absent: unknown
        at = _iso(T0 + 600 * i)
        events.append(
            {
                "event_id": f"e{i}",
                "type": "credit_draw",
                "user_id": f"u{int(rng.integers(300))}",
                "amount": f"{float(rng.gamma(2, 500)):.2f}",
                "occurred_at": at,
                "attributes": attrs,
            }
        )
        if rng.random() < 1 / (1 + np.exp(-(2.0 * x1 + risk[tier] - 2.0))):
            labels.append({"event_id": f"e{i}", "label": "fraud", "source": "analyst", "at": at})
    ev, lab, feat = tmp / "events.jsonl", tmp / "labels.jsonl", tmp / "features.txt"
    ev.write_text("".join(json.dumps(e) + "\n" for e in events))
    lab.write_text("".join(json.dumps(lb) + "\n" for lb in labels))
    feat.write_text(FEATURES)
    return ev, lab, feat


def test_trained_on_attributes_served_over_http_with_offline_scores(
    settings: Settings, tmp_path: Path
) -> None:
    ev, lab, feat = _write(tmp_path)
    args = ["models", "train", "--db", str(settings.db_path), "--events", str(ev)]
    args += ["--labels", str(lab), "--features", str(feat), "--champion", "--threads", "1"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "trees kept:" in r.output and "registered version 1 (champion)" in r.output

    model = Registry(SQLiteModelStore(settings.db_path)).load_role("champion")
    assert model is not None
    assert {"attr.x1", "attr.x2", "attr.tier", "user.attr_x1_mean_7d"} <= set(model.features)
    assert model.categories["attr.tier"]  # fed to LightGBM as a categorical input
    # Offline: the champion over point-in-time rows of the same events.
    rows = build_rows(read_events(ev), read_labels(lab), model.feature_set)
    offline = model.predict(model.matrix(rows))

    settings.max_batch = 100
    bodies = [json.loads(line) for line in ev.read_text().splitlines()]
    served: list[float] = []
    with TestClient(create_app(settings), headers=AUTH) as client:
        for k in range(0, len(bodies), 100):
            resp = client.post("/v1/events/batch", json=bodies[k : k + 100])
            assert resp.status_code == 200, resp.text
            for d in resp.json():
                assert d["versions"]["model"] == model.version
                served.append(d["score"])
    assert len(served) == len(offline)
    # The served score is the model's calibrated probability (rounded on the wire).
    assert np.allclose(served, offline, rtol=0, atol=1e-6)
    assert len(set(np.round(offline, 6))) > 50  # not a constant


def test_unseen_category_and_missing_attributes_score(settings: Settings, tmp_path: Path) -> None:
    ev, lab, feat = _write(tmp_path, n=700, seed=2)
    args = ["models", "train", "--db", str(settings.db_path), "--events", str(ev)]
    args += ["--labels", str(lab), "--features", str(feat), "--champion", "--threads", "1"]
    assert CliRunner().invoke(main, args).exit_code == 0
    model = Registry(SQLiteModelStore(settings.db_path)).load_role("champion")
    assert model is not None
    with TestClient(create_app(settings), headers=AUTH) as client:
        for i, attrs in enumerate([{"tier": "platinum", "x1": 0.1}, {}, None]):
            body: dict[str, Any] = {
                "event_id": f"n{i}",
                "type": "credit_draw",
                "user_id": "fresh",
                "amount": "100",
                "occurred_at": _iso(T0 + 10**6 + i),
            }
            if attrs is not None:
                body["attributes"] = attrs
            resp = client.post("/v1/events", json=body)
            assert resp.status_code == 200, resp.text
            assert 0.0 < resp.json()["score"] < 1.0
    # An unseen category reads as unknown, exactly like an absent one.
    a = model.vector({"attr.tier": "platinum", "attr.x1": 0.1})
    b = model.vector({"attr.x1": 0.1})
    assert np.array_equal(a, b, equal_nan=True)


def test_reasons_name_the_category() -> None:
    import lightgbm as lgb

    from fengkong.models.dataset import FeatureSet
    from fengkong.models.model import Model, build_meta

    rng = np.random.default_rng(0)
    cat = rng.integers(0, 3, 2000).astype(float)
    y = (rng.random(2000) < np.where(cat == 2, 0.6, 0.05)).astype(int)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1},
        lgb.Dataset(cat.reshape(-1, 1), y, categorical_feature=[0]),
        num_boost_round=10,
    )
    fs = FeatureSet(("category(attributes.tier)",), None)
    meta = build_meta(
        features=["attr.tier"],
        feature_set=fs,
        event_types=["payment"],
        platt=(1.0, 0.0),
        extra={"categories": {"attr.tier": ["gold", "silver", "new"]}},
    )
    model = Model(booster, meta)
    x = model.vector({"attr.tier": "new"})
    assert x == [2.0]
    assert model.reasons(x) == [
        (
            "model_signal",
            "attr.tier = new",
            "attr.tier",
            pytest.approx(float(model.trees.contributions(x)[0])),
        )
    ]


def test_bad_feature_file_and_unsplittable_times_are_clear_errors(tmp_path: Path) -> None:
    ev, lab, feat = _write(tmp_path, n=200)
    db = str(tmp_path / "x.db")
    bad = tmp_path / "bad.txt"
    bad.write_text("value(attributes.x1)\nmean(attributes.x1) by planet over 1d\n")
    args = ["models", "train", "--db", db, "--events", str(ev), "--labels", str(lab)]
    r = CliRunner().invoke(main, [*args, "--features", str(bad)])
    assert r.exit_code == 2 and "bad.txt:2: unknown entity" in r.output
    same = tmp_path / "same.jsonl"
    lines = [json.loads(line) for line in ev.read_text().splitlines()]
    same.write_text("".join(json.dumps({**e, "occurred_at": _iso(T0)}) + "\n" for e in lines))
    args[5] = str(same)
    r = CliRunner().invoke(main, [*args, "--features", str(feat)])
    assert r.exit_code == 1 and "do not spread" in r.output
