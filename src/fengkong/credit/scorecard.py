"""The scorecard as served: points per bin, points-to-double-odds scaling, calibrated PD.

Scaling: ``score = offset + factor · ln(odds of good)`` with ``factor = pdo / ln 2`` and
``offset = base_score − factor · ln(base_odds)``, so ``base_odds`` (good : bad) scores
``base_score`` and every ``pdo`` points double the odds. The model's log-odds of *bad*
``b0 + Σ c_j(bin)`` is spread over the variables: each bin's points are
``−factor · c_j(bin) + (offset − factor · b0) / n``, so a score is a plain sum.

A scorecard may also have **pair** characteristics (points per cell of two attributes'
bins, from a boosted model's interactions); their points add to the sum like the rest.
Its **derived** attributes (:mod:`fengkong.credit.derive`) are computed from the raw
ones before scoring, so callers pass the applicant's raw attributes only.

Reason codes (adverse action): for each characteristic, the points the applicant lost
against its best bin (or cell); the characteristics costing most come first.
"""

from __future__ import annotations

import itertools
import json
import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fengkong.credit.binning import Bins
from fengkong.credit.boost import Pair
from fengkong.credit.derive import Derived, derive_columns, with_derived


@dataclass(frozen=True)
class Scaling:
    """``base_score`` points at ``base_odds`` good : bad; ``pdo`` points double the odds."""

    base_score: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0

    def __post_init__(self) -> None:
        if self.pdo <= 0 or self.base_odds <= 0:
            raise ValueError("pdo and base_odds must be > 0")

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        return self.base_score - self.factor * math.log(self.base_odds)

    def score(self, log_odds_bad: float) -> float:
        return self.offset - self.factor * log_odds_bad

    def log_odds_bad(self, score: float) -> float:
        return (self.offset - score) / self.factor


Axis = tuple[str, bool, list[float], dict[str, int], int, Bins]


def _axis(b: Bins) -> Axis:
    lookup = {c: i for i, g in enumerate(b.groups) for c in g}
    return (b.name, b.kind == "numerical", list(b.splits), lookup, b.missing_index, b)


def _bin(axis: Axis, v: Any) -> int:
    """``Bins.index`` for the usual value types without its general checks."""
    _, numeric, splits, lookup, missing, b = axis
    if v is None:
        return missing
    cls = v.__class__
    if numeric:
        if cls is float or cls is int:
            return bisect_right(splits, v) if v == v else missing
        return b.index(v)
    return lookup.get(v, missing) if cls is str else b.index(v)


@dataclass(frozen=True)
class Reason:
    """One adverse-action reason: the variable, its bin and the points it cost."""

    variable: str
    value: Any
    bin: str
    points_lost: float

    @property
    def code(self) -> str:
        return f"credit_{self.variable}"

    @property
    def detail(self) -> str:
        lost = f"{self.points_lost:.0f} points below best"
        return f"{self.variable}={self.value!r} in {self.bin}: {lost}"


@dataclass(frozen=True)
class Scored:
    score: float
    pd: float
    points: tuple[float, ...]
    bins: tuple[int, ...]


