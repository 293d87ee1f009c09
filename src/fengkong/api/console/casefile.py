"""What the case page shows, read from the store and the live graph.

The timeline holds each account's newest events with their stored decisions and
explanations (reasons, rule hits with the values that fired them, model reason codes,
feature values); identifiers are masked as in every analyst answer. The graph is the
account's neighbourhood in the online graph, the fund flow the money its accounts moved
(and where those receivers sent it on).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from fengkong.api.cases_routes import event_store
from fengkong.api.console.svg import shown
from fengkong.api.masking import mask
from fengkong.events import EventValidationError, parse_event
from fengkong.graph.entities import money_edge
from fengkong.graph.neighbourhood import Neighbourhood, neighbourhood
from fengkong.graph.online import OnlineGraph
from fengkong.graph.stage import GraphStage
from fengkong.runtime import Runtime

MAX_MEMBERS_SHOWN = 12
EVENTS_PER_ACCOUNT = 60


@dataclass(slots=True)
class Entry:
    """One event of the timeline with the decision it got."""

    event_id: str
    user_id: str
    ts: float
    type: str
    amount: str | None
    decision: dict[str, Any] | None
    rules: list[dict[str, Any]] = field(default_factory=list)
    model_reasons: list[dict[str, Any]] = field(default_factory=list)
    features: dict[str, Any] = field(default_factory=dict)
    in_case: bool = False


def timeline(rt: Runtime, users: list[str], case_events: set[str]) -> list[Entry]:
    """The newest events of ``users`` (masked) with their decisions, oldest first."""
    out: list[Entry] = []
    for user in users[:MAX_MEMBERS_SHOWN]:
        for event_id, ts, body in event_store(rt).events_of_user(user, EVENTS_PER_ACCOUNT):
            event = mask(orjson.loads(body))
            stored = rt.store.decision(event_id)
            entry = Entry(
                event_id,
                user,
                ts,
                str(event.get("type", "")),
                _amount(event),
                None,
                in_case=event_id in case_events,
            )
            if stored is not None:
                decision = orjson.loads(stored[0])
                explain = mask(orjson.loads(stored[1]))
                entry.decision = decision
                entry.rules = list(explain.get("rules", []))
                entry.model_reasons = [
                    r for r in decision.get("reasons", []) if r.get("source") == "model"
                ]
                entry.features = {
                    k: v for k, v in explain.get("features", {}).items() if v not in (None, 0)
                }
            out.append(entry)
    out.sort(key=lambda e: e.ts)
    return out


def _amount(event: dict[str, Any]) -> str | None:
    if event.get("amount") is None:
        return None
    return f"{event['amount']} {event.get('currency', '')}".strip()


def graph_of(rt: Runtime, user_id: str) -> Neighbourhood | None:
    """The account's neighbourhood in the serving graph (``None``: no in-memory graph)."""
    for stage in rt.engine.pipeline.stages:
        if isinstance(stage, GraphStage) and isinstance(stage.graph, OnlineGraph):
            return neighbourhood(stage.graph, user_id)
    return None


@dataclass(frozen=True, slots=True)
class Flow:
    src: str
    dst: str
    amount: float
    ts: float
    kind: str
    event_id: str
    hop: int


def fund_flow(rt: Runtime, users: list[str], hops: int = 2, limit: int = 80) -> list[Flow]:
    """Money the accounts moved, then where receiving accounts moved it on."""
    flows: list[Flow] = []
    frontier = list(dict.fromkeys(users[:MAX_MEMBERS_SHOWN]))
    seen = set(frontier)
    for hop in range(1, hops + 1):
        nxt: list[str] = []
        for user in frontier:
            for _, _, body in event_store(rt).events_of_user(user, 500):
                try:
                    edge = money_edge(parse_event(body))
                except EventValidationError:
                    continue
                if edge is None:
                    continue
                src, dst = shown(edge.src), shown(edge.dst)
                flows.append(Flow(src, dst, edge.amount, edge.ts, edge.kind, edge.event_id, hop))
                receiver = edge.dst[2:] if edge.dst.startswith("a:") else None
                if receiver and receiver not in seen:
                    seen.add(receiver)
                    nxt.append(receiver)
                if len(flows) >= limit:
                    return flows
        frontier = nxt
    return flows
