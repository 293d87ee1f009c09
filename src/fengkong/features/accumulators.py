"""Accumulators: the per-entity state behind each group of feature definitions.

An entity's state is a plain list ``[last_ts, slot, slot, ...]`` with one slot per
accumulator. A slot is ``None`` until the accumulator first keeps something and goes back
to ``None`` when everything in it has left the window, so an entity pays only for what it
uses. Slots are flat lists (or tuples, or a bare timestamp) of ints, floats and strings:
no deques, no per-bucket objects, which keeps an entity small and cheap to pickle, and the
values stay mergeable (counts, integer-cent sums and sums of squares, last-seen sets) for a
Redis implementation later.

Accumulators do not run per event through method calls: each one *emits* the Python
source of its step (write its features as they were before the event, then add the event),
and the engine compiles the steps of all accumulators into one function (see
``engine.py``). The rare paths (expiry of old buckets, the last-seen sets) are the
plain functions of ``slots.py``, called from that code.

Windows are bucketed: a window of ``n`` buckets of width ``w`` seconds covers the buckets
``cur - n + 1 .. cur`` where ``cur = ts // w`` is the current event's bucket. Every
accumulator expires on that same rule, so every windowed value is exactly reproducible
from the raw events (see docs/features.md, "Windows").
"""

from __future__ import annotations

from fengkong.features.fields import value_var
from fengkong.features.slots import (
    SMALL_SEEN,
    EntityState,
    Out,
    amount_expire,
    cell_centre,
    cell_of,
    count_expire,
    haversine_km,
    pairs_expire,
    percentile_expire,
    seen_expire,
)
from fengkong.features.spec import FeatureDef

__all__ = [
    "AmountWindow",
    "CountWindow",
    "EntityState",
    "FirstSeenWindow",
    "LastWindow",
    "Out",
    "PercentileWindow",
    "SeenWindow",
    "cell_centre",
    "cell_of",
    "haversine_km",
]


# ---------------------------------------------------------------- accumulators