@dataclass
class Scorecard:
    """Variables with points per bin, the scaling and the PD calibration.

    ``calibration = (a, b)``: ``PD = 1 / (1 + exp(−(a + b · score)))``, fitted on
    out-of-fold scores; ``meta`` has the training settings and figures; ``pairs`` the
    interaction characteristics (points already scaled); ``derived`` the attributes
    computed from the raw ones before scoring.
    """

    variables: list[Bins]
    points: list[list[float]]
    scaling: Scaling
    calibration: tuple[float, float]
    meta: dict[str, Any] = field(default_factory=dict)
    pairs: list[Pair] = field(default_factory=list)
    derived: list[Derived] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._best = [max(p) for p in self.points] + [
            max(max(r) for r in p.points) for p in self.pairs
        ]
        self._labels = [b.labels() for b in self.variables]
        self._pair_labels = [(p.first.labels(), p.second.labels()) for p in self.pairs]
        self._names = [b.name for b in self.variables] + [p.name for p in self.pairs]
        # Points lost against the best bin (or cell, flat) per characteristic and bin.
        nv = len(self.points)
        self._loss = [
            tuple(best - v for v in pts)
            for best, pts in zip(self._best[:nv], self.points, strict=True)
        ]
        self._loss += [
            tuple(best - v for row in p.points for v in row)
            for best, p in zip(self._best[nv:], self.pairs, strict=True)
        ]
        self._tails: dict[tuple[int, int], str] = {}
        # Flat per-variable tuples: scoring one applicant is on the decision path.
        self._fast = [
            (
                b.name,
                b.kind == "numerical",
                list(b.splits),
                {c: i for i, g in enumerate(b.groups) for c in g},
                b.missing_index,
                p,
                b,
            )
            for b, p in zip(self.variables, self.points, strict=True)
        ]
        self._fast_pairs = [
            (_axis(p.first), _axis(p.second), p.second.n_bins, p.points) for p in self.pairs
        ]

    @classmethod
    def from_log_odds(
        cls,
        variables: list[Bins],
        contributions: Sequence[Sequence[float]],
        intercept: float,
        scaling: Scaling,
        calibration: tuple[float, float] | None = None,
        meta: dict[str, Any] | None = None,
        pairs: Sequence[Pair] = (),
    ) -> Scorecard:
        """Points from per-bin contributions to the log-odds of bad and the intercept.

        ``pairs`` hold log-odds contributions per cell; the intercept is spread over the
        single-attribute characteristics only.
        """
        n = max(1, len(variables))
        share = (scaling.offset - scaling.factor * intercept) / n
        points = [[share - scaling.factor * c for c in contrib] for contrib in contributions]
        # Uncalibrated: the model's own PD, exactly the logistic of its log-odds.
        default = (scaling.offset / scaling.factor, -1.0 / scaling.factor)
        scaled = [p.scaled(-scaling.factor) for p in pairs]
        return cls(variables, points, scaling, calibration or default, dict(meta or {}), scaled)

    @property
    def names(self) -> list[str]:
        return [b.name for b in self.variables]

    def pd_of(self, score: float) -> float:
        """Calibrated probability of default at ``score``."""
        a, b = self.calibration
        z = a + b * score
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def score(self, applicant: Mapping[str, Any]) -> Scored:
        """Score one applicant given as ``variable -> value`` (absent means missing)."""
        if self.derived:
            applicant = with_derived(applicant, self.derived)
        get = applicant.get
        bins, pts = [], []
        for name, numeric, splits, lookup, missing, points, b in self._fast:
            v = get(name)
            if v is None:
                i = missing
            elif numeric:
                cls = v.__class__
                if cls is float or cls is int:
                    i = bisect_right(splits, v) if v == v else missing
                else:
                    i = b.index(v)
            else:
                i = lookup.get(v, missing) if v.__class__ is str else b.index(v)
            bins.append(i)
            pts.append(points[i])
        for first, second, n2, cells in self._fast_pairs:
            i, j = _bin(first, get(first[0])), _bin(second, get(second[0]))
            bins.append(i * n2 + j)
            pts.append(cells[i][j])
        total = sum(pts)
        return Scored(total, self.pd_of(total), tuple(pts), tuple(bins))

    def score_many(self, columns: Mapping[str, Sequence[Any]], n: int) -> np.ndarray[Any, Any]:
        """Scores of ``n`` applicants given column-wise (faster for files)."""
        columns = self.columns_of(columns, n)
        total = np.zeros(n)
        for b, pts in zip(self.variables, self.points, strict=True):
            values = columns.get(b.name)
            idx = np.full(n, b.missing_index) if values is None else b.indices(values)
            total += np.asarray(pts)[idx]
        for pair in self.pairs:
            cells = [self._indices(b, columns, n) for b in (pair.first, pair.second)]
            total += np.asarray(pair.points)[cells[0], cells[1]]
        return total

    def columns_of(
        self, columns: Mapping[str, Sequence[Any]], n: int
    ) -> Mapping[str, Sequence[Any]]:
        """Raw columns with the derived attributes' columns added."""
        return derive_columns(columns, n, self.derived) if self.derived else columns

    @staticmethod
    def _indices(b: Bins, columns: Mapping[str, Sequence[Any]], n: int) -> np.ndarray[Any, Any]:
        values = columns.get(b.name)
        return np.full(n, b.missing_index) if values is None else b.indices(values)

    def pd_many(self, scores: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        a, b = self.calibration
        return np.asarray(1.0 / (1.0 + np.exp(-(a + b * scores))))

    def _lost(self, scored: Scored, top: int) -> list[tuple[float, int]]:
        """``(points lost, characteristic)`` of the ``top`` costliest characteristics."""
        lost = [
            (cost, j)
            for j, (loss, i) in enumerate(zip(self._loss, scored.bins, strict=True))
            if (cost := loss[i]) > 0
        ]
        lost.sort(reverse=True)
        return lost[:top]

    def _label(self, j: int, i: int) -> str:
        nv = len(self.variables)
        if j < nv:
            return self._labels[j][i]
        pair, (la, lb) = self.pairs[j - nv], self._pair_labels[j - nv]
        a, b = divmod(i, pair.second.n_bins)
        return f"{la[a]} × {lb[b]}"

    def _value(self, applicant: Mapping[str, Any], j: int) -> Any:
        nv = len(self.variables)
        if j < nv:
            return applicant.get(self.variables[j].name)
        pair = self.pairs[j - nv]
        return (applicant.get(pair.first.name), applicant.get(pair.second.name))

    def reasons(self, applicant: Mapping[str, Any], scored: Scored, top: int = 4) -> list[Reason]:
        """The variables that cost ``applicant`` most points against their best bin."""
        if self.derived:
            applicant = with_derived(applicant, self.derived)
        return [
            Reason(self._names[j], self._value(applicant, j), self._label(j, scored.bins[j]), cost)
            for cost, j in self._lost(scored, top)
        ]

    def reason_codes(
        self, applicant: Mapping[str, Any], scored: Scored, top: int = 4
    ) -> list[tuple[str, str]]:
        """``(code, detail)`` of :meth:`reasons`, with the per-bin text cached (serving)."""
        if self.derived:
            applicant = with_derived(applicant, self.derived)
        out = []
        tails = self._tails
        for cost, j in self._lost(scored, top):
            key = (j, scored.bins[j])
            tail = tails.get(key)
            if tail is None:
                tail = tails[key] = f" in {self._label(*key)}: {cost:.0f} points below best"
            name = self._names[j]
            out.append((f"credit_{name}", f"{name}={self._value(applicant, j)!r}{tail}"))
        return out

    def table(self) -> list[dict[str, Any]]:
        """One row per bin: variable, bin, counts, WOE, IV of the variable, points."""
        rows = []
        for b, pts, labels in zip(self.variables, self.points, self._labels, strict=True):
            iv = b.iv()
            for i, label in enumerate(labels):
                rows.append(
                    {
                        "variable": b.name,
                        "bin": label,
                        "n_good": b.n_good[i],
                        "n_bad": b.n_bad[i],
                        "woe": b.woe[i],
                        "iv": iv,
                        "points": pts[i],
                    }
                )
        for pair, (la, lb) in zip(self.pairs, self._pair_labels, strict=True):
            total_good = sum(map(sum, pair.n_good)) + 0.5
            total_bad = sum(map(sum, pair.n_bad)) + 0.5
            for i, j in itertools.product(range(pair.first.n_bins), range(pair.second.n_bins)):
                good, bad = pair.n_good[i][j], pair.n_bad[i][j]
                if good + bad == 0:
                    continue  # a cell no training applicant fell in
                woe = math.log(((bad + 0.5) / total_bad) / ((good + 0.5) / total_good))
                rows.append(
                    {
                        "variable": pair.name,
                        "bin": f"{la[i]} × {lb[j]}",
                        "n_good": good,
                        "n_bad": bad,
                        "woe": woe,
                        "iv": float("nan"),
                        "points": pair.points[i][j],
                    }
                )
        return rows

    def to_json(self) -> str:
        body = {
            "format": "fengkong-scorecard-1",
            "variables": [b.to_dict() for b in self.variables],
            "points": self.points,
            "scaling": {
                "base_score": self.scaling.base_score,
                "base_odds": self.scaling.base_odds,
                "pdo": self.scaling.pdo,
            },
            "calibration": list(self.calibration),
            "meta": self.meta,
        }
        if self.pairs:
            body["pairs"] = [p.to_dict() for p in self.pairs]
        if self.derived:
            body["derived"] = [d.to_dict() for d in self.derived]
        return json.dumps(body, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Scorecard:
        d = json.loads(text)
        if d.get("format") != "fengkong-scorecard-1":
            raise ValueError("not a fengkong scorecard artefact")
        variables = [Bins.from_dict(v) for v in d["variables"]]
        points = [[float(p) for p in row] for row in d["points"]]
        if [len(p) for p in points] != [b.n_bins for b in variables]:
            raise ValueError("scorecard artefact: points do not match the bins")
        a, b = d["calibration"]
        pairs = [Pair.from_dict(p) for p in d.get("pairs", [])]
        scaling = Scaling(**d["scaling"])
        derived = [Derived.from_dict(x) for x in d.get("derived", [])]
        calibration = (float(a), float(b))
        return cls(variables, points, scaling, calibration, d["meta"], pairs, derived)
