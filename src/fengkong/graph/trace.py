"""Post-disbursement fund tracing: where did a credit draw's money go?

From the draw, money is followed forward in time over at most ``hops`` transfers. At
each account the traced parcel is split over the account's outgoing money after the
parcel arrived (within ``window`` of the draw) in proportion to those amounts; what the
account does not send on stays there. Merchants and cards are end points (spent or
cashed out). The attribution is an upper bound: it assumes the traced money leaves
before any other balance the account holds.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from fengkong.graph.entities import KIND_NAMES

DAY = 86400.0


@dataclass(slots=True)
class Landing:
    node: str
    amount: float
    hops: int
    path: list[str]

    def to_dict(self) -> dict[str, Any]:
        kind = KIND_NAMES.get(self.node[0], self.node[0])
        return {
            "node": self.node,
            "kind": kind,
            "amount": round(self.amount, 2),
            "hops": self.hops,
            "path": self.path,
        }


@dataclass(slots=True)
class TraceResult:
    origin: str
    amount: float
    ts: float
    landings: list[Landing] = field(default_factory=list)
    flows: list[dict[str, Any]] = field(default_factory=list)

    def by_kind(self) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for land in self.landings:
            out[KIND_NAMES.get(land.node[0], land.node[0])] += land.amount
        return {k: round(v, 2) for k, v in sorted(out.items())}

    def to_dict(self) -> dict[str, Any]:
        merged: dict[str, Landing] = {}
        for land in self.landings:
            m = merged.get(land.node)
            if m is None:
                merged[land.node] = Landing(land.node, land.amount, land.hops, land.path)
            else:
                m.amount += land.amount
        top = sorted(merged.values(), key=lambda x: -x.amount)
        return {
            "origin": self.origin,
            "amount": round(self.amount, 2),
            "ts": self.ts,
            "landed_by_kind": self.by_kind(),
            "landings": [x.to_dict() for x in top],
            "flows": self.flows,
        }


class FlowIndex:
    """Outgoing money per node, sorted by time, for repeated traces."""

    def __init__(self, money: pd.DataFrame) -> None:
        m = money.sort_values("ts", kind="stable")
        self._ts: dict[str, list[float]] = {}
        self._rows: dict[str, list[tuple[str, float, float, str]]] = {}
        for src, grp in m.groupby("src", sort=False):
            self._ts[str(src)] = grp["ts"].astype(float).tolist()
            self._rows[str(src)] = list(
                zip(
                    grp["dst"].astype(str),
                    grp["amount"].astype(float),
                    grp["ts"].astype(float),
                    grp["event_id"].astype(str),
                    strict=True,
                )
            )
        self._money = m

    def draw(self, event_id: str) -> tuple[str, float, float]:
        """(account, amount, ts) of a credit draw by its event id."""
        row = self._money[(self._money["event_id"] == event_id)]
        if row.empty:
            raise KeyError(f"no money event {event_id!r}")
        r = row.iloc[0]
        return (
            str(r["dst"] if r["kind"] == "credit_draw" else r["src"]),
            float(r["amount"]),
            float(r["ts"]),
        )

    def out_edges(
        self, node: str, after: float, until: float
    ) -> list[tuple[str, float, float, str]]:
        times = self._ts.get(node)
        if not times:
            return []
        lo, hi = bisect.bisect_left(times, after), bisect.bisect_right(times, until)
        return self._rows[node][lo:hi]


def trace(
    index: FlowIndex,
    origin: str,
    amount: float,
    ts: float,
    hops: int = 3,
    window: float = 7 * DAY,
    min_amount: float = 1.0,
) -> TraceResult:
    """Follow ``amount`` arriving at ``origin`` at ``ts`` over ``hops`` transfers."""
    result = TraceResult(origin, amount, ts)
    stack: list[tuple[str, float, float, int, list[str]]] = [(origin, amount, ts, 0, [origin])]
    until = ts + window
    while stack:
        node, amt, t, depth, path = stack.pop()
        is_account = node.startswith("a:")
        edges = self_loops_removed(index.out_edges(node, t, until), node) if is_account else []
        if depth >= hops or not edges:
            result.landings.append(Landing(node, amt, depth, path))
            continue
        out_total = sum(e[1] for e in edges)
        moved = min(amt, out_total)
        if amt - moved >= min_amount:
            result.landings.append(Landing(node, amt - moved, depth, path))
        for dst, e_amt, e_ts, eid in edges:
            share = moved * e_amt / out_total
            if share < min_amount:
                continue
            result.flows.append(
                {
                    "src": node,
                    "dst": dst,
                    "amount": round(share, 2),
                    "ts": e_ts,
                    "event_id": eid,
                    "hop": depth + 1,
                }
            )
            stack.append((dst, share, e_ts, depth + 1, [*path, dst]))
    return result


def self_loops_removed(
    edges: list[tuple[str, float, float, str]], node: str
) -> list[tuple[str, float, float, str]]:
    return [e for e in edges if e[0] != node]
