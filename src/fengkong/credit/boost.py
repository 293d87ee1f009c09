"""Boosted additive terms (interpret's explainable boosting machine) as scorecard points.

An EBM is a sum of one lookup table per attribute (its *main effect*) and a few per
pair of attributes (*interactions*), each learnt by cyclic boosting of shallow trees on
one term at a time, bagged. That is a scorecard already: what is kept is only the
tables, turned into :class:`~fengkong.credit.binning.Bins` (a main effect) and
:class:`Pair` (an interaction) with their contributions to the log-odds of bad, so
serving needs neither interpret nor pandas. An EBM reads a value's bin as ``0`` =
missing, ``1 …`` the bins, and a last one for values it cannot read; here the missing
bin is last, and unseen categories score as missing.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fengkong.credit.binning import Bins, Kind, counts, woe_from_counts
from fengkong.credit.data import Applicants


@dataclass(frozen=True)
class Pair:
    """An interaction characteristic: points per cell of two attributes' bins.

    ``points[i][j]`` is for ``first`` in bin ``i`` and ``second`` in bin ``j``;
    ``n_good`` / ``n_bad`` count training applicants per cell.
    """

    first: Bins
    second: Bins
    points: tuple[tuple[float, ...], ...]
    n_good: tuple[tuple[int, ...], ...]
    n_bad: tuple[tuple[int, ...], ...]

    @property
    def name(self) -> str:
        return f"{self.first.name}*{self.second.name}"

    def scaled(self, factor: float) -> Pair:
        pts = tuple(tuple(factor * v for v in row) for row in self.points)
        return Pair(self.first, self.second, pts, self.n_good, self.n_bad)

    def cell(self, applicant: Mapping[str, Any]) -> tuple[int, int]:
        return self.first.index(applicant.get(self.first.name)), self.second.index(
            applicant.get(self.second.name)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "first": self.first.to_dict(),
            "second": self.second.to_dict(),
            "points": [list(r) for r in self.points],
            "n_good": [list(r) for r in self.n_good],
            "n_bad": [list(r) for r in self.n_bad],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Pair:
        first, second = Bins.from_dict(d["first"]), Bins.from_dict(d["second"])
        pts = tuple(tuple(float(v) for v in r) for r in d["points"])
        if len(pts) != first.n_bins or any(len(r) != second.n_bins for r in pts):
            raise ValueError(f"pair {first.name}*{second.name}: points do not match the bins")
        good = tuple(tuple(int(v) for v in r) for r in d["n_good"])
        bad = tuple(tuple(int(v) for v in r) for r in d["n_bad"])
        return cls(first, second, pts, good, bad)


@dataclass
class Terms:
    """An EBM as log-odds tables: one per attribute, a few per pair, and the intercept."""

    main: dict[str, tuple[Bins, list[float]]]
    pairs: list[Pair]
    intercept: float


@dataclass(frozen=True)
class BoostConfig:
    """The EBM's settings (fixed, chosen on design folds, see docs/credit.md)."""

    interactions: int = 5
    max_bins: int = 32
    max_interaction_bins: int = 16
    outer_bags: int = 8


def _frame(data: Applicants) -> Any:
    import pandas as pd

    cols = {}
    for name in data.names:
        values = data.columns[name]
        if data.kinds[name] == "numerical":
            cols[name] = np.asarray([np.nan if v is None else float(v) for v in values])
        else:
            cols[name] = pd.Series([None if v is None else str(v) for v in values], dtype=object)
    return pd.DataFrame(cols)


