"""Derived attributes: ratios and crossed categories an analyst adds to the raw columns.

A scorecard bins each attribute on its own; some risks live in a combination the binning
cannot see, such as the monthly instalment (amount / duration) or a checking-account
status read together with the savings. A :class:`Derived` attribute is computed from an
applicant's raw values (or from a derived attribute listed before it) the same way in
training, in ``credit score`` and in the pipeline stage, and is then binned and scored
like any other attribute. The specification is kept in the scorecard artefact, so the
served card computes what it was trained on.

Spelling (``credit train --derive``): ``name=a/b`` is the ratio of two numbers,
``name=a*b`` their product, ``name=a&b`` the crossed category ``"<a> & <b>"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fengkong.credit.binning import Kind

Op = Literal["ratio", "product", "cross"]
_SIGNS: dict[str, Op] = {"/": "ratio", "*": "product", "&": "cross"}


@dataclass(frozen=True)
class Derived:
    """``name`` computed from the attributes ``first`` and ``second`` by ``op``."""

    name: str
    op: Op
    first: str
    second: str

    @property
    def kind(self) -> Kind:
        return "categorical" if self.op == "cross" else "numerical"

    def value(self, a: Any, b: Any) -> Any:
        """The derived value of one applicant; ``None`` (missing) if an input is."""
        if a is None or b is None:
            return None
        if self.op == "cross":
            return f"{a} & {b}"
        try:
            x, y = float(a), float(b)
        except (TypeError, ValueError):
            return None
        if x != x or y != y:
            return None
        if self.op == "product":
            return x * y
        return x / y if y != 0 else None

    def spelling(self) -> str:
        sign = next(s for s, op in _SIGNS.items() if op == self.op)
        return f"{self.name}={self.first}{sign}{self.second}"

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "op": self.op, "first": self.first, "second": self.second}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Derived:
        op = str(d["op"])
        if op not in _SIGNS.values():
            raise ValueError(f"derived attribute {d.get('name')!r}: unknown operation {op!r}")
        return cls(str(d["name"]), op, str(d["first"]), str(d["second"]))  # type: ignore[arg-type]

    @classmethod
    def parse(cls, text: str) -> Derived:
        """``name=a/b``, ``name=a*b`` or ``name=a&b``."""
        name, eq, rest = text.partition("=")
        for sign, op in _SIGNS.items():
            first, found, second = rest.partition(sign)
            if eq and name.strip() and found and first.strip() and second.strip():
                return cls(name.strip(), op, first.strip(), second.strip())
        raise ValueError(f"derived attribute {text!r}: expected name=a/b, name=a*b or name=a&b")


def with_derived(applicant: Mapping[str, Any], derived: Sequence[Derived]) -> dict[str, Any]:
    """``applicant`` (``attribute -> value``) with the derived attributes added."""
    out = dict(applicant)
    for d in derived:
        out[d.name] = d.value(out.get(d.first), out.get(d.second))
    return out


def derive_columns(
    columns: Mapping[str, Sequence[Any]], n: int, derived: Sequence[Derived]
) -> dict[str, Sequence[Any]]:
    """Column-wise applicants (``n`` rows) with the derived attributes' columns added."""
    out: dict[str, Sequence[Any]] = dict(columns)
    missing: list[Any] = [None] * n
    for d in derived:
        a, b = out.get(d.first, missing), out.get(d.second, missing)
        out[d.name] = [d.value(x, y) for x, y in zip(a, b, strict=True)]
    return out
