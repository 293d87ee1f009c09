"""Batch ring discovery: identifier communities (Leiden), dense account–merchant blocks
(FRAUDAR-style greedy peeling) and money shapes, assembled into ranked rings."""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fengkong.graph.entities import DEFAULT_CAPS, KIND_NAMES, STRONG_KINDS
from fengkong.graph.rings import Ring, timeline
from fengkong.graph.shapes import ShapeParams, find_shapes
from fengkong.graph.tables import GraphTables


@dataclass(frozen=True, slots=True)
class MineParams:
    shapes: ShapeParams = field(default_factory=ShapeParams)
    caps: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPS))
    min_accounts: int = 3
    # Linked components up to this many accounts are rings as they stand; bigger ones
    # (chains of households, a hub under its cap) are split by Leiden.
    max_ring: int = 50
    resolution: float = 1.0
    n_blocks: int = 3
    # A block is kept only if its density is this many times the whole graph's: the
    # honest core of popular merchants is dense too, just not unusually so.
    min_lift: float = 3.0
    seed: int = 0
    detectors: tuple[str, ...] = ("community", "dense_block", "shapes")


def find_communities(links: pd.DataFrame, p: MineParams) -> list[Ring]:
    """Leiden communities of the account–identifier graph over strong identifiers.

    Identifiers seen on one account link nothing and are dropped; identifiers on more
    accounts than their kind's cap are hubs and dropped too (they would glue strangers).
    """
    import igraph as ig
    import leidenalg

    if links.empty:
        return []
    strong = links[links["key"].str[0].isin(STRONG_KINDS)]
    if strong.empty:  # e.g. a transfers-only log: nothing strong links accounts
        return []
    pairs = strong.groupby(["account", "key"], sort=False)["ts"].agg(["min", "max"]).reset_index()
    deg = pairs.groupby("key")["account"].transform("size")
    cap = pairs["key"].str[0].map(lambda k: p.caps.get(k, 0))
    pairs = pairs[(deg >= 2) & (deg <= cap)].reset_index(drop=True)
    if pairs.empty:
        return []
    acc_codes, accs = pd.factorize(pairs["account"])
    key_codes, keys = pd.factorize(pairs["key"])
    n_acc = len(accs)
    g = ig.Graph(n=n_acc + len(keys), edges=np.column_stack([acc_codes, key_codes + n_acc]))
    membership = np.full(g.vcount(), -1, dtype=np.int64)
    next_id = 0
    # Leiden only where there is something to split.
    for comp in g.connected_components():
        if sum(1 for v in comp if v < n_acc) < p.min_accounts:
            continue
        if sum(1 for v in comp if v < n_acc) <= p.max_ring:
            membership[comp] = next_id
            next_id += 1
            continue
        sub = g.subgraph(comp)
        part = leidenalg.find_partition(
            sub,
            leidenalg.RBConfigurationVertexPartition,
            resolution_parameter=p.resolution,
            seed=p.seed,
        )
        for i, c in enumerate(part.membership):
            membership[comp[i]] = next_id + c
        next_id += max(part.membership) + 1
    pairs["community"] = membership[acc_codes]
    pairs["key_comm"] = membership[key_codes + n_acc]
    inside = pairs[(pairs["community"] >= 0) & (pairs["community"] == pairs["key_comm"])]
    rings: list[Ring] = []
    for _, grp in inside.groupby("community", sort=False):
        members = sorted(set(grp["account"]))
        if len(members) < p.min_accounts:
            continue
        shared = grp.groupby("key")["account"].agg(lambda s: sorted(set(s)))
        shared = shared[shared.map(len) >= 2]
        n_links = len(grp)
        score = n_links / len(members) * math.log2(1 + len(members))
        by_kind: dict[str, int] = {}
        for k in shared.index:
            name = KIND_NAMES.get(k[0], k[0])
            by_kind[name] = by_kind.get(name, 0) + 1
        rings.append(
            Ring(
                ring_id="",
                kind="community",
                score=score,
                members=members,
                entities=sorted(shared.index),
                edges=[(a, k, "link") for a, k in zip(grp["account"], grp["key"], strict=True)],
                evidence={
                    "shared_identifiers": {k: v for k, v in list(shared.items())[:50]},
                    "shared_by_kind": by_kind,
                    "links": n_links,
                    "timeline": timeline([*grp["min"].tolist(), *grp["max"].tolist()]),
                },
            )
        )
    return rings


def peel(
    u: np.ndarray, v: np.ndarray, w: np.ndarray, n_u: int, n_v: int
) -> tuple[np.ndarray, float]:
    """Greedy peeling of a weighted bipartite graph (the FRAUDAR idea).

    Repeatedly removes the node with the least remaining weighted degree and keeps the
    node set with the highest average weight per node, g(S) = f(S) / |S|. Returns a mask
    over the ``n_u + n_v`` nodes (u side first) and the best g.
    """
    n = n_u + n_v
    a = np.concatenate([u, v + n_u])
    b = np.concatenate([v + n_u, u])
    ww = np.concatenate([w, w])
    order = np.argsort(a, kind="stable")
    nbr, wt = b[order], ww[order]
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(a, minlength=n), out=start[1:])
    prio = np.bincount(a, weights=ww, minlength=n).astype(float)
    active = prio > 0
    size = int(active.sum())
    f = float(w.sum())
    best_g, best_removed = (f / size if size else 0.0), 0
    heap = [(float(prio[i]), int(i)) for i in np.flatnonzero(active)]
    heapq.heapify(heap)
    alive = active.copy()
    removed: list[int] = []
    prio_l = prio.tolist()
    while heap and size > 1:
        pr, x = heapq.heappop(heap)
        if not alive[x] or pr != prio_l[x]:
            continue  # stale entry: the node lost weight since it was pushed
        alive[x] = False
        removed.append(x)
        size -= 1
        f -= prio_l[x]
        for j in range(start[x], start[x + 1]):
            y = int(nbr[j])
            if alive[y]:
                prio_l[y] -= float(wt[j])
                heapq.heappush(heap, (prio_l[y], y))
        g = f / size
        if g > best_g:
            best_g, best_removed = g, len(removed)
    mask = active.copy()
    mask[removed[:best_removed]] = False
    return mask, best_g


