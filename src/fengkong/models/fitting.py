"""How many trees to keep: early stopping that thin validation windows cannot fool.

Early stopping on a validation window with a few dozen positives stops at whatever tree
the noise favours, often the first handful. Two guards:

- a **floor on trees**: the best iteration is looked for from ``min_trees`` on, and
  training goes on at least ``patience`` trees past it;
- a **floor on validation positives**: with fewer than ``min_valid_positives`` positives
  in the validation window, the tree count comes from **time-ordered cross-validation**
  over the whole training window instead (expanding window: fold k trains on the first k
  blocks and validates on block k + 1), where every positive of the window validates once.

The result says which iteration was kept and why (``Fit.why``), and gives out-of-sample
raw scores for calibration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np

Array = np.ndarray[Any, Any]


@dataclass
class Fit:
    """The tree count chosen, the out-of-sample scores it was chosen on, and why."""

    best: int
    method: str  # "holdout" | "time-cv"
    raw: Array  # out-of-sample raw scores of the rows in ``index``
    index: Array  # row positions (into the training window) of ``raw``
    why: str
    curve: list[float] = field(default_factory=list)  # mean validation AP per tree
    peak: int = 0  # iteration of the highest AP at any tree count (floor or not)
    folds: int = 1


def _floored_stopping(
    patience: int, floor: int, curve: list[float]
) -> Callable[[lgb.callback.CallbackEnv], None]:
    """Early stopping that looks for the best iteration from ``floor`` trees on."""
    best_score = [-np.inf]
    best_it = [0]

    def callback(env: lgb.callback.CallbackEnv) -> None:
        results = env.evaluation_result_list or []
        score = float(results[0][2])
        it = env.iteration + 1
        curve.append(score)
        if it >= floor and score > best_score[0]:
            best_score[0], best_it[0] = score, it
        if it >= floor and it - best_it[0] >= patience:
            raise lgb.callback.EarlyStopException(best_it[0] - 1, results)

    callback.order = 30  # type: ignore[attr-defined]
    return callback


def _peak(curve: list[float]) -> int:
    return int(np.argmax(curve)) + 1 if curve else 0


def _best(curve: list[float], floor: int) -> int:
    """The best iteration from ``floor`` trees on (the first of equals)."""
    start = max(floor, 1) - 1
    return start + int(np.argmax(curve[start:])) + 1


def time_folds(y: Array, n_folds: int) -> list[tuple[Array, Array]]:
    """Expanding-window folds over rows in time order; each validation block holds at
    least one positive and one negative, and so does each training part."""
    n = len(y)
    edges = np.linspace(0, n, n_folds + 2).astype(int)
    folds = []
    for k in range(1, n_folds + 1):
        tr = np.arange(0, edges[k])
        va = np.arange(edges[k], edges[k + 1])
        if 0 < y[tr].sum() < len(tr) and 0 < y[va].sum() < len(va):
            folds.append((tr, va))
    return folds


def choose_trees(
    params: dict[str, Any],
    x: Array,
    y: Array,
    valid: Array,
    *,
    names: Sequence[str],
    categorical: Sequence[str],
    rounds: int,
    patience: int,
    min_trees: int,
    min_valid_positives: int,
    n_folds: int,
) -> Fit:
    """Choose the tree count on the training window ``x, y`` (time order); ``valid``
    marks its validation rows (the last days)."""
    cats = [n for n in names if n in categorical]
    min_trees = min(min_trees, rounds)
    positives = int(y[valid].sum())
    folds = time_folds(y, n_folds)
    if positives >= min_valid_positives or len(folds) < 2:
        return _holdout(params, x, y, valid, names, cats, rounds, patience, min_trees, positives)
    curve: list[float] = []
    data = lgb.Dataset(x, y, feature_name=list(names), categorical_feature=cats)
    res: dict[str, Any] = lgb.cv(
        params,
        data,
        num_boost_round=rounds,
        folds=folds,
        callbacks=[_floored_stopping(patience, min_trees, curve)],
        return_cvbooster=True,
        stratified=False,
        shuffle=False,
    )
    best = _best(curve, min_trees)
    boosters = res["cvbooster"]
    raw_parts, idx_parts = [], []
    for booster, (_, va) in zip(boosters.boosters, folds, strict=True):
        raw_parts.append(np.asarray(booster.predict(x[va], raw_score=True, num_iteration=best)))
        idx_parts.append(va)
    peak = _peak(curve)
    why = (
        f"{positives} positives in the validation window (< {min_valid_positives}): "
        f"time-ordered cross-validation over {len(folds)} expanding folds "
        f"({int(sum(y[va].sum() for _, va in folds))} validation positives); "
        f"best mean AP {curve[best - 1]:.4f} at {best} trees (searched from {min_trees})"
    )
    if peak < min_trees:
        why += f"; the AP peak at {peak} trees is below the floor and not trusted"
    return Fit(
        best,
        "time-cv",
        np.concatenate(raw_parts),
        np.concatenate(idx_parts),
        why,
        curve,
        peak,
        len(folds),
    )


def _holdout(
    params: dict[str, Any],
    x: Array,
    y: Array,
    valid: Array,
    names: Sequence[str],
    cats: list[str],
    rounds: int,
    patience: int,
    min_trees: int,
    positives: int,
) -> Fit:
    tr = ~valid
    curve: list[float] = []
    dtr = lgb.Dataset(x[tr], y[tr], feature_name=list(names), categorical_feature=cats)
    dva = lgb.Dataset(x[valid], y[valid], reference=dtr)
    booster = lgb.train(
        params,
        dtr,
        num_boost_round=rounds,
        valid_sets=[dva],
        callbacks=[_floored_stopping(patience, min_trees, curve)],
    )
    best = _best(curve, min_trees)
    raw = np.asarray(booster.predict(x[valid], raw_score=True, num_iteration=best))
    peak = _peak(curve)
    why = (
        f"early stopping on the validation window ({positives} positives): best AP "
        f"{curve[best - 1]:.4f} at {best} trees (searched from {min_trees}, "
        f"patience {patience})"
    )
    if peak < min_trees:
        why += f"; the AP peak at {peak} trees is below the floor and not trusted"
    return Fit(best, "holdout", raw, np.flatnonzero(valid), why, curve, peak)
