"""Population stability index (PSI): how far a live distribution moved from training.

Bins are the training sample's deciles (missing values get a bin of their own), so each
training bin holds ~10 %. PSI = Σ (live − ref) · ln(live / ref); by the usual reading,
< 0.1 is stable, 0.1–0.25 a moderate shift worth a look, > 0.25 a shift that calls for
retraining.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

WARN_AT = 0.1
ALERT_AT = 0.25
_EPS = 1e-4  # floor for empty bins, so an empty bin costs a finite amount


@dataclass
class Reference:
    """Bin edges and training shares of one variable."""

    edges: list[float]
    shares: list[float]

    def counts(self, values: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, Any]:
        """Counts per bin: the len(edges)+1 value bins, then the missing bin."""
        nan = np.isnan(values)
        idx = np.searchsorted(np.asarray(self.edges), values[~nan], side="right")
        counts = np.bincount(idx, minlength=len(self.edges) + 2)
        counts[len(self.edges) + 1] += int(nan.sum())
        return counts

    def to_dict(self) -> dict[str, list[float]]:
        return {"edges": self.edges, "shares": self.shares}


def reference(values: np.ndarray[Any, np.dtype[np.float64]], bins: int = 10) -> Reference:
    finite = values[~np.isnan(values)]
    edges: list[float] = []
    if finite.size:
        qs = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])
        edges = sorted({float(q) for q in qs})
    ref = Reference(edges, [])
    counts = ref.counts(values)
    ref.shares = (counts / max(1, counts.sum())).tolist()
    return ref


def psi_from_counts(ref: Reference, counts: np.ndarray[Any, Any]) -> float:
    total = counts.sum()
    if total == 0:
        return float("nan")
    live = np.maximum(counts / total, _EPS)
    base = np.maximum(np.asarray(ref.shares), _EPS)
    return float(np.sum((live - base) * np.log(live / base)))


def psi(ref: Reference, values: np.ndarray[Any, np.dtype[np.float64]]) -> float:
    return psi_from_counts(ref, ref.counts(values))


def level(value: float) -> str:
    if value != value:
        return "no data"
    return "alert" if value > ALERT_AT else ("warn" if value > WARN_AT else "ok")


def drift_report(
    refs: Mapping[str, Reference],
    live: Mapping[str, np.ndarray[Any, np.dtype[np.float64]]],
) -> dict[str, float]:
    """PSI of every variable that has a reference and live values."""
    return {name: psi(refs[name], live[name]) for name in refs if name in live}


class LiveDrift:
    """Running bin counts of live values, for gauges without keeping the values."""

    def __init__(self, refs: Mapping[str, Reference]) -> None:
        self.refs = dict(refs)
        self._counts = {n: np.zeros(len(r.edges) + 2, dtype=np.int64) for n, r in refs.items()}
        self._edges = {n: r.edges for n, r in refs.items()}
        self.n = 0

    def add(self, name: str, value: float) -> None:
        c = self._counts.get(name)
        if c is None:
            return
        edges = self._edges[name]
        if value != value:
            c[len(edges) + 1] += 1
        else:
            c[bisect.bisect_right(edges, value)] += 1

    def psi(self) -> dict[str, float]:
        return {n: psi_from_counts(self.refs[n], c) for n, c in self._counts.items()}

    def reset(self) -> None:
        for c in self._counts.values():
            c[:] = 0
        self.n = 0
