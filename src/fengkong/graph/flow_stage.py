"""The flows stage: what an account received before it moves money (mule signals)."""

from __future__ import annotations

from fengkong.decisions.state import dump_state, load_state
from fengkong.decisions.types import DecisionContext
from fengkong.events import Event, EventType
from fengkong.features.state import EntityStates
from fengkong.graph.flows import Inflow, InflowWindow

FEATURE_NAMES: dict[str, str] = {
    "user.received_amount_24h": "num",
    "user.received_transfers_24h": "num",
    "user.received_senders_24h": "num",
    "user.secs_since_received": "num",
    "user.received_amount_7d": "num",
    "user.received_senders_7d": "num",
}
WEEK_S = 7 * 86_400.0


class FlowsStage:
    """Adds ``user.received_*`` (transfers this account received in 24 h and in 7 days,
    point in time).

    A transfer's counterparty account is credited; the acting account's later events
    read what it received, so "collect from many, pass most of it on within hours"
    (a mule in a layering chain or a fan-in) becomes visible to rules and models.
    """

    name = "flows"
    outputs = FEATURE_NAMES
    inputs: tuple[str, ...] = ()

    def __init__(
        self, window_s: float = 86_400.0, states: EntityStates[Inflow] | None = None
    ) -> None:
        self.inflows = InflowWindow(window_s, states)
        # A lure's collection account gathers from victims over days, then cashes out.
        self.week = InflowWindow(WEEK_S)
        self.max_entities = 0  # receiving accounts kept; 0: no cap

    def read(self, ctx: DecisionContext) -> None:
        event = ctx.event
        amount, count, senders, since = self.inflows.read(event.user_id, event.ts)
        features = ctx.features
        features["user.received_amount_24h"] = amount
        features["user.received_transfers_24h"] = count
        features["user.received_senders_24h"] = senders
        features["user.secs_since_received"] = since
        week_amount, _, week_senders, _ = self.week.read(event.user_id, event.ts)
        features["user.received_amount_7d"] = week_amount
        features["user.received_senders_7d"] = week_senders

    def update(self, ctx: DecisionContext) -> None:
        self.observe(ctx.event)

    def run(self, ctx: DecisionContext) -> None:
        self.read(ctx)
        self.update(ctx)

    def observe(self, event: Event) -> None:
        cp = event.counterparty
        if event.type is EventType.TRANSFER and cp is not None and cp.account_id is not None:
            for window in (self.inflows, self.week):
                window.add(cp.account_id, event.user_id, event.amount_float, event.ts)
                if self.max_entities:
                    window.bound(self.max_entities)

    def entity_counts(self) -> dict[str, int]:
        return {"receiver": len(self.inflows), "receiver_7d": len(self.week)}

    def horizon_seconds(self) -> float:
        return max(self.inflows.window_s, self.week.window_s)

    def maintain(self, now: float) -> None:
        self.inflows.expire(now)
        self.week.expire(now)

    # The state behind the interface (``flows/3``): an older layout is refused, and the
    # engine then rebuilds from the log.
    def snapshot(self) -> bytes:
        return dump_state("flows/3", (self.inflows, self.week))

    def restore(self, data: bytes) -> None:
        self.inflows, self.week = load_state("flows/3", data)
