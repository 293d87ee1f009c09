"""Monotonic optimal binning (optbinning) and weight of evidence, as plain serving data.

optbinning finds the bins (a mixed-integer programme over pre-bins, with the event rate
forced monotonic in the variable for numbers, categories grouped by event rate); what
is kept is only the result: split points or category groups and the counts per bin, so
serving needs neither optbinning nor pandas.

WOE here is ``ln(share of bads in the bin / share of goods in the bin)``: positive means
riskier than average. Counts get half an observation each so an all-good bin is finite.
The last bin of every variable holds missing (and, for categories, unseen) values.
"""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Kind = Literal["numerical", "categorical"]
# "monotonic": ascending or descending, whichever fits; "auto": optbinning's choice,
# which may also be a single peak or valley (risk highest or lowest mid-range).
Trend = Literal["monotonic", "auto"]
MISSING = "missing"


@dataclass(frozen=True)
class Bins:
    """One variable's bins: ``index(value)`` picks the bin, ``woe[i]`` is its weight."""

    name: str
    kind: Kind
    splits: tuple[float, ...]
    groups: tuple[tuple[str, ...], ...]
    n_good: tuple[int, ...]
    n_bad: tuple[int, ...]
    woe: tuple[float, ...]

    def __post_init__(self) -> None:
        # A category -> bin map built once: ``index`` is on the serving path.
        lookup = {c: i for i, g in enumerate(self.groups) for c in g}
        object.__setattr__(self, "_lookup", lookup)

    @property
    def n_bins(self) -> int:
        """Bins including the final missing / other bin."""
        return len(self.woe)

    @property
    def missing_index(self) -> int:
        return self.n_bins - 1

    def index(self, value: Any) -> int:
        """The bin of ``value``; ``None``, NaN, non-numbers and unseen categories go last."""
        if value is None:
            return self.missing_index
        if self.kind == "numerical":
            if isinstance(value, bool) or not isinstance(value, int | float):
                try:
                    value = float(value)
                except (TypeError, ValueError):
                    return self.missing_index
            if value != value:
                return self.missing_index
            # optbinning's bins are [a, b): a value equal to a split goes right.
            return bisect.bisect_right(self.splits, value)
        lookup: dict[str, int] = self.__dict__["_lookup"]
        return lookup.get(str(value), self.missing_index)

    def indices(self, values: Sequence[Any]) -> np.ndarray[Any, np.dtype[np.int64]]:
        return np.fromiter((self.index(v) for v in values), dtype=np.int64, count=len(values))

    def labels(self) -> list[str]:
        """Human-readable bin descriptions, in bin order."""
        if self.kind == "numerical":
            edges = [-math.inf, *self.splits, math.inf]
            out = [f"[{_num(a)}, {_num(b)})" for a, b in itertools.pairwise(edges)]
        else:
            out = [", ".join(g) for g in self.groups]
        return [*out, MISSING]

    def iv(self) -> float:
        """Information value of the binning."""
        good, bad = np.asarray(self.n_good, float) + 0.5, np.asarray(self.n_bad, float) + 0.5
        dg, db = good / good.sum(), bad / bad.sum()
        return float(np.sum((db - dg) * np.log(db / dg)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "splits": list(self.splits),
            "groups": [list(g) for g in self.groups],
            "n_good": list(self.n_good),
            "n_bad": list(self.n_bad),
            "woe": list(self.woe),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Bins:
        return cls(
            name=str(d["name"]),
            kind=d["kind"],
            splits=tuple(float(s) for s in d["splits"]),
            groups=tuple(tuple(str(c) for c in g) for g in d["groups"]),
            n_good=tuple(int(n) for n in d["n_good"]),
            n_bad=tuple(int(n) for n in d["n_bad"]),
            woe=tuple(float(w) for w in d["woe"]),
        )


def _num(v: float) -> str:
    if math.isinf(v):
        return "-inf" if v < 0 else "inf"
    return f"{v:g}"


def woe_from_counts(n_good: Sequence[float], n_bad: Sequence[float]) -> tuple[float, ...]:
    """``ln(bad share / good share)`` per bin, each count smoothed by half an observation.

    An empty bin (e.g. no missing values in training) is neutral: WOE 0.
    """
    ng, nb = np.asarray(n_good, float), np.asarray(n_bad, float)
    good, bad = ng + 0.5, nb + 0.5
    woe = np.log((bad / bad.sum()) / (good / good.sum()))
    woe[(ng + nb) == 0] = 0.0
    return tuple(float(w) for w in woe)


def counts(
    bins_of_rows: np.ndarray[Any, Any],
    y: np.ndarray[Any, Any],
    n_bins: int,
    weight: np.ndarray[Any, Any] | None = None,
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Goods and bads per bin (weighted counts are rounded)."""
    w = np.ones(len(y)) if weight is None else weight
    bad = np.bincount(bins_of_rows, weights=w * (y == 1), minlength=n_bins)
    good = np.bincount(bins_of_rows, weights=w * (y == 0), minlength=n_bins)
    return tuple(round(g) for g in good), tuple(round(b) for b in bad)


def column(values: Sequence[Any], kind: Kind) -> np.ndarray[Any, Any]:
    """A column as optbinning wants it: floats (NaN missing) or strings (None missing)."""
    if kind == "numerical":
        out = np.empty(len(values), dtype=float)
        for i, v in enumerate(values):
            try:
                out[i] = math.nan if v is None or isinstance(v, bool) else float(v)
            except (TypeError, ValueError):
                out[i] = math.nan
        return out
    return np.asarray([None if _missing(v) else str(v) for v in values], dtype=object)


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def fit_bins(
    name: str,
    values: Sequence[Any],
    y: np.ndarray[Any, Any],
    kind: Kind,
    *,
    min_bin_size: float = 0.05,
    weight: np.ndarray[Any, Any] | None = None,
    trend: Trend = "monotonic",
) -> Bins:
    """Optimal bins of one variable, the event rate monotonic (ascending or descending).

    For numbers optbinning picks the direction per variable (``auto_asc_desc``); for
    categories it orders the groups by event rate, which is monotonic by construction.
    """
    from optbinning import OptimalBinning

    x = column(values, kind)
    options: dict[str, Any] = {"dtype": kind, "solver": "cp", "min_bin_size": min_bin_size}
    if kind == "numerical":
        options["monotonic_trend"] = "auto_asc_desc" if trend == "monotonic" else "auto"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optbinning warns on constant columns
        ob = OptimalBinning(name=name, **options).fit(x, y, sample_weight=weight)
    if kind == "numerical":
        splits = tuple(float(s) for s in ob.splits)
        groups: tuple[tuple[str, ...], ...] = ()
    else:
        splits = ()
        # Categories optbinning left out (too rare) fall into the missing / other bin.
        groups = tuple(tuple(str(c) for c in g) for g in ob.splits)
    n_bins = (len(splits) + 1 if kind == "numerical" else len(groups)) + 1  # + missing
    draft = Bins(name, kind, splits, groups, (), (), (0.0,) * n_bins)
    n_good, n_bad = counts(draft.indices(list(x)), y, draft.n_bins, weight)
    return Bins(name, kind, splits, groups, n_good, n_bad, woe_from_counts(n_good, n_bad))
