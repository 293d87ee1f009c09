"""The flows stage: what an account received before it moves money (mule signals)."""

from __future__ import annotations

from fengkong.decisions.state import dump_state, load_state
from fengkong.decisions.types import DecisionContext, EventCycle
from fengkong.events import EventType
from fengkong.events.fields import EventLike
from fengkong.features.state import MemorySession, StatesSession, apply_and_save
from fengkong.graph.circles import TradeCircles
from fengkong.graph.flows import InflowWindow, PassOns
from fengkong.graph.hops import DrawSplits, LatestReceipts

FEATURE_NAMES: dict[str, str] = {
    "user.received_amount_24h": "num",
    "user.received_transfers_24h": "num",
    "user.received_senders_24h": "num",
    "user.secs_since_received": "num",
    "user.received_amount_7d": "num",
    "user.received_senders_7d": "num",
    "user.qr_received_amount_7d": "num",
    "user.qr_received_senders_7d": "num",
    "user.secs_since_passed_on": "num",
    "user.relayed_amount_24h": "num",
    "cp_account.paid_user_30d": "bool",
    "cp_account.shared_partners_30d": "num",
    "user.circle_young_30d": "num",
    "user.circle_draws_48h": "num",
    "user.last_received_amount": "num",
    "user.moved_out_since_draw_24h": "num",
    "user.young_payees_since_draw_24h": "num",
    "merchant.payers_30d": "num",
    "merchant.young_payers_30d": "num",
    "cp_account.circle_young_30d": "num",
    "user.young_payees_7d": "num",
}
WEEK_S = 7 * 86_400.0
# A payee opened less than this long ago is a fresh account (a mule's, a group's).
YOUNG_PAYEE_S = 30 * 86_400.0
# An hourly bucket outlives its window's edge by up to an hour.
_BUCKET_S = 3600.0