def find_dense_blocks(money: pd.DataFrame, p: MineParams) -> list[Ring]:
    """Dense account–merchant blocks (collusive cash-out) by repeated greedy peeling.

    Edge weights follow FRAUDAR's column weighting, 1 / log(merchant degree + 5), so
    popular merchants count less and camouflage purchases there do not hide a block.
    """
    pay = money[money["dst"].str.startswith("m:") & money["src"].str.startswith("a:")]
    if pay.empty:
        return []
    e = (
        pay.groupby(["src", "dst"], sort=False)
        .agg(n=("ts", "size"), first=("ts", "min"), last=("ts", "max"), amount=("amount", "sum"))
        .reset_index()
    )
    rings: list[Ring] = []
    for _ in range(p.n_blocks):
        if e.empty:
            break
        uc, us = pd.factorize(e["src"])
        vc, vs = pd.factorize(e["dst"])
        mdeg = np.bincount(vc)
        w = 1.0 / np.log(mdeg[vc] + 5.0)
        mask, g = peel(uc, vc, w, len(us), len(vs))
        overall = float(w.sum()) / (len(us) + len(vs))
        in_block = mask[uc] & mask[vc + len(us)]
        if g < p.min_lift * overall or not in_block.any():
            break
        blk = e[in_block].assign(w=w[in_block])
        # Peeling returns side-by-side blocks at once; one ring per part.
        for part in _components(blk, e.groupby("dst")["src"].size()):
            accounts = sorted(set(part["src"]))
            merchants = sorted(set(part["dst"]))
            if len(accounts) < p.min_accounts or len(merchants) < 2:
                continue
            density = float(part["w"].sum()) / (len(accounts) + len(merchants))
            rings.append(
                Ring(
                    ring_id="",
                    kind="dense_block",
                    score=density,
                    members=accounts,
                    entities=merchants,
                    edges=[
                        (s, d, "payment") for s, d in zip(part["src"], part["dst"], strict=True)
                    ],
                    evidence={
                        "density": round(density, 4),
                        "density_overall": round(overall, 4),
                        "fill": round(len(part) / (len(accounts) * len(merchants)), 4),
                        "payments": int(part["n"].sum()),
                        "total_amount": round(float(part["amount"].sum()), 2),
                        "timeline": timeline([*part["first"].tolist(), *part["last"].tolist()]),
                    },
                )
            )
        e = e[~in_block]  # look for the next block among the remaining edges
    return rings


def _components(edges: pd.DataFrame, merchant_degree: pd.Series) -> list[pd.DataFrame]:
    """Split a peeled block into connected parts over its own merchants.

    A colluding merchant's customers are mostly the ring; a popular shop that some ring
    members also use is not part of it and would join separate rings, so merchants with
    less than half of their customers inside the block are left out.
    """
    import igraph as ig

    inside = edges.groupby("dst")["src"].transform("size")
    own = inside / edges["dst"].map(merchant_degree) >= 0.5
    edges = edges[own]
    if edges.empty:
        return []
    codes, _ = pd.factorize(pd.concat([edges["src"], edges["dst"]], ignore_index=True))
    n = len(edges)
    g = ig.Graph(n=int(codes.max()) + 1, edges=np.column_stack([codes[:n], codes[n:]]))
    member = np.asarray(g.connected_components().membership)[codes[:n]]
    return [edges[member == c] for c in np.unique(member)]


def mine(
    tables: GraphTables, p: MineParams | None = None, fraud: set[str] | None = None
) -> list[Ring]:
    """Every detector over the tables; rings numbered and ranked by score within kind."""
    p = p or MineParams()
    rings: list[Ring] = []
    if "community" in p.detectors:
        rings += _numbered(find_communities(tables.links, p), "community")
    if "dense_block" in p.detectors:
        rings += _numbered(find_dense_blocks(tables.money, p), "dense_block")
    if "shapes" in p.detectors:
        # Layering moves money between accounts and out to cards; purchases are not
        # laundering shapes (a shopper paying at six shops is no fan-out).
        m = tables.money
        rings += find_shapes(
            m[m["src"].str.startswith("a:") & ~m["dst"].str.startswith("m:")], p.shapes
        )
    if fraud is not None:
        for r in rings:
            known = sum(1 for m in r.members if m in fraud)
            r.evidence["known_fraud"] = known
            r.evidence["known_fraud_share"] = round(known / max(1, len(r.members)), 4)
    return rings


def _numbered(rings: list[Ring], kind: str) -> list[Ring]:
    rings.sort(key=lambda r: -r.score)
    for i, r in enumerate(rings, 1):
        r.ring_id = f"{kind}-{i}"
    return rings


def summarise(rings: list[Ring]) -> dict[str, Any]:
    """Ring counts and flagged accounts per detector."""
    out: dict[str, Any] = {}
    for r in rings:
        s = out.setdefault(r.kind, {"rings": 0, "accounts": set()})
        s["rings"] += 1
        s["accounts"].update(r.members)
    return {k: {"rings": v["rings"], "accounts": len(v["accounts"])} for k, v in out.items()}
