"""Money-laundering shapes over money edges: cycles, fan-in, fan-out, scatter-gather, chains.

Every detector is time-respecting: money moves forward in time, and a whole pattern fits
in ``window`` seconds (each forwarding hop in ``hop_window``). Nodes whose degree exceeds
``max_degree`` (payroll accounts, big merchants) are left out so that they cannot join
unrelated people into one pattern. Amounts are only used when ``amount_ratio`` is set
(forwarded amount / received amount within the range), so the detectors can be run
without amount-level evidence.
"""

from __future__ import annotations

import bisect
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fengkong.graph.rings import Ring, timeline

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class ShapeParams:
    window: float = 7 * DAY
    hop_window: float = 3 * DAY
    min_fan: int = 6
    min_cycle_len: int = 3
    max_cycle_len: int = 6
    min_chain_len: int = 4
    max_mid_degree: int = 4
    min_scatter: int = 3
    max_degree: int = 200
    amount_ratio: tuple[float, float] | None = None
    cycle_budget: int = 2_000_000  # DFS expansions, so a dense graph cannot stall a run


class _Coded:
    """Money edges with integer node codes, sorted by time, hubs removed."""

    def __init__(self, money: pd.DataFrame, max_degree: int) -> None:
        m = money.sort_values("ts", kind="stable").reset_index(drop=True)
        codes, names = pd.factorize(pd.concat([m["src"], m["dst"]], ignore_index=True))
        n = len(m)
        src, dst = codes[:n], codes[n:]
        pairs = pd.DataFrame({"s": src, "d": dst}).drop_duplicates()
        deg = np.bincount(pairs["s"], minlength=len(names)) + np.bincount(
            pairs["d"], minlength=len(names)
        )
        keep = (deg[src] <= max_degree) & (deg[dst] <= max_degree) & (src != dst)
        self.names: list[str] = [str(x) for x in names]
        self.degree = deg
        self.src = src[keep]
        self.dst = dst[keep]
        self.ts = m["ts"].to_numpy(dtype=float)[keep]
        self.amount = m["amount"].to_numpy(dtype=float)[keep]

    def flows(self, idx: list[int] | np.ndarray) -> list[dict[str, Any]]:
        return [
            {
                "src": self.names[self.src[i]],
                "dst": self.names[self.dst[i]],
                "amount": round(float(self.amount[i]), 2),
                "ts": float(self.ts[i]),
            }
            for i in idx
        ]

    def ring(
        self, kind: str, rid: str, score: float, idx: list[int], stats: dict[str, Any]
    ) -> Ring:
        nodes = {self.names[self.src[i]] for i in idx} | {self.names[self.dst[i]] for i in idx}
        flows = self.flows(idx)
        return Ring(
            ring_id=rid,
            kind=kind,
            score=score,
            members=sorted(n for n in nodes if n.startswith("a:")),
            entities=sorted(n for n in nodes if not n.startswith("a:")),
            edges=[(f["src"], f["dst"], "flow") for f in flows],
            evidence={
                "flows": flows,
                "timeline": timeline([f["ts"] for f in flows]),
                "total_amount": round(sum(f["amount"] for f in flows), 2),
                **stats,
            },
        )


def _ratio_ok(p: ShapeParams, received: float, sent: float) -> bool:
    if p.amount_ratio is None:
        return True
    lo, hi = p.amount_ratio
    return received > 0 and lo <= sent / received <= hi


def find_fans(money: pd.DataFrame, p: ShapeParams, direction: str = "in") -> list[Ring]:
    """Accounts receiving from (``in``) or sending to (``out``) ≥ ``min_fan`` distinct
    partners within ``window``; the score is the most partners in one window."""
    c = _Coded(money, p.max_degree)
    centre, other = (c.dst, c.src) if direction == "in" else (c.src, c.dst)
    by_centre: dict[int, list[int]] = defaultdict(list)
    for i in range(len(centre)):
        by_centre[int(centre[i])].append(i)
    rings: list[Ring] = []
    for node, idx in by_centre.items():
        if len(idx) < p.min_fan or not c.names[node].startswith("a:"):
            continue
        if len({int(other[i]) for i in idx}) < p.min_fan:
            continue
        best, best_lo, best_hi = 0, 0, 0
        counts: dict[int, int] = defaultdict(int)
        lo = 0
        for hi, i in enumerate(idx):  # idx is in time order: slide a window over it
            counts[int(other[i])] += 1
            while c.ts[i] - c.ts[idx[lo]] > p.window:
                o = int(other[idx[lo]])
                counts[o] -= 1
                if counts[o] == 0:
                    del counts[o]
                lo += 1
            if len(counts) > best:
                best, best_lo, best_hi = len(counts), lo, hi
        if best >= p.min_fan:
            sel = idx[best_lo : best_hi + 1]
            rings.append(
                c.ring(
                    f"fan_{direction}",
                    "",
                    float(best),
                    sel,
                    {"centre": c.names[node], "partners": best},
                )
            )
    return rings


