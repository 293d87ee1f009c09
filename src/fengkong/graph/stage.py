"""The graph stage: point-in-time ring features from the online entity-link graph."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar

from fengkong.decisions.state import dump_state, load_state
from fengkong.decisions.types import DecisionContext
from fengkong.events import Label
from fengkong.events.fields import EventLike
from fengkong.graph import FEATURE_NAMES, OnlineGraph, account_key, identifier_keys
from fengkong.graph.entities import STRONG_KINDS, WEAK_KINDS
from fengkong.graph.state import GraphState
from fengkong.identity.device import device_key as derive_device_key


class GraphStage:
    """Adds ``graph.*`` ring features to the context, then links the event into the graph.

    Features come from the state *before* the event (plus the event's own identifiers,
    which are known at decision time): ``graph.cluster_size``, ``graph.cluster_growth_24h``,
    ``graph.cluster_age_hours``, ``graph.accounts_per_device`` ... ``graph.fraud_share_2hop``
    (see :data:`fengkong.graph.FEATURE_NAMES`). Known-fraud accounts come from
    :meth:`mark` / :meth:`apply_label`, each effective from its own time on.
    """

    name = "graph"
    outputs: ClassVar[Mapping[str, str]] = {f"graph.{n}": "any" for n in FEATURE_NAMES}
    inputs = ("device.key",)

    def __init__(self, graph: GraphState | None = None) -> None:
        self.graph: GraphState = graph if graph is not None else OnlineGraph()
        self._read: tuple[str, str, list[str]] | None = None

    # A generation's nodes are accounts and identifiers of every kind: the per-kind
    # cap times the kinds (account + strong + weak identifiers).
    _NODE_KINDS = 1 + len(STRONG_KINDS) + len(WEAK_KINDS)

    @property
    def max_entities(self) -> int:
        return self.graph.max_nodes // self._NODE_KINDS

    @max_entities.setter
    def max_entities(self, cap: int) -> None:
        self.graph.max_nodes = cap * self._NODE_KINDS

    def entity_counts(self) -> dict[str, int]:
        return {"graph_node": self.graph.node_count()}

    def read(self, ctx: DecisionContext) -> None:
        event = ctx.fields
        dk = ctx.facts.get("device.key")
        keys = identifier_keys(event, dk if isinstance(dk, str) and dk else None)
        acc = account_key(event.user_id)
        for name, value in self.graph.features(event.ts, acc, keys).items():
            ctx.features["graph." + name] = value
        self._read = (event.event_id, acc, keys)

    def update(self, ctx: DecisionContext) -> None:
        read = self._read
        if read is not None and read[0] == ctx.event.event_id:
            self._update(ctx.fields, read[1], read[2])
        else:
            dk = ctx.facts.get("device.key")
            self.observe(ctx.fields, dk if isinstance(dk, str) and dk else None)

    def run(self, ctx: DecisionContext) -> None:
        self.read(ctx)
        self.update(ctx)

    def observe(self, event: EventLike, device_key: str | None = None) -> None:
        """Update only (rebuild after restart), with the device key the enrich stage gives."""
        key = device_key if device_key is not None else derive_device_key(event.device)[0]
        self._update(event, account_key(event.user_id), identifier_keys(event, key))

    def horizon_seconds(self) -> float:
        return self.graph.horizon

    def snapshot(self) -> bytes:
        return dump_state("graph", self.graph)

    def restore(self, data: bytes) -> None:
        self.graph = load_state("graph", data)

    def mark(self, user_id: str, fraud: bool = True, at: datetime | float | None = None) -> None:
        """Mark an account known-fraud/blocked (or clear it) from ``at`` on (default: now)."""
        when = (
            self.graph.clock if at is None else (at.timestamp() if isinstance(at, datetime) else at)
        )
        self.graph.add_label(account_key(user_id), fraud, when)

    def apply_label(self, label: Label) -> None:
        """Feed an account label (``user_id`` labels; event labels are ignored here)."""
        if label.user_id is not None:
            self.mark(label.user_id, label.label == "fraud", label.at)

    def _update(self, event: EventLike, acc: str, keys: list[str]) -> None:
        self.graph.observe_links(event.ts, acc, keys)