class Accumulator:
    """One group of definitions sharing a field, filter and window: one state slot.

    :meth:`emit` returns the source lines of its step for the engine's compiled
    function. Those lines may read the event's locals (``ts``, ``x`` cents, ``h`` local
    hour, ``lat``/``lon``, ``v_<field>``), the bucket index ``c<width>``, the filter
    flag ``acc``, ``st`` (the entity state) and ``out``; they use ``s``, ``k``, ``m``,
    ``q``, ``t`` as scratch.
    """

    __slots__ = ("n", "ops", "types", "width")

    def __init__(self, d: FeatureDef) -> None:
        self.width = d.bucket_s
        self.n = d.n_buckets
        self.types = d.types
        self.ops = d.operations

    def outputs(self) -> list[str]:
        raise NotImplementedError

    def fields(self) -> tuple[str, ...]:
        """Event values the step reads, beyond ``ts`` (loaded once per event)."""
        return ()

    def emit(self, i: int, acc: str) -> list[str]:
        raise NotImplementedError

    def prune(self, st: EntityState, i: int, lim: int) -> bool:
        """Drop what has left the window (buckets ``<= lim``, see :meth:`limit`);
        True when the slot is empty."""
        raise NotImplementedError

    def limit(self, now: float) -> int:
        """The newest bucket that has left the window at ``now``."""
        return int(now // self.width) - self.n

    def _lim(self) -> str:
        return f"c{self.width} - {self.n}"


class CountWindow(Accumulator):
    """``count(event [where ...]) by E over W``. Slot: ``[total, idx, n, idx, n, ...]``."""

    __slots__ = ("name",)

    def __init__(self, d: FeatureDef) -> None:
        super().__init__(d)
        self.name = d.name

    def outputs(self) -> list[str]:
        return [self.name]

    def emit(self, i: int, acc: str) -> list[str]:
        c, lim, name = f"c{self.width}", self._lim(), repr(self.name)
        return [
            f"s = st[{i}]",
            f"if s is not None and s[1] <= {lim}:",
            f"    s = st[{i}] = count_expire(s, {lim})",
            "if s is None:",
            f"    out[{name}] = 0",
            f"    if {acc}:",
            f"        st[{i}] = [1, {c}, 1]",
            "else:",
            f"    out[{name}] = s[0]",
            f"    if {acc}:",
            "        s[0] += 1",
            # same bucket (a late event takes the path of late.py)
            f"        if s[-2] >= {c}:",
            "            s[-1] += 1",
            "        else:",
            f"            s += ({c}, 1)",
        ]

    def prune(self, st: EntityState, i: int, lim: int) -> bool:
        s = st[i]
        if s is not None and s[1] <= lim:
            s = st[i] = count_expire(s, lim)
        return s is None


class AmountWindow(Accumulator):
    """sum / mean / std / max / min / zscore of amounts over one window.

    Slot: ``[count, sum, sum_sq, (idx, count, sum, sum_sq, max, min)...]`` in integer
    cents, so sums are exact and mergeable (Redis: HINCRBY).
    """

    __slots__ = (
        "field",
        "o_max",
        "o_mean",
        "o_min",
        "o_std",
        "o_sum",
        "o_z",
        "scale",
        "var",
        "z_min",
    )

    def __init__(self, defs: list[FeatureDef], z_min_count: int = 3) -> None:
        super().__init__(defs[0])
        self.var, self.scale = value_var(defs[0])
        self.field = "cents" if defs[0].attribute is None else defs[0].field
        names = {d.agg: d.name for d in defs}
        self.o_sum = names.get("sum")
        self.o_mean = names.get("mean")
        self.o_std = names.get("std")
        self.o_max = names.get("max")
        self.o_min = names.get("min")
        self.o_z = names.get("zscore")
        self.z_min = z_min_count

    def outputs(self) -> list[str]:
        names = (self.o_sum, self.o_mean, self.o_std, self.o_max, self.o_min, self.o_z)
        return [n for n in names if n is not None]

    def fields(self) -> tuple[str, ...]:
        # ``x`` is loaded as "cents"; an attribute's local by its ``attributes.NAME``.
        return (self.field,)

    def emit(self, i: int, acc: str) -> list[str]:
        c, lim = f"c{self.width}", self._lim()
        code = [
            f"s = st[{i}]",
            f"if s is not None and s[3] <= {lim}:",
            f"    s = st[{i}] = amount_expire(s, {lim})",
            "if s is None:",
        ]
        if self.o_sum is not None:
            code.append(f"    out[{self.o_sum!r}] = 0.0")
        x, div = self.var, "" if self.scale == 1 else f" / {self.scale}"
        for name in (self.o_mean, self.o_std, self.o_max, self.o_min, self.o_z):
            if name is not None:
                code.append(f"    out[{name!r}] = None")
        code += [
            f"    if {x} is not None and {acc}:",
            f"        st[{i}] = [1, {x}, {x} * {x}, {c}, 1, {x}, {x} * {x}, {x}, {x}]",
            "else:",
            "    k = s[0]",
            "    m = s[1]",
        ]
        if self.o_sum is not None:
            code.append(f"    out[{self.o_sum!r}] = m{div}")
        if self.o_mean is not None:
            code.append(f"    out[{self.o_mean!r}] = m / k{div}")
        if self.o_std is not None or self.o_z is not None:
            if self.scale == 1:
                # Floats: rounding can take k·Σx² − (Σx)² a hair below zero.
                code.append("    q = sqrt(max(k * s[2] - m * m, 0.0)) / k")
            else:
                # Exact integer numerator: k² · variance in cents².
                code.append("    q = sqrt(k * s[2] - m * m) / k")
        if self.o_std is not None:
            code.append(f"    out[{self.o_std!r}] = q{div}")
        if self.o_z is not None:
            # Floats: a spread within the rounding noise of k·Σx² − (Σx)² (about
            # √ε · |mean|) is no spread.
            floor = "0" if self.scale != 1 else "1e-7 * abs(m / k) + 1e-12"
            code.append(
                f"    out[{self.o_z!r}] = ({x} - m / k) / q "
                f"if {x} is not None and k >= {self.z_min} and q > {floor} else None"
            )
        if self.o_max is not None:
            code.append(f"    out[{self.o_max!r}] = max(s[7::6]){div}")
        if self.o_min is not None:
            code.append(f"    out[{self.o_min!r}] = min(s[8::6]){div}")
        code += [
            f"    if {x} is not None and {acc}:",
            f"        q = {x} * {x}",
            "        s[0] = k + 1",
            f"        s[1] = m + {x}",
            "        s[2] += q",
            f"        if s[-6] >= {c}:",
            "            s[-5] += 1",
            f"            s[-4] += {x}",
            "            s[-3] += q",
            f"            if {x} > s[-2]:",
            f"                s[-2] = {x}",
            f"            if {x} < s[-1]:",
            f"                s[-1] = {x}",
            "        else:",
            f"            s += ({c}, 1, {x}, q, {x}, {x})",
        ]
        return code

    def prune(self, st: EntityState, i: int, lim: int) -> bool:
        s = st[i]
        if s is not None and s[3] <= lim:
            s = st[i] = amount_expire(s, lim)
        return s is None


class SeenWindow(Accumulator):
    """distinct / new / last_seen of one field over one window (see :func:`seen_step`).

    Slot: the values with their last-seen times, least recently seen first, bounded at
    ``cap`` values (least recently seen dropped first), so a distinct count is exact
    below ``cap`` and ``min(true, cap)`` above it.
    """

    __slots__ = ("cap", "field", "o_distinct", "o_last", "o_new")

    def __init__(self, defs: list[FeatureDef], cap: int) -> None:
        super().__init__(defs[0])
        self.field = defs[0].field
        names = {d.agg: d.name for d in defs}
        self.o_distinct = names.get("distinct")
        self.o_new = names.get("new")
        self.o_last = names.get("last_seen")
        self.cap = cap

    def outputs(self) -> list[str]:
        names = (self.o_distinct, self.o_new, self.o_last)
        return [n for n in names if n is not None]

    def fields(self) -> tuple[str, ...]:
        return (self.field,)

    def emit(self, i: int, acc: str) -> list[str]:
        v, lim = f"v_{self.field}", self._lim()
        general = (
            f"seen_step(st, {i}, {v}, ts, {self.width}, {lim}, {self.cap}, "
            f"{acc}, out, {self.o_distinct!r}, {self.o_new!r}, {self.o_last!r})"
        )
        empty, found = [], []
        if self.o_distinct is not None:
            empty.append(f"out[{self.o_distinct!r}] = 0")
            found.append(f"out[{self.o_distinct!r}] = len(s) >> 1")
        if self.o_new is not None:
            empty.append(f"out[{self.o_new!r}] = None")
            found.append(f"out[{self.o_new!r}] = None if {v} is None else k < 0")
        if self.o_last is not None:
            empty.append(f"out[{self.o_last!r}] = None")
            found.append(f"out[{self.o_last!r}] = None if k < 0 else ts - s[k + 1]")
        grow = [f"    elif len(s) > {2 * SMALL_SEEN}:", f"        st[{i}] = seen_dict(s)"]
        # Inline: the common case of a small list with nothing to expire; the rest
        # (expiry, sets kept as dicts, a value equal to a timestamp) in seen_step.
        return [
            f"s = st[{i}]",
            "if s is None:",
            *("    " + line for line in empty),
            f"    if {acc} and {v} is not None:",
            f"        st[{i}] = [{v}, ts]",
            f"elif type(s) is list and s[1] // {self.width} > {lim}:",
            f"    k = s.index({v}) if {v} in s else -2",
            "    if k & 1:",
            f"        {general}",
            "    else:",
            *("        " + line for line in found),
            f"        if {acc} and {v} is not None:",
            "            if k >= 0:",
            "                del s[k : k + 2]",
            f"            s += ({v}, ts)",
            f"            if len(s) > {2 * self.cap}:",
            "                del s[:2]",
            *(("        " + line for line in grow) if self.cap > SMALL_SEEN else ()),
            "else:",
            f"    {general}",
        ]

    def prune(self, st: EntityState, i: int, lim: int) -> bool:
        if st[i] is not None:
            st[i] = seen_expire(st[i], self.width, lim)
        return st[i] is None


class FirstSeenWindow(Accumulator):
    """``first_seen(E) over W``: seconds since E's first event in the window.

    Slot: ``[idx, first ts in bucket, idx, ts, ...]``, one pair per active bucket.
    """

    __slots__ = ("name",)

    def __init__(self, d: FeatureDef) -> None:
        super().__init__(d)
        self.name = d.name

    def outputs(self) -> list[str]:
        return [self.name]

    def emit(self, i: int, acc: str) -> list[str]:
        c, lim, name = f"c{self.width}", self._lim(), repr(self.name)
        return [
            f"s = st[{i}]",
            f"if s is not None and s[0] <= {lim}:",
            f"    s = st[{i}] = pairs_expire(s, {lim})",
            "if s is None:",
            f"    out[{name}] = None",
            f"    if {acc}:",
            f"        st[{i}] = [{c}, ts]",
            "else:",
            f"    out[{name}] = ts - s[1]",
            f"    if {acc} and s[-2] < {c}:",
            f"        s += ({c}, ts)",
        ]

    def prune(self, st: EntityState, i: int, lim: int) -> bool:
        s = st[i]
        if s is not None and s[0] <= lim:
            s = st[i] = pairs_expire(s, lim)
        return s is None


class LastWindow(Accumulator):
    """``since(event where ...)`` / ``last(FIELD where ...)``: the last matching event.

    Slot: the event's ts for ``since``; ``(ts, value)`` for ``last``.
    """

    __slots__ = ("field", "is_since", "name")

    def __init__(self, d: FeatureDef) -> None:
        super().__init__(d)
        self.name = d.name
        self.field = d.field
        self.is_since = d.agg == "since"

    def outputs(self) -> list[str]:
        return [self.name]

    def fields(self) -> tuple[str, ...]:
        return () if self.is_since else (self.field,)

    def emit(self, i: int, acc: str) -> list[str]:
        w, lim, name = self.width, self._lim(), repr(self.name)
        if self.is_since:
            return [
                f"t = st[{i}]",
                f"if t is not None and t // {w} <= {lim}:",
                f"    t = st[{i}] = None",
                f"out[{name}] = None if t is None else ts - t",
                f"if {acc}:",
                f"    st[{i}] = ts",
            ]
        return [
            f"s = st[{i}]",
            f"if s is not None and s[0] // {w} <= {lim}:",
            f"    s = st[{i}] = None",
            f"out[{name}] = None if s is None else s[1]",
            f"if {acc} and v_{self.field} is not None:",
            f"    st[{i}] = (ts, v_{self.field})",
        ]

    def prune(self, st: EntityState, i: int, lim: int) -> bool:
        s = st[i]
        if s is not None:
            t = s if self.is_since else s[0]
            if t // self.width <= lim:
                st[i] = None
        return st[i] is None


class PercentileWindow(Accumulator):
    """``percentile(amount)``: rank of this amount among the last ``size`` in the window.

    Slot: ``[sorted cents, idx, cents, idx, cents, ...]`` (the pairs in arrival order).
    """

    __slots__ = ("field", "min_count", "name", "size", "var")

    def __init__(self, d: FeatureDef, size: int = 200, min_count: int = 5) -> None:
        super().__init__(d)
        self.name = d.name
        self.var = value_var(d)[0]
        self.field = "cents" if d.attribute is None else d.field
        self.size = size
        self.min_count = min_count

    def outputs(self) -> list[str]:
        return [self.name]

    def fields(self) -> tuple[str, ...]:
        # ``x`` is loaded as "cents"; an attribute's local by its ``attributes.NAME``.
        return (self.field,)

    def emit(self, i: int, acc: str) -> list[str]:
        c, lim, name, x = f"c{self.width}", self._lim(), repr(self.name), self.var
        return [
            f"s = st[{i}]",
            f"if s is not None and s[1] <= {lim}:",
            f"    s = st[{i}] = percentile_expire(s, {lim})",
            f"if s is None or {x} is None or len(s[0]) < {self.min_count}:",
            f"    out[{name}] = None",
            "else:",
            "    q = s[0]",
            f"    k = bisect_left(q, {x})",
            f"    out[{name}] = 100.0 * (k + (bisect_right(q, {x}) - k) / 2) / len(q)",
            f"if {x} is not None and {acc}:",
            "    if s is None:",
            f"        st[{i}] = [[{x}], {c}, {x}]",
            "    else:",
            f"        s += ({c}, {x})",
            "        q = s[0]",
            f"        insort(q, {x})",
            f"        if len(q) > {self.size}:",
            "            del q[bisect_left(q, s[2])]",
            "            del s[1:3]",
        ]

    def prune(self, st: EntityState, i: int, lim: int) -> bool:
        s = st[i]
        if s is not None and s[1] <= lim:
            s = st[i] = percentile_expire(s, lim)
        return s is None
