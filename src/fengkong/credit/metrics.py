"""Figures of a scorecard: AUC, KS, calibration, and PSI / CSI against training.

PSI compares the live score distribution with the training one (deciles of the training
scores, as for the fraud models). CSI is the same index per variable over the
scorecard's own bins, with the points shift ``Σ (live − train share) · points`` that
says how much of the score's move the variable explains.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fengkong.models.drift import Reference, psi, reference

_EPS = 1e-4


def auc(y: np.ndarray[Any, Any], risk: np.ndarray[Any, Any]) -> float:
    """Area under the ROC curve of ``risk`` (higher = more likely bad)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, risk))


def ks(y: np.ndarray[Any, Any], risk: np.ndarray[Any, Any]) -> float:
    """Kolmogorov–Smirnov distance between the risk of bads and of goods."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, risk)
    return float(np.max(tpr - fpr))


def calibration_table(
    y: np.ndarray[Any, Any], pd: np.ndarray[Any, Any], bins: int = 10
) -> list[dict[str, float]]:
    """Predicted against observed bad rate per PD decile."""
    order = np.argsort(pd, kind="stable")
    out = []
    for part in np.array_split(order, bins):
        if part.size:
            out.append(
                {
                    "n": float(part.size),
                    "predicted": float(pd[part].mean()),
                    "observed": float(y[part].mean()),
                }
            )
    return out


def brier(y: np.ndarray[Any, Any], pd: np.ndarray[Any, Any]) -> float:
    return float(np.mean((pd - y) ** 2))


def score_reference(scores: np.ndarray[Any, Any]) -> dict[str, list[float]]:
    """Deciles of the training scores, kept with the scorecard for PSI."""
    return reference(np.asarray(scores, dtype=np.float64)).to_dict()


def score_psi(ref: Mapping[str, Sequence[float]], scores: np.ndarray[Any, Any]) -> float:
    r = Reference(list(ref["edges"]), list(ref["shares"]))
    return psi(r, np.asarray(scores, dtype=np.float64))


def csi(
    train_counts: Sequence[float], live_bins: np.ndarray[Any, Any], points: Sequence[float]
) -> tuple[float, float]:
    """(CSI, points shift) of one variable: training bin counts vs live bin indices."""
    base = np.asarray(train_counts, dtype=float)
    base = np.maximum(base / max(1.0, base.sum()), _EPS)
    live_counts = np.bincount(live_bins, minlength=len(base)).astype(float)
    live = np.maximum(live_counts / max(1.0, live_counts.sum()), _EPS)
    index = float(np.sum((live - base) * np.log(live / base)))
    shift = float(np.sum((live - base) * np.asarray(points)))
    return index, shift


def stability(card: Any, columns: Mapping[str, Sequence[Any]], n: int) -> dict[str, Any]:
    """PSI of the score and CSI (with points shift) of each variable of ``card``."""
    scores = card.score_many(columns, n)
    columns = card.columns_of(columns, n)
    out: dict[str, Any] = {"rows": n, "variables": {}}
    ref = card.meta.get("score_ref")
    out["score_psi"] = score_psi(ref, scores) if ref else float("nan")
    for b, pts in zip(card.variables, card.points, strict=True):
        values = columns.get(b.name)
        live = np.full(n, b.missing_index) if values is None else b.indices(values)
        train = [g + d for g, d in zip(b.n_good, b.n_bad, strict=True)]
        index, shift = csi(train, live, pts)
        out["variables"][b.name] = {"csi": index, "points_shift": shift}
    return out
