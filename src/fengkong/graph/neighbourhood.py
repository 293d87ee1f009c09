"""The linked-entity neighbourhood of an account, read from the online graph.

What an analyst looks at on a case: the account, the identifiers it used (devices,
phones, ID numbers, cards, payees, IPs), the other accounts on those identifiers, and
which of them sit in the account's cluster (the ring the ring features measure).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fengkong.graph.entities import STRONG_KINDS, account_key
from fengkong.graph.online import Generation, OnlineGraph


@dataclass(slots=True)
class Neighbourhood:
    """Nodes (``a:<user>`` accounts and identifier keys) and the links between them."""

    centre: str
    nodes: dict[str, str] = field(default_factory=dict)  # key -> kind letter
    edges: list[tuple[str, str]] = field(default_factory=list)
    ring: set[str] = field(default_factory=set)  # accounts in the centre's cluster
    cluster_size: int = 0
    truncated: bool = False


def neighbourhood(
    graph: OnlineGraph, user_id: str, *, hops: int = 2, max_nodes: int = 120
) -> Neighbourhood:
    """Accounts within ``hops`` identifier hops of ``user_id`` (at most ``max_nodes``)."""
    centre = account_key(user_id)
    out = Neighbourhood(centre)
    gens = [g for _, g in sorted(graph.gens.items())]
    if not gens or not any(centre in g.parent for g in gens):
        return out
    gen = next(g for g in gens if centre in g.parent)
    root = gen.find(centre)
    out.cluster_size = gen.size.get(root, 1)
    out.nodes[centre] = "a"
    frontier = [centre]
    seen_edges: set[tuple[str, str]] = set()
    for _ in range(hops):
        nxt: list[str] = []
        for acc in frontier:
            for ident in _idents(gens, acc):
                if ident not in out.nodes:
                    if len(out.nodes) >= max_nodes:
                        out.truncated = True
                        continue
                    out.nodes[ident] = ident[0]
                _edge(out, seen_edges, acc, ident)
                for other in _members(gens, ident):
                    if other not in out.nodes:
                        if len(out.nodes) >= max_nodes:
                            out.truncated = True
                            continue
                        out.nodes[other] = "a"
                        nxt.append(other)
                    _edge(out, seen_edges, other, ident)
        frontier = nxt
    ring = {n for n, kind in out.nodes.items() if kind == "a" and gen.root_of(n) == root}
    # Alone in its cluster, the account is no ring.
    out.ring = ring | {centre} if ring - {centre} else set()
    return out


def _edge(out: Neighbourhood, seen: set[tuple[str, str]], a: str, b: str) -> None:
    if (a, b) not in seen:
        seen.add((a, b))
        out.edges.append((a, b))


def _idents(gens: list[Generation], acc: str) -> list[str]:
    found: dict[str, None] = {}
    for g in gens:
        for ident in g.ids_of.get(acc, ()):
            if ident[0] in STRONG_KINDS:
                found[ident] = None
    return list(found)


def _members(gens: list[Generation], ident: str) -> list[str]:
    found: dict[str, None] = {}
    for g in gens:
        found.update(g.members.get(ident, {}))
    return list(found)
