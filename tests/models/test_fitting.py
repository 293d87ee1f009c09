"""Tree counts that thin validation windows and heavy imbalance cannot collapse."""

from __future__ import annotations

from typing import Any

import numpy as np

from fengkong.models.fitting import choose_trees, time_folds

PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_sum_hessian_in_leaf": 1.0,
    "lambda_l2": 1.0,
    "metric": "average_precision",
    "num_threads": 1,
    "deterministic": True,
    "verbose": -1,
}


def _data(n: int, rate: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    logit = 2.5 * x[:, 0] - 1.5 * x[:, 1] + np.log(rate)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return x, y


def _choose(x: np.ndarray, y: np.ndarray, weight: float, **kw: Any) -> Any:
    valid = np.arange(len(y)) >= int(0.8 * len(y))
    return choose_trees(
        {**PARAMS, "scale_pos_weight": weight},
        x,
        y,
        valid,
        names=[f"f{i}" for i in range(x.shape[1])],
        categorical=[],
        rounds=300,
        patience=30,
        min_trees=kw.get("min_trees", 40),
        min_valid_positives=kw.get("min_valid_positives", 50),
        n_folds=4,
    )


def test_thin_validation_window_uses_time_ordered_cv() -> None:
    x, y = _data(6000, 0.0008)
    valid_pos = int(y[int(0.8 * len(y)) :].sum())
    assert 0 < valid_pos < 50
    fit = _choose(x, y, weight=float(np.sqrt((y == 0).sum() / y.sum())))
    assert fit.method == "time-cv" and fit.folds >= 2
    assert fit.best >= 40
    assert "time-ordered cross-validation" in fit.why and f"{valid_pos} positives" in fit.why
    # Out-of-sample scores cover the validation blocks of every fold.
    assert len(fit.raw) == len(fit.index) and y[fit.index].sum() > valid_pos


def test_heavy_class_weight_cannot_stop_at_one_tree() -> None:
    x, y = _data(6000, 0.02, seed=3)
    ratio = float((y == 0).sum() / y.sum())
    fit = _choose(x, y, weight=ratio, min_valid_positives=1)
    assert fit.method == "holdout"
    assert fit.best >= 40 and len(fit.curve) >= fit.best + 30 - 1
    assert "early stopping on the validation window" in fit.why


def test_time_folds_expand_and_keep_both_classes() -> None:
    y = np.zeros(1000, dtype=int)
    y[::50] = 1
    folds = time_folds(y, 4)
    assert len(folds) == 4
    for tr, va in folds:
        assert tr.max() < va.min() and tr.min() == 0  # past only, expanding
        assert 0 < y[va].sum() < len(va)
