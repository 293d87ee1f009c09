"""Training: time-ordered split, LightGBM with guarded early stopping, Platt calibration.

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
from sklearn.metrics import average_precision_score

from fengkong.events import Label
from fengkong.models.compiled import isolation_forest_trees
from fengkong.models.dataset import FeatureSet, Rows, encode, fit_categories, targets
from fengkong.models.drift import reference
from fengkong.models.fitting import Fit, choose_trees
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
    min_sum_hessian_in_leaf: float = 1.0  # no leaf on a few weighted positives alone
    lambda_l2: float = 1.0
    rounds: int = 1000
    early_stopping: int = 50
    min_trees: int = 50  # the best iteration is looked for from here on
    min_valid_positives: int = 50  # fewer in validation: time-ordered CV instead
    cv_folds: int = 4
    # Weight of the fraud class: "none" | "sqrt" | "balanced", or "auto": none or sqrt,
    # whichever scores the higher out-of-sample AP.
    imbalance: str = "auto"
    num_threads: int = 2
    seed: int = 0
    anomaly_trees: int = 50
    refit: bool = True  # refit on train + validation with the chosen tree count
    refit_test: bool = False  # ... and on the test period too (after measuring on it)
    all_labels_known: bool = False  # every label is a target, whenever it arrived

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
    def as_of(self) -> float | None:
        if self.all_labels_known:
            return None
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


def _params(cfg: TrainConfig, weight: float) -> dict[str, Any]:
    return {
        "objective": "binary",
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "max_depth": cfg.max_depth,
        "min_child_samples": cfg.min_child_samples,
        "min_sum_hessian_in_leaf": cfg.min_sum_hessian_in_leaf,
        "lambda_l2": cfg.lambda_l2,
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
    if ytr.sum() == 0:
        raise ValueError("no fraud labels known in the training period")
    both = tr | va
    categories = fit_categories(rows, both)
    x_all = encode(rows, rows.names, categories)
    keep = _usable(x_all[tr])
    names = [n for n, k in zip(rows.names, keep, strict=True) if k]
    categories = {n: v for n, v in categories.items() if n in names}
    xtr = x_all[tr][:, keep]
    ratio = float((ytr == 0).sum()) / float(ytr.sum())
    x_win, y_win = x_all[both][:, keep], y_known[both]
    tried: dict[str, tuple[float, Fit]] = {}
    for kind in ("none", "sqrt") if cfg.imbalance == "auto" else (cfg.imbalance,):
        weight = {"none": 1.0, "sqrt": ratio**0.5, "balanced": ratio}[kind]
        fit = choose_trees(
            _params(cfg, weight),
            x_win,
            y_win,
            va[both],
            names=names,
            categorical=list(categories),
            rounds=cfg.rounds,
            patience=cfg.early_stopping,
            min_trees=cfg.min_trees,
            min_valid_positives=cfg.min_valid_positives,
            n_folds=cfg.cv_folds,
        )
        tried[kind] = (weight, fit)
    # "auto": the class weight whose out-of-sample AP is higher (same rows for both).
    kind = max(
        tried, key=lambda k: average_precision_score(y_win[tried[k][1].index], tried[k][1].raw)
    )
    weight, fit = tried[kind]
    params = _params(cfg, weight)
    if len(tried) > 1:
        aps = ", ".join(
            f"{k} {average_precision_score(y_win[f.index], f.raw):.4f}"
            for k, (_, f) in tried.items()
        )
        fit.why += f"; class weight {kind} (out-of-sample AP: {aps})"
    best, y_oos = fit.best, y_win[fit.index]
    # Platt scaling fitted on out-of-sample scores (validation window or CV folds):
    # monotone, so ranking metrics are unchanged; it undoes the class weighting so the
    # score reads as a probability.
    lr = LogisticRegression(C=1e6).fit(fit.raw.reshape(-1, 1), y_oos)
    platt = (float(lr.coef_[0, 0]), float(lr.intercept_[0]))
    cats = list(categories)
    fitted = both | te if cfg.refit_test else both
    if not cfg.refit:
        fitted = tr
    booster = lgb.train(
        {**params, "metric": "none"},
        lgb.Dataset(
            x_all[fitted][:, keep],
            _fit_targets(rows, labels, cfg, fitted, y_known),
            feature_name=names,
            categorical_feature=cats,
        ),
        num_boost_round=best,
    )
    anomaly = _anomaly(xtr, cfg)
    types = sorted(set(rows.types[i] for i in np.flatnonzero(tr)))
    kept = {
        "trees": int(best),
        "method": fit.method,
        "why": fit.why,
        "validation_ap_peak_at": fit.peak,
        "fitted_on": "train+validation+test" if cfg.refit_test else "train+validation",
    }
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
                "labels_as_of": "all" if cfg.as_of is None else iso(cfg.as_of),
                "test": [iso(cfg.test_start), iso(cfg.test_end)],
            },
            "data_hash": rows.digest,
            "rows": {"train": int(tr.sum()), "validation": int(va.sum()), "test": int(te.sum())},
            "frauds": {"train": int(ytr.sum()), "validation": int(yva.sum())},
            "best_iteration": int(best),
            "iteration": kept,
            "scale_pos_weight": weight,
            "imbalance": kind,
            "categories": categories,
        },
    )
    model = Model(booster, meta, anomaly)
    s_tr = model.predict(xtr)
    meta["psi"] = {n: reference(xtr[:, j]).to_dict() for j, n in enumerate(names)}
    meta["psi"]["score"] = reference(s_tr).to_dict()
    model = Model(booster, meta, anomaly)
    # Validation figures: out-of-sample scores of the chosen tree count.
    s_oos = 1.0 / (1.0 + np.exp(-(platt[0] * fit.raw + platt[1])))
    win = np.flatnonzero(both)[fit.index]
    metrics: dict[str, Any] = {
        "validation": evaluate_scores(
            y_oos.astype(float), s_oos, ts[win], [rows.user_ids[i] for i in win]
        )
    }
    test_rows = test_y = test_s = None
    if te.sum() > 0:
        test_rows = rows.take(te)
        test_y = targets(test_rows, labels, None)
        test_s = _test_scores(model, params, x_all, y_known, both, te, keep, names, cats, best)
        if 0 < test_y.sum() < len(test_y):
            metrics["test"] = evaluate_scores(test_y, test_s, test_rows.ts, test_rows.user_ids)
    meta["metrics"] = metrics
    meta["train_seconds"] = round(time.time() - started, 1)
    log.info("kept %d trees (%s) in %.1f s", best, fit.method, time.time() - started)
    return TrainResult(model, test_rows, test_y, test_s)


def _fit_targets(
    rows: Rows,
    labels: Sequence[Label],
    cfg: TrainConfig,
    fitted: np.ndarray[Any, Any],
    y_known: np.ndarray[Any, Any],
) -> np.ndarray[Any, Any]:
    if not cfg.refit_test:
        return np.asarray(y_known[fitted])
    # The final refit happens after the test period: every label is known by then.
    return np.asarray(targets(rows, labels, None)[fitted])


def _test_scores(
    model: Model,
    params: dict[str, Any],
    x_all: np.ndarray[Any, Any],
    y_known: np.ndarray[Any, Any],
    both: np.ndarray[Any, Any],
    te: np.ndarray[Any, Any],
    keep: np.ndarray[Any, Any],
    names: list[str],
    cats: list[str],
    best: int,
) -> np.ndarray[Any, Any]:
    """Test scores of a model that has not seen the test period: the served model, or
    when it was refitted on the test period too, the same fit without it."""
    xte = x_all[te][:, keep]
    if not model.meta["config"]["refit_test"]:
        return model.predict(xte)
    data = lgb.Dataset(
        x_all[both][:, keep], y_known[both], feature_name=names, categorical_feature=cats
    )
    held = lgb.train({**params, "metric": "none"}, data, num_boost_round=best)
    a, b = model.platt
    raw = np.asarray(held.predict(xte, raw_score=True), dtype=np.float64)
    out: np.ndarray[Any, Any] = 1.0 / (1.0 + np.exp(-(a * raw + b)))
    return out


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
