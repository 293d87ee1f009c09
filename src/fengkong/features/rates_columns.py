"""The base-rate state of one entity kind in columns: what a snapshot stores of it, and
what a restart keeps until an event touches an entity.

Each entity is a handful of small objects (distinct-user windows with their queues, an
hourly level, a registrations queue); unpickling hundreds of thousands of them was the
largest part of a restart. Here the numbers are numpy columns, the user ids one table of
strings, and an entity is indexed by key: it becomes objects again only when an event
touches it (:meth:`RateColumns.take`) or the state is saved. Taking an entity gives back
exactly the state that was packed, so decisions are the same as with the objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

# An entity's plain state: last_ts, registrations, the windows' (last, queues, counts)
# as ``DistinctWindows.dump`` gives them, and ``HourlyLevel.dump``.
Level = tuple[float, float, int, int, int]
Windows = tuple[list[tuple[str, float]], list[list[tuple[float, str]]], list[int]]
Parts = tuple[float, list[float], Windows, Level]

_F, _I = np.float64, np.int64


class RateColumns:
    """Packed entities of one kind, with ``windows`` windows each."""

    def __init__(self, windows: int, keys: list[str], strings: list[str], cols: dict[str, Any]):
        self._setup(windows, keys, strings, cols)

    def _setup(
        self, windows: int, keys: list[str], strings: list[str], cols: dict[str, Any]
    ) -> None:
        self.windows = windows
        self.keys = keys
        self.strings = strings
        self.cols = cols
        self.index = dict(zip(keys, range(len(keys)), strict=True))
        self._check()

    @classmethod
    def pack(cls, windows: int, entities: Iterable[tuple[str, Parts]]) -> RateColumns:
        table: dict[str, int] = {}
        keys: list[str] = []
        last_ts: list[float] = []
        levels: list[Level] = []
        counts: list[list[int]] = []
        regs: list[float] = []
        reg_end: list[int] = []
        seen_val: list[int] = []
        seen_ts: list[float] = []
        seen_end: list[int] = []
        q_ts: list[list[float]] = [[] for _ in range(windows)]
        q_val: list[list[int]] = [[] for _ in range(windows)]
        q_end: list[list[int]] = [[] for _ in range(windows)]
        for key, (ts, registrations, (last, queues, cnt), level) in entities:
            keys.append(key)
            last_ts.append(ts)
            levels.append(level)
            counts.append(cnt)
            regs.extend(registrations)
            reg_end.append(len(regs))
            for value, seen in last:
                seen_val.append(table.setdefault(value, len(table)))
                seen_ts.append(seen)
            seen_end.append(len(seen_val))
            for w, queue in enumerate(queues):
                for seen, value in queue:
                    q_ts[w].append(seen)
                    q_val[w].append(table.setdefault(value, len(table)))
                q_end[w].append(len(q_ts[w]))
        lv = list(zip(*levels, strict=True)) if levels else [()] * 5
        cols: dict[str, Any] = {
            "last_ts": np.array(last_ts, _F),
            "decay": np.array(lv[0], _F),
            "ewma": np.array(lv[1], _F),
            "hour": np.array(lv[2], _I),
            "first_h": np.array(lv[3], _I),
            "n": np.array(lv[4], _I),
            "counts": np.array(counts, _I).reshape(len(keys), windows),
            "regs": np.array(regs, _F),
            "reg_off": _offsets(reg_end),
            "seen_val": np.array(seen_val, _I),
            "seen_ts": np.array(seen_ts, _F),
            "seen_off": _offsets(seen_end),
        }
        for w in range(windows):
            cols[f"q{w}_ts"] = np.array(q_ts[w], _F)
            cols[f"q{w}_val"] = np.array(q_val[w], _I)
            cols[f"q{w}_off"] = _offsets(q_end[w])
        return cls(windows, keys, list(table), cols)

    def __len__(self) -> int:
        return len(self.index)

    def _spans(self) -> list[tuple[str, tuple[str, ...]]]:
        """Each ragged part: its offsets' prefix and the columns those offsets index."""
        spans = [("reg", ("regs",)), ("seen", ("seen_ts", "seen_val"))]
        return spans + [(f"q{w}", (f"q{w}_ts", f"q{w}_val")) for w in range(self.windows)]

    def remaining(self) -> RateColumns:
        """The entities still packed, in columns of their own (no Python loop per entity)."""
        if len(self.index) == len(self.keys):
            return self
        rows = np.fromiter(self.index.values(), _I, len(self.index))
        c = self.cols
        out = {name: c[name][rows] for name in _PER_ENTITY}
        for prefix, columns in self._spans():
            off = c[f"{prefix}_off"]
            starts, lens = off[rows], off[rows + 1] - off[rows]
            new = _offsets_of(lens)
            at = np.repeat(starts - new[:-1], lens) + np.arange(new[-1], dtype=_I)
            for name in columns:
                out[name] = c[name][at]
            out[f"{prefix}_off"] = new
        return RateColumns(self.windows, list(self.index), self.strings, out)

    @classmethod
    def concat(cls, parts: list[RateColumns]) -> RateColumns:
        """One set of columns of several (distinct keys), with one table of the strings
        they use."""
        windows = parts[0].windows
        table: dict[str, int] = {}
        keys: list[str] = []
        cols: dict[str, list[Any]] = {}
        for part in parts:
            keys.extend(part.keys)
            values = [column for name, column in part.cols.items() if name.endswith("_val")]
            remap = np.full(len(part.strings), -1, _I)
            for j in np.unique(np.concatenate(values)).tolist():
                remap[j] = table.setdefault(part.strings[j], len(table))
            for name, column in part.cols.items():
                if name.endswith("_val"):
                    column = remap[column]
                elif name.endswith("_off") and name in cols:  # after the previous part's
                    column = column[1:] + cols[name][-1][-1]
                cols.setdefault(name, []).append(column)
        joined = {name: np.concatenate(columns) for name, columns in cols.items()}
        return cls(windows, keys, list(table), joined)

    def take(self, key: str) -> Parts | None:
        """The state of ``key`` (removed from the columns), ``None`` if not packed here."""
        i = self.index.pop(key, None)
        return None if i is None else self._parts(i)

    def items(self) -> Iterator[tuple[str, Parts]]:
        """Every entity still packed, with its state (the columns keep them)."""
        for key, i in self.index.items():
            yield key, self._parts(i)

    def expire(self, edge: float) -> int:
        """Drop the packed entities last seen at or before ``edge``; returns how many."""
        last_ts = self.cols["last_ts"]
        old = [k for k, i in self.index.items() if last_ts[i] <= edge]
        for k in old:
            del self.index[k]
        return len(old)

    def _parts(self, i: int) -> Parts:
        c, strings = self.cols, self.strings

        def span(name: str) -> slice:
            off = c[f"{name}_off"]
            return slice(int(off[i]), int(off[i + 1]))

        seen = span("seen")
        last = list(
            zip(
                [strings[j] for j in c["seen_val"][seen].tolist()],
                c["seen_ts"][seen].tolist(),
                strict=True,
            )
        )
        queues = []
        for w in range(self.windows):
            q = span(f"q{w}")
            values = [strings[j] for j in c[f"q{w}_val"][q].tolist()]
            queues.append(list(zip(c[f"q{w}_ts"][q].tolist(), values, strict=True)))
        level: Level = (
            float(c["decay"][i]),
            float(c["ewma"][i]),
            int(c["hour"][i]),
            int(c["first_h"][i]),
            int(c["n"][i]),
        )
        windows = (last, queues, c["counts"][i].tolist())
        return float(c["last_ts"][i]), c["regs"][span("reg")].tolist(), windows, level

    def _check(self) -> None:
        """Refuse columns that do not fit together (a damaged or foreign state)."""
        c, n = self.cols, len(self.keys)
        if len(self.index) != n or c["counts"].shape != (n, self.windows):
            raise ValueError("base-rate columns of other lengths")
        for name in ("last_ts", "decay", "ewma", "hour", "first_h", "n"):
            if len(c[name]) != n:
                raise ValueError(f"base-rate column {name} of another length")
        spans = [("reg", "regs", None), ("seen", "seen_ts", "seen_val")]
        spans += [(f"q{w}", f"q{w}_ts", f"q{w}_val") for w in range(self.windows)]
        for off_name, data, values in spans:
            off = c[f"{off_name}_off"]
            if len(off) != n + 1 or off[0] != 0 or off[-1] != len(c[data]):
                raise ValueError(f"base-rate offsets {off_name} do not fit")
            if n and np.any(np.diff(off) < 0):
                raise ValueError(f"base-rate offsets {off_name} go backwards")
            if values is not None:
                vals = c[values]
                if len(vals) != len(c[data]):
                    raise ValueError(f"base-rate column {values} of another length")
                if len(vals) and (vals.min() < 0 or vals.max() >= len(self.strings)):
                    raise ValueError(f"base-rate column {values} outside the strings")

    def __getstate__(self) -> tuple[int, list[str], list[str], dict[str, Any]]:
        # Only what is still packed: an entity taken out is saved by its owner.
        packed = self.remaining()
        return packed.windows, packed.keys, packed.strings, packed.cols

    def __setstate__(self, state: tuple[int, list[str], list[str], dict[str, Any]]) -> None:
        windows, keys, strings, cols = state
        self._setup(int(windows), list(keys), list(strings), dict(cols))


_PER_ENTITY = ("last_ts", "decay", "ewma", "hour", "first_h", "n", "counts")


def _offsets(ends: list[int]) -> np.ndarray:
    return np.array([0, *ends], _I)


def _offsets_of(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, _I)
    np.cumsum(lengths, out=out[1:])
    return out
