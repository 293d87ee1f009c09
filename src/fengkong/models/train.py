"""Training: time-ordered split, LightGBM with early stopping, Platt calibration, extras.

Periods, all by event time: train ``[start, start + train_days - valid_days)``, validation
the last ``valid_days`` of the training window, then a gap (labels arrive late), then the
test period. Training and validation targets are the labels known at the end of the
training window plus the label delay (when the model could really be built); the test
period is judged with every label.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LogisticRegression

from fengkong.events import Label
from fengkong.models.compiled import isolation_forest_trees
from fengkong.models.dataset import FeatureSet, Rows, targets
from fengkong.models.drift import reference
from fengkong.models.model import Anomaly, Model, build_meta
from fengkong.models.report import evaluate_scores

log = logging.getLogger(__name__)
DAY = 86400.0


@dataclass(frozen=True)
class TrainConfig:
    """When to train and test, and how hard to fit."""

    start: float
    train_days: float = 7.0
    valid_days: float = 2.0
    gap_days: float = 7.0
    test_days: float = 7.0
    label_delay_days: float = 7.0
    learning_rate: float = 0.05
    num_leaves: int = 31
    max_depth: int = 8  # keeps compiled trees shallow and regularises
    min_child_samples: int = 50
    rounds: int = 1000
    early_stopping: int = 50
    imbalance: str = "sqrt"  # "none" | "sqrt" | "balanced": weight of the fraud class
    num_threads: int = 2
    seed: int = 0
    anomaly_trees: int = 50
    refit: bool = True  # refit on train + validation with the early-stopped tree count

    @property
    def train_end(self) -> float:
        return self.start + self.train_days * DAY

    @property
    def valid_start(self) -> float:
        return self.train_end - self.valid_days * DAY

    @property
    def test_start(self) -> float:
        return self.train_end + self.gap_days * DAY

    @property
    def test_end(self) -> float:
        return self.test_start + self.test_days * DAY

    @property
    def as_of(self) -> float:
        return self.train_end + self.label_delay_days * DAY


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


@dataclass
class TrainResult:
    model: Model
    test_rows: Rows | None
    test_y: np.ndarray[Any, Any] | None
    test_scores: np.ndarray[Any, Any] | None


def _usable(x: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Columns with at least two distinct known values in training."""
    keep = []
    for j in range(x.shape[1]):
        col = x[:, j]
        col = col[~np.isnan(col)]
        keep.append(col.size > 0 and float(col.min()) != float(col.max()))
    return np.asarray(keep, dtype=bool)