def fit_ebm(data: Applicants, cfg: BoostConfig, seed: int = 0) -> Any:
    """interpret's ``ExplainableBoostingClassifier`` on ``data`` (weights honoured)."""
    from interpret.glassbox import ExplainableBoostingClassifier

    types = ["continuous" if data.kinds[n] == "numerical" else "nominal" for n in data.names]
    model = ExplainableBoostingClassifier(
        feature_names=data.names,
        feature_types=types,
        interactions=cfg.interactions,
        max_bins=cfg.max_bins,
        max_interaction_bins=cfg.max_interaction_bins,
        outer_bags=cfg.outer_bags,
        n_jobs=1,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(_frame(data), data.require_outcome(), sample_weight=data.weight)


def ebm_log_odds(model: Any, data: Applicants) -> np.ndarray[Any, Any]:
    """The fitted EBM's own log-odds of bad for ``data``."""
    return np.asarray(model.decision_function(_frame(data)), dtype=float)


def _axis(name: str, kind: Kind, binning: Any) -> tuple[Bins, list[int]]:
    """Bins for one EBM binning, and the EBM bin index of each of its bins."""
    if kind == "numerical":
        splits = tuple(float(c) for c in binning)
        groups: tuple[tuple[str, ...], ...] = ()
        order = list(range(1, len(splits) + 2))
    else:
        by_index = sorted(binning.items(), key=lambda kv: kv[1])
        groups = tuple((str(c),) for c, _ in by_index)
        splits = ()
        order = [i for _, i in by_index]
    order.append(0)  # missing last
    return Bins(name, kind, splits, groups, (), (), (0.0,) * len(order)), order


def _with_counts(b: Bins, data: Applicants) -> Bins:
    y = data.require_outcome()
    good, bad = counts(b.indices(data.columns[b.name]), y, b.n_bins, data.weight)
    return Bins(b.name, b.kind, b.splits, b.groups, good, bad, woe_from_counts(good, bad))


def terms_of(model: Any, data: Applicants) -> Terms:
    """The fitted EBM's tables as Bins / Pairs (counts from ``data``)."""
    names = list(model.feature_names_in_)
    main: dict[str, tuple[Bins, list[float]]] = {}
    pairs: list[Pair] = []
    for features, table in zip(model.term_features_, model.term_scores_, strict=True):
        scores = np.asarray(table, dtype=float)
        level = len(features) - 1
        axes = []
        for f in features:
            binnings = model.bins_[f]
            name = names[f]
            axes.append(_axis(name, data.kinds[name], binnings[min(level, len(binnings) - 1)]))
        if len(features) == 1:
            ((b, order),) = axes
            main[b.name] = (_with_counts(b, data), [float(scores[i]) for i in order])
            continue
        (b1, o1), (b2, o2) = axes
        b1, b2 = _with_counts(b1, data), _with_counts(b2, data)
        cells = np.asarray([[scores[i, j] for j in o2] for i in o1])
        y = data.require_outcome()
        flat = b1.indices(data.columns[b1.name]) * b2.n_bins + b2.indices(data.columns[b2.name])
        good, bad = counts(flat, y, b1.n_bins * b2.n_bins, data.weight)
        pairs.append(
            Pair(
                b1,
                b2,
                tuple(tuple(float(v) for v in row) for row in cells),
                tuple(tuple(good[i * b2.n_bins : (i + 1) * b2.n_bins]) for i in range(b1.n_bins)),
                tuple(tuple(bad[i * b2.n_bins : (i + 1) * b2.n_bins]) for i in range(b1.n_bins)),
            )
        )
    return Terms(main, pairs, float(np.asarray(model.intercept_).ravel()[0]))


def merge(
    a: Bins, ca: Sequence[float], b: Bins, cb: Sequence[float], data: Applicants
) -> tuple[Bins, list[float]]:
    """One attribute's bins that refine both ``a`` and ``b``; contributions add up."""
    if a.kind == "numerical":
        splits = tuple(sorted(set(a.splits) | set(b.splits)))
        # A bin's left edge lies in it ([lo, hi) bins); the first bin reaches -inf.
        edges = [-np.inf, *splits]
        contrib = [ca[a.index(v)] + cb[b.index(v)] for v in edges]
        groups: tuple[tuple[str, ...], ...] = ()
    else:
        keyed: dict[tuple[int, int], list[str]] = {}
        for c in itertools.chain.from_iterable((*a.groups, *b.groups)):
            key = (a.index(c), b.index(c))
            if c not in keyed.setdefault(key, []):
                keyed[key].append(c)
        keys = sorted(keyed)
        groups = tuple(tuple(keyed[k]) for k in keys)
        contrib = [ca[i] + cb[j] for i, j in keys]
        splits = ()
    contrib.append(ca[a.missing_index] + cb[b.missing_index])
    draft = Bins(a.name, a.kind, splits, groups, (), (), (0.0,) * len(contrib))
    return _with_counts(draft, data), [float(v) for v in contrib]