class FlowsStage:
    """Adds ``user.received_*`` (transfers this account received in 24 h and in 7 days,
    point in time; ``user.qr_received_*``: those of the week its payers started by scanning
    a code), the chain facts (``user.secs_since_passed_on``,
    ``user.relayed_amount_24h``) and the trading-circle facts (``cp_account.paid_user_30d``,
    ``cp_account.shared_partners_30d``, ``user.circle_young_30d``, ``user.circle_draws_48h``),
    the hop facts (``user.last_received_amount``, ``user.moved_out_since_draw_24h``,
    ``user.young_payees_since_draw_24h``) and a shop's payers (``merchant.payers_30d``,
    ``merchant.young_payers_30d``), the payee's circle (``cp_account.circle_young_30d``)
    and, on a transfer, the fresh accounts this one paid this week
    (``user.young_payees_7d``).

    A transfer's counterparty account is credited; the acting account's later events
    read what it received, so "collect from many, pass most of it on within hours"
    (a mule in a layering chain or a fan-in) becomes visible to rules and models. An
    account that passed money on is marked, and what it sends is "relayed" money for the
    next hop; transfers, shop payments, draws and registrations build the circles.

    ``session``: where every per-account state lives (default: in memory). On a shared
    session (Redis) the event's states are fetched in one round trip before it is read,
    with the other stages' when they share the cycle (plus one per hop of the circle it
    reaches), written back once after the decision (with theirs),
    and only the events this worker decides are added: those it follows from the log
    or rebuilds from are in the shared state already.
    """

    name = "flows"
    outputs = FEATURE_NAMES
    inputs: tuple[str, ...] = ()

    def __init__(self, window_s: float = 86_400.0, session: StatesSession | None = None) -> None:
        self.session: StatesSession = MemorySession() if session is None else session
        table = self.session.table
        self.inflows = InflowWindow(window_s, table("inflow", window_s + _BUCKET_S))
        # A lure's collection account gathers from victims over days, then cashes out.
        self.week = InflowWindow(WEEK_S, table("inflow_7d", WEEK_S + _BUCKET_S))
        # The transfers of that week its payers started by scanning its collection code.
        self.qr_week = InflowWindow(WEEK_S, table("inflow_qr_7d", WEEK_S + _BUCKET_S))
        # Money received from accounts that were passing received money on (a chain).
        self.relayed = InflowWindow(window_s, table("relayed", window_s + _BUCKET_S))
        self.pass_ons = PassOns(WEEK_S, table("pass_on", WEEK_S))
        self.receipts = LatestReceipts(window_s, table("last_in", window_s))
        self.splits = DrawSplits(86_400.0, table("split", 86_400.0))
        self.circles = TradeCircles(session=self.session)
        self.max_entities = 0  # receiving accounts kept; 0: no cap
        self.session.want(self._wanted)  # fetched with the other stages' (shared cycle)

    @property
    def cycle(self) -> EventCycle | None:
        """The shared session's per-event cycle (``None`` in memory)."""
        return getattr(self.session, "cycle", None)

    def _wanted(self, event: EventLike) -> list[tuple[str, str]]:
        """The states the event reads or changes first (its account's and its payee's)."""
        user, payee = event.user_id, _payee(event)
        kinds = ("inflow", "inflow_7d", "inflow_qr_7d", "relayed")
        out = [(kind, user) for kind in (*kinds, "pass_on", "last_in", "split")]
        if payee is not None:
            out += [(kind, payee) for kind in (*kinds, "last_in")]
        shop = event.merchant_id if event.type is EventType.PAYMENT else None
        return out + self.circles.wanted(user, payee, shop)

    def read(self, ctx: DecisionContext) -> None:
        event = ctx.fields
        self.session.begin()
        if self.session.shared:  # in memory there is nothing to fetch
            self.session.prefetch(self._wanted(event))
        user, ts = event.user_id, event.ts
        amount, count, senders, since = self.inflows.read(user, ts)
        features = ctx.features
        features["user.received_amount_24h"] = amount
        features["user.received_transfers_24h"] = count
        features["user.received_senders_24h"] = senders
        features["user.secs_since_received"] = since
        week_amount, _, week_senders, _ = self.week.read(event.user_id, event.ts)
        features["user.received_amount_7d"] = week_amount
        features["user.received_senders_7d"] = week_senders
        qr_amount, _, qr_senders, _ = self.qr_week.read(event.user_id, event.ts)
        features["user.qr_received_amount_7d"] = qr_amount
        features["user.qr_received_senders_7d"] = qr_senders
        features["user.secs_since_passed_on"] = self.pass_ons.since(user, ts)
        features["user.relayed_amount_24h"] = self.relayed.read(user, ts)[0]
        payee = _payee(event)
        back, shared = (
            (None, None) if payee is None else self.circles.transfer_facts(user, payee, ts)
        )
        features["cp_account.paid_user_30d"] = back
        features["cp_account.shared_partners_30d"] = shared
        # Only a young account's circle is walked: a group's members are young, and an
        # established customer's many shops and partners are most of the walk's cost.
        young, drew = (
            self.circles.circle(user, ts) if self.circles.is_young(user, ts) else (None, None)
        )
        features["user.circle_young_30d"] = young
        features["user.circle_draws_48h"] = drew
        self._read_hops(ctx)

    def _read_hops(self, ctx: DecisionContext) -> None:
        """The latest receipt, the loan's split so far and, for a payment, its shop's payers."""
        event, features = ctx.event, ctx.features
        user, ts = event.user_id, event.ts
        features["user.last_received_amount"] = self.receipts.read(user, ts)
        split = self.splits.read(user, ts)
        if split is None:
            features["user.moved_out_since_draw_24h"] = None
            features["user.young_payees_since_draw_24h"] = None
        else:
            sent, payees = split
            if self.session.shared:
                self.session.prefetch([("registered", p) for p in payees])
            young = self.circles.registered_secs_ago
            fresh = [p for p in payees if (age := young(p, ts)) is not None and age < YOUNG_PAYEE_S]
            features["user.moved_out_since_draw_24h"] = sent
            features["user.young_payees_since_draw_24h"] = len(fresh)
        shop = event.merchant_id if event.type is EventType.PAYMENT else None
        payers, young_payers = (
            (None, None) if shop is None else self.circles.shop_payers(shop, user, ts)
        )
        features["merchant.payers_30d"] = payers
        features["merchant.young_payers_30d"] = young_payers
        payee = _payee(event)
        features["cp_account.circle_young_30d"] = (
            None if payee is None else self.circles.payee_circle(payee, user, ts)
        )
        # Only a transfer to a fresh account reads it (the fan-out rule's): the sender's
        # other payees' registrations are fetched for no other event.
        age = None if payee is None else self.circles.registered_secs_ago(payee, ts)
        features["user.young_payees_7d"] = (
            self.circles.young_payees(user, ts, WEEK_S, YOUNG_PAYEE_S)
            if age is not None and age < YOUNG_PAYEE_S
            else None
        )

    def update(self, ctx: DecisionContext) -> None:
        """Add the decided event; on a shared session, write its states back (again on
        fresh states when another worker moved one meanwhile, so no update is lost)."""
        event = ctx.fields
        apply_and_save(
            self.session,
            event.event_id,
            lambda: self._add(event),
            refetch=lambda: self._wanted(event),
        )

    def run(self, ctx: DecisionContext) -> None:
        self.read(ctx)
        self.update(ctx)

    def observe(self, event: EventLike) -> None:
        """Add a stored event (a rebuild, or another worker's event followed)."""
        if self.session.shared:
            return  # the worker that decided it added it to the shared state
        self._add(event)

    def _add(self, event: EventLike) -> None:
        user, ts, kind = event.user_id, event.ts, event.type
        if kind is EventType.WITHDRAWAL:
            self.splits.moved_out(user, None, event.amount_float, ts)
        if kind in (EventType.TRANSFER, EventType.WITHDRAWAL):
            received, _, _, since = self.inflows.read(user, ts)
            passing_on = self.pass_ons.is_pass_on(event.amount_float, received, since)
            if passing_on:
                self.pass_ons.add(user, ts)
        else:
            passing_on = False
        payee = _payee(event)
        if kind is EventType.TRANSFER and payee is not None:
            amount = event.amount_float
            if passing_on:
                self.relayed.add(payee, user, amount, ts)
            self.inflows.add(payee, user, amount, ts)
            self.receipts.add(payee, amount, ts)
            self.splits.moved_out(user, payee, amount, ts)
            self.week.add(payee, user, amount, ts)
            if event.context is not None and event.context.entry == "qr":
                self.qr_week.add(payee, user, amount, ts)
            self.circles.transfer(user, payee, ts)
        elif kind is EventType.PAYMENT and event.merchant_id is not None:
            self.circles.payment(user, event.merchant_id, ts)
        elif kind is EventType.CREDIT_DRAW:
            self.circles.draw(user, ts)
            self.splits.draw(user, ts)
        elif kind is EventType.REGISTER:
            self.circles.register(user, ts)
        if self.max_entities and not self.session.shared:  # Redis: bounded by expiry
            for window in (self.inflows, self.week, self.qr_week, self.relayed):
                window.bound(self.max_entities)
            self.pass_ons.bound(self.max_entities)
            self.receipts.bound(self.max_entities)
            self.splits.bound(self.max_entities)
            self.circles.bound(self.max_entities)

    def entity_counts(self) -> dict[str, int]:
        return {
            "receiver": len(self.inflows),
            "receiver_7d": len(self.week),
            "qr_receiver_7d": len(self.qr_week),
            "relay_receiver": len(self.relayed),
            "pass_on": len(self.pass_ons),
            "last_receipt": len(self.receipts),
            "draw_split": len(self.splits),
            "circle": len(self.circles),
        }

    def horizon_seconds(self) -> float:
        windows = (self.inflows, self.week, self.pass_ons, self.circles)
        return max(w.window_s for w in windows)

    def maintain(self, now: float) -> None:
        if self.session.shared:
            return  # Redis expires each state a window after its last write
        self.inflows.expire(now)
        self.week.expire(now)
        self.qr_week.expire(now)
        self.relayed.expire(now)
        self.pass_ons.expire(now)
        self.receipts.expire(now)
        self.splits.expire(now)
        self.circles.expire(now)

    def close(self) -> None:
        close = getattr(self.session, "close", None)
        if callable(close):
            close()

    # The state behind the interface (``flows/7``): an older layout is refused, and the
    # engine then rebuilds from the log. A shared session's state is in Redis: its
    # snapshot is only a tag (restoring it, or resetting, leaves Redis as it is).
    def snapshot(self) -> bytes:
        if self.session.shared:
            return dump_state("flows/7-shared", None)
        state = (self.inflows, self.week, self.relayed, self.pass_ons, self.circles)
        return dump_state("flows/7", (*state, self.receipts, self.splits, self.qr_week))

    def restore(self, data: bytes) -> None:
        if self.session.shared:
            load_state("flows/7-shared", data)
            self.session.begin()
            return
        state = load_state("flows/7", data)
        self.inflows, self.week, self.relayed, self.pass_ons, self.circles = state[:5]
        self.receipts, self.splits, self.qr_week = state[5:]


def _payee(event: EventLike) -> str | None:
    cp = event.counterparty
    if event.type is not EventType.TRANSFER or cp is None:
        return None
    return cp.account_id