def train_model(
    rows: Rows, labels: Sequence[Label], fs: FeatureSet, cfg: TrainConfig
) -> TrainResult:
    """Fit, calibrate and measure a model on ``rows`` (covering train to test periods)."""
    started = time.time()
    ts = rows.ts
    y_known = targets(rows, labels, cfg.as_of)
    tr = (ts >= cfg.start) & (ts < cfg.valid_start)
    va = (ts >= cfg.valid_start) & (ts < cfg.train_end)
    te = (ts >= cfg.test_start) & (ts < cfg.test_end)
    if tr.sum() == 0 or va.sum() == 0:
        raise ValueError("no events in the training or validation period")
    ytr, yva = y_known[tr], y_known[va]
    if ytr.sum() == 0 or yva.sum() == 0:
        raise ValueError("no fraud labels known in the training or validation period")
    keep = _usable(rows.x[tr])
    names = [n for n, k in zip(rows.names, keep, strict=True) if k]
    xtr, xva = rows.x[tr][:, keep], rows.x[va][:, keep]
    ratio = float((ytr == 0).sum()) / float(ytr.sum())
    weight = {"none": 1.0, "sqrt": ratio**0.5, "balanced": ratio}[cfg.imbalance]
    params: dict[str, Any] = {
        "objective": "binary",
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "max_depth": cfg.max_depth,
        "min_child_samples": cfg.min_child_samples,
        "feature_fraction": 0.9,
        "bagging_fraction": 0.9,
        "bagging_freq": 1,
        "scale_pos_weight": weight,
        "metric": "average_precision",
        "num_threads": cfg.num_threads,
        "seed": cfg.seed,
        "deterministic": True,
        "verbose": -1,
    }
    dtr = lgb.Dataset(xtr, ytr, feature_name=names, free_raw_data=False)
    dva = lgb.Dataset(xva, yva, reference=dtr)
    booster = lgb.train(
        params,
        dtr,
        num_boost_round=cfg.rounds,
        valid_sets=[dva],
        callbacks=[lgb.early_stopping(cfg.early_stopping, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    raw_va = np.asarray(booster.predict(xva, raw_score=True, num_iteration=best))
    # Platt scaling fitted on out-of-sample validation scores: monotone, so ranking
    # metrics are unchanged; it undoes the class weighting so the score reads as a
    # probability.
    lr = LogisticRegression(C=1e6).fit(raw_va.reshape(-1, 1), yva)
    platt = (float(lr.coef_[0, 0]), float(lr.intercept_[0]))
    if cfg.refit:
        # The newest days matter most for fraud that moves: use the validation days too.
        both = tr | va
        dall = lgb.Dataset(rows.x[both][:, keep], y_known[both], feature_name=names)
        booster = lgb.train({**params, "metric": "none"}, dall, num_boost_round=best)
    else:
        # Keep only the trees early stopping chose, so the artefact is what was validated.
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    anomaly = _anomaly(xtr, cfg)
    types = sorted(set(rows.types[i] for i in np.flatnonzero(tr)))
    meta = build_meta(
        features=names,
        feature_set=fs,
        event_types=types,
        platt=platt,
        extra={
            "trained_at": iso(time.time()),
            "config": asdict(cfg),
            "windows": {
                "train": [iso(cfg.start), iso(cfg.valid_start)],
                "validation": [iso(cfg.valid_start), iso(cfg.train_end)],
                "labels_as_of": iso(cfg.as_of),
                "test": [iso(cfg.test_start), iso(cfg.test_end)],
            },
            "data_hash": rows.digest,
            "rows": {"train": int(tr.sum()), "validation": int(va.sum()), "test": int(te.sum())},
            "frauds": {"train": int(ytr.sum()), "validation": int(yva.sum())},
            "best_iteration": int(best),
            "scale_pos_weight": weight,
        },
    )
    model = Model(booster, meta, anomaly)
    s_tr = model.predict(xtr)
    meta["psi"] = {n: reference(xtr[:, j]).to_dict() for j, n in enumerate(names)}
    meta["psi"]["score"] = reference(s_tr).to_dict()
    model = Model(booster, meta, anomaly)
    # Validation figures of the early-stopped model (out of sample even after a refit).
    s_va = 1.0 / (1.0 + np.exp(-(platt[0] * raw_va + platt[1])))
    metrics: dict[str, Any] = {
        "validation": evaluate_scores(
            yva.astype(float),
            s_va,
            ts[va],
            [rows.user_ids[i] for i in np.flatnonzero(va)],
        )
    }
    test_rows = test_y = test_s = None
    if te.sum() > 0:
        test_rows = rows.take(te)
        test_y = targets(test_rows, labels, None)
        test_s = model.predict(test_rows.x[:, keep])
        if 0 < test_y.sum() < len(test_y):
            metrics["test"] = evaluate_scores(test_y, test_s, test_rows.ts, test_rows.user_ids)
    meta["metrics"] = metrics
    meta["train_seconds"] = round(time.time() - started, 1)
    log.info("trained %d trees in %.1f s", best, time.time() - started)
    return TrainResult(model, test_rows, test_y, test_s)


def _anomaly(xtr: np.ndarray[Any, Any], cfg: TrainConfig) -> Anomaly | None:
    if cfg.anomaly_trees <= 0:
        return None
    medians = [float(v) if v == v else 0.0 for v in np.nanmedian(xtr, axis=0)]
    filled = np.where(np.isnan(xtr), np.asarray(medians), xtr)
    forest = IsolationForest(
        n_estimators=cfg.anomaly_trees, max_samples=256, random_state=cfg.seed, n_jobs=1
    ).fit(filled)
    trees, norm = isolation_forest_trees(forest)
    return Anomaly(trees, list(range(xtr.shape[1])), medians, norm)
