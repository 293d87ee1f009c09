"""Applicant tables: a CSV of applicants with a good/bad outcome, read column-wise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fengkong.credit.binning import Kind
from fengkong.credit.derive import Derived, derive_columns

# Values of the outcome column read as "bad" (defaulted) unless told otherwise.
BAD_VALUES = frozenset({"1", "bad", "default", "yes", "true", "1.0"})


class DataError(ValueError):
    """An applicant file that cannot be used; the message names the column."""


@dataclass
class Applicants:
    """Columns of applicant attributes, their kinds, and the outcome (1 = bad) if known."""

    columns: dict[str, list[Any]]
    kinds: dict[str, Kind]
    y: np.ndarray[Any, Any] | None = None
    weight: np.ndarray[Any, Any] | None = None
    extra: dict[str, list[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def take(self, rows: Sequence[int] | np.ndarray[Any, Any]) -> Applicants:
        """The subset of rows ``rows`` (training folds)."""
        idx = np.asarray(rows)
        cols = {n: [v[i] for i in idx] for n, v in self.columns.items()}
        y = None if self.y is None else self.y[idx]
        w = None if self.weight is None else self.weight[idx]
        return Applicants(cols, dict(self.kinds), y, w)

    def with_derived(self, derived: Sequence[Derived]) -> Applicants:
        """These applicants with the derived attributes' columns added (or recomputed)."""
        if not derived:
            return self
        cols = {n: list(v) for n, v in derive_columns(self.columns, len(self), derived).items()}
        kinds = {**self.kinds, **{d.name: d.kind for d in derived}}
        return Applicants(cols, kinds, self.y, self.weight, dict(self.extra))

    def row(self, i: int) -> dict[str, Any]:
        return {n: v[i] for n, v in self.columns.items()}

    def require_outcome(self) -> np.ndarray[Any, Any]:
        if self.y is None:
            raise DataError("this needs the outcome column (good/bad)")
        return self.y


def _kind(values: Sequence[Any]) -> Kind:
    return (
        "numerical"
        if all(isinstance(v, int | float) for v in values if v is not None)
        else ("categorical")
    )


def from_frame(
    frame: Any,
    target: str | None,
    *,
    bad_values: frozenset[str] = BAD_VALUES,
    exclude: Sequence[str] = (),
) -> Applicants:
    """Applicants from a pandas frame; ``target`` (if given) is the good/bad column."""
    import pandas as pd

    if target is not None and target not in frame.columns:
        raise DataError(f"no outcome column {target!r}; columns are {list(frame.columns)[:20]}")
    y = None
    if target is not None:
        raw = frame[target]
        if raw.isna().any():
            raise DataError(f"column {target!r}: {int(raw.isna().sum())} rows without an outcome")
        y = np.asarray([str(v).strip().lower() in bad_values for v in raw], dtype=np.int64)
        if y.min() == y.max():
            raise DataError(f"column {target!r}: every row has the same outcome")
    columns: dict[str, list[Any]] = {}
    kinds: dict[str, Kind] = {}
    for name in frame.columns:
        if name == target or name in exclude:
            continue
        col = frame[name]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        values = [None if pd.isna(v) else (float(v) if numeric else str(v)) for v in col]
        columns[str(name)] = values
        kinds[str(name)] = "numerical" if numeric else "categorical"
    if not columns:
        raise DataError("no attribute columns besides the outcome")
    return Applicants(columns, kinds, y)


def read_csv(
    path: Path,
    target: str | None,
    *,
    bad_values: frozenset[str] = BAD_VALUES,
    exclude: Sequence[str] = (),
) -> Applicants:
    """A CSV of applicants (one row each; numbers become numerical variables)."""
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    return from_frame(frame, target, bad_values=bad_values, exclude=exclude)


def kinds_of(columns: dict[str, list[Any]]) -> dict[str, Kind]:
    """Kinds guessed from Python values (for applicants given as JSON)."""
    return {n: _kind(v) for n, v in columns.items()}