def find_cycles(money: pd.DataFrame, p: ShapeParams) -> list[Ring]:
    """Simple cycles of ``min_cycle_len``..``max_cycle_len`` accounts whose transfers run
    forward in time within ``window``; each node set is reported once."""
    c = _Coded(money, p.max_degree)
    out_ts: dict[int, list[float]] = defaultdict(list)
    out_idx: dict[int, list[int]] = defaultdict(list)
    for i in range(len(c.src)):
        out_ts[int(c.src[i])].append(float(c.ts[i]))
        out_idx[int(c.src[i])].append(i)
    found: dict[frozenset[int], list[int]] = {}
    budget = p.cycle_budget
    for e0 in range(len(c.src)):
        s, v0, t0 = int(c.src[e0]), int(c.dst[e0]), float(c.ts[e0])
        if v0 <= s:  # canonical start: the smallest node of the cycle
            continue
        stack: list[tuple[int, float, list[int], set[int]]] = [(v0, t0, [e0], {s, v0})]
        while stack and budget > 0:
            node, t, path, on = stack.pop()
            times = out_ts.get(node)
            if not times:
                continue
            start = bisect.bisect_left(times, t)
            end = bisect.bisect_right(times, t0 + p.window)
            for j in range(start, end):
                budget -= 1
                e = out_idx[node][j]
                w = int(c.dst[e])
                if not _ratio_ok(p, float(c.amount[path[-1]]), float(c.amount[e])):
                    continue
                if w == s and len(path) + 1 >= p.min_cycle_len:
                    key = frozenset(on)
                    if key not in found:
                        found[key] = [*path, e]
                elif w > s and w not in on and len(path) + 1 < p.max_cycle_len:
                    stack.append((w, float(c.ts[e]), [*path, e], on | {w}))
    return [
        c.ring("cycle", "", float(len(idx)), idx, {"length": len(idx)}) for idx in found.values()
    ]


def find_scatter_gather(money: pd.DataFrame, p: ShapeParams) -> list[Ring]:
    """A source sends to ≥ ``min_scatter`` intermediaries that each pass money on to one
    common target within ``hop_window`` (the whole within ``window``)."""
    c = _Coded(money, p.max_degree)
    e = pd.DataFrame(
        {"s": c.src, "m": c.dst, "t1": c.ts, "a1": c.amount, "i1": np.arange(len(c.src))}
    )
    f = pd.DataFrame(
        {"m": c.src, "t": c.dst, "t2": c.ts, "a2": c.amount, "i2": np.arange(len(c.src))}
    )
    j = e.merge(f, on="m")
    j = j[(j["t2"] >= j["t1"]) & (j["t2"] - j["t1"] <= p.hop_window) & (j["s"] != j["t"])]
    if p.amount_ratio is not None:
        r = j["a2"] / j["a1"].where(j["a1"] > 0)
        j = j[(r >= p.amount_ratio[0]) & (r <= p.amount_ratio[1])]
    rings: list[Ring] = []
    for (s, t), grp in j.groupby(["s", "t"], sort=False):
        mids = grp["m"].nunique()
        if mids < p.min_scatter:
            continue
        if grp["t2"].max() - grp["t1"].min() > p.window:
            grp = grp[grp["t1"] >= grp["t2"].max() - p.window]
            mids = grp["m"].nunique()
            if mids < p.min_scatter:
                continue
        idx = sorted(set(grp["i1"].tolist()) | set(grp["i2"].tolist()))
        rings.append(
            c.ring(
                "scatter_gather",
                "",
                float(mids),
                idx,
                {"source": c.names[int(s)], "target": c.names[int(t)], "intermediaries": int(mids)},
            )
        )
    return rings


def find_chains(money: pd.DataFrame, p: ShapeParams) -> list[Ring]:
    """Paths of ≥ ``min_chain_len`` transfers through pass-through accounts (degree ≤
    ``max_mid_degree``), each forwarded within ``hop_window`` of arriving."""
    c = _Coded(money, p.max_degree)
    n = len(c.src)
    length = np.ones(n, dtype=np.int32)
    pred = np.full(n, -1, dtype=np.int64)
    first = np.arange(n)  # the chain's first edge, so its whole span stays in the window
    incoming: dict[int, deque[int]] = defaultdict(deque)
    for i in range(n):
        u, t = int(c.src[i]), float(c.ts[i])
        q = incoming.get(u)
        if q is not None and c.degree[u] <= p.max_mid_degree:
            while q and t - c.ts[q[0]] > p.hop_window:
                q.popleft()
            for k in q:
                if (
                    length[k] + 1 > length[i]
                    and c.src[k] != c.dst[i]
                    and _ratio_ok(p, float(c.amount[k]), float(c.amount[i]))
                    and t - c.ts[first[k]] <= p.window
                ):
                    length[i], pred[i], first[i] = length[k] + 1, k, first[k]
        incoming[int(c.dst[i])].append(i)
    extended = np.zeros(n, dtype=bool)
    extended[pred[pred >= 0]] = True
    rings: list[Ring] = []
    for end in np.flatnonzero((length >= p.min_chain_len) & ~extended).tolist():
        path = [int(end)]
        while pred[path[-1]] >= 0:
            path.append(int(pred[path[-1]]))
        path.reverse()
        rings.append(c.ring("chain", "", float(len(path)), path, {"length": len(path)}))
    return rings


def find_shapes(money: pd.DataFrame, p: ShapeParams) -> list[Ring]:
    """All money shapes, each ring numbered within its kind."""
    rings = [
        *find_cycles(money, p),
        *find_fans(money, p, "in"),
        *find_fans(money, p, "out"),
        *find_scatter_gather(money, p),
        *find_chains(money, p),
    ]
    rings.sort(key=lambda r: (r.kind, -r.score))
    counters: dict[str, int] = defaultdict(int)
    for r in rings:
        counters[r.kind] += 1
        r.ring_id = f"{r.kind}-{counters[r.kind]}"
    return rings
