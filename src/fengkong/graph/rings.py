"""Found rings: members, evidence and score; export as JSON and as a PNG of the subgraph."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fengkong.graph.entities import KIND_NAMES


@dataclass(slots=True)
class Ring:
    """One suspected ring.

    ``kind`` is the detector (``community``, ``dense_block``, ``cycle``, ``fan_in``,
    ``fan_out``, ``scatter_gather``, ``chain``); ``members`` are account keys (``a:...``);
    ``edges`` are ``(u, v, label)`` of its subgraph (identifier links or money flows);
    ``evidence`` holds shared identifiers, flows, a timeline and detector statistics.
    """

    ring_id: str
    kind: str
    score: float
    members: list[str]
    entities: list[str] = field(default_factory=list)
    edges: list[tuple[str, str, str]] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ring_id": self.ring_id,
            "kind": self.kind,
            "score": round(self.score, 6),
            "members": [m.removeprefix("a:") for m in self.members],
            "entities": self.entities,
            "edges": [list(e) for e in self.edges],
            "evidence": self.evidence,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ring:
        return cls(
            ring_id=str(data["ring_id"]),
            kind=str(data["kind"]),
            score=float(data["score"]),
            members=["a:" + str(m) for m in data["members"]],
            entities=[str(e) for e in data.get("entities", [])],
            edges=[(str(u), str(v), str(lab)) for u, v, lab in data.get("edges", [])],
            evidence=dict(data.get("evidence", {})),
        )


def timeline(ts: list[float]) -> dict[str, Any]:
    """First and last time (RFC 3339) and span in hours of a set of timestamps."""
    if not ts:
        return {}
    lo, hi = min(ts), max(ts)
    return {
        "first": datetime.fromtimestamp(lo, UTC).isoformat(),
        "last": datetime.fromtimestamp(hi, UTC).isoformat(),
        "span_hours": round((hi - lo) / 3600, 3),
    }


def write_rings(rings: list[Ring], path: Path, meta: dict[str, Any] | None = None) -> None:
    doc = {"meta": meta or {}, "rings": [r.to_dict() for r in rings]}
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False))


def read_rings(path: Path) -> list[Ring]:
    doc = json.loads(path.read_text())
    return [Ring.from_dict(r) for r in doc["rings"]]


_COLOURS = {
    "a": "#d62728",
    "d": "#1f77b4",
    "k": "#1f77b4",
    "p": "#2ca02c",
    "x": "#9467bd",
    "c": "#ff7f0e",
    "q": "#ff7f0e",
    "m": "#8c564b",
    "i": "#7f7f7f",
    "n": "#7f7f7f",
    "r": "#e377c2",
    "L": "#17becf",
}


def render_png(ring: Ring, path: Path, fraud: set[str] | None = None) -> None:
    """Draw the ring's subgraph (accounts red, identifiers by kind; known fraud outlined)."""
    import igraph as ig
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    nodes = sorted({n for e in ring.edges for n in e[:2]} | set(ring.members))
    index = {n: i for i, n in enumerate(nodes)}
    g = ig.Graph(n=len(nodes), edges=[(index[u], index[v]) for u, v, _ in ring.edges])
    layout = g.layout_fruchterman_reingold(niter=300, seed=None) if nodes else []
    xy = [tuple(p) for p in layout]
    fig, ax = plt.subplots(figsize=(8, 8))
    money = {"transfer", "payment", "withdrawal", "credit_draw", "flow"}
    for u, v, lab in ring.edges:
        (x0, y0), (x1, y1) = xy[index[u]], xy[index[v]]
        if lab in money or lab.startswith("t="):
            ax.annotate(
                "",
                xy=(x1, y1),
                xytext=(x0, y0),
                arrowprops={"arrowstyle": "->", "color": "#444", "lw": 1.0},
            )
        else:
            ax.plot([x0, x1], [y0, y1], color="#bbb", lw=0.8, zorder=1)
    fraud = fraud or set()
    for n in nodes:
        x, y = xy[index[n]]
        edge = "black" if n in fraud else "white"
        ax.scatter(
            [x],
            [y],
            s=160 if n[0] == "a" else 90,
            c=_COLOURS.get(n[0], "#333"),
            edgecolors=edge,
            linewidths=2,
            zorder=2,
        )
        if len(nodes) <= 60:
            ax.text(x, y, " " + n[:18], fontsize=7, zorder=3)
    kinds = sorted({n[0] for n in nodes})
    handles = [
        Line2D([], [], marker="o", ls="", color=_COLOURS.get(k, "#333"), label=KIND_NAMES.get(k, k))
        for k in kinds
    ]
    ax.legend(handles=handles, loc="lower right", fontsize=8)
    ax.set_title(
        f"{ring.ring_id} ({ring.kind}), {len(ring.members)} accounts, score {ring.score:.3g}"
    )
    ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
