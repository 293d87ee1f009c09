"""Pipeline stage ``credit``: score credit applications and limit raises, make the offer.

Runs last (after rules and models) so that the fraud side has spoken: its review and
block proposals, and the fraud signals of :class:`~fengkong.credit.offer.OfferPolicy`
read from the point-in-time features, turn the offer into review or decline whatever the
credit score. A ``raise_limit`` account change goes through the same policy, with the
``application`` it carries or else the user's last application this stage has seen.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from fengkong.credit.offer import Offer, OfferDecision, OfferPolicy, make_offer
from fengkong.credit.registry import CreditRegistry, ScorecardLoadError
from fengkong.credit.scorecard import Scorecard
from fengkong.decisions.types import Action, DecisionContext, Reason
from fengkong.events import CreditApplication, Event, EventType
from fengkong.models.watch import Changes, Watch

log = logging.getLogger(__name__)
_ACTION: dict[OfferDecision, Action] = {
    "approve": Action.ALLOW,
    "review": Action.REVIEW,
    "decline": Action.BLOCK,
}


def _application(event: Event) -> CreditApplication | None:
    if event.type is EventType.CREDIT_APPLICATION:
        return event.application
    if event.type is EventType.ACCOUNT_CHANGE and event.operation == "raise_limit":
        return event.application
    return None


def _fraud_from_stages(ctx: DecisionContext) -> list[tuple[str, OfferDecision]]:
    """Review / block wishes of the stages before this one (rules, graph, models)."""
    out: list[tuple[str, OfferDecision]] = []
    for p in ctx.proposals:
        if p.action >= Action.REVIEW:
            out.append((p.reason.name, "decline" if p.action is Action.BLOCK else "review"))
    return out


class CreditStage:
    """Scores with the champion scorecard (the challenger shadows) and sets ``ctx.offer``.

    ``reasons``: how many adverse-action reasons (variables costing most points) to give.
    """

    name = "credit"

    def __init__(
        self,
        champion: Scorecard | None,
        policy: OfferPolicy | None = None,
        *,
        challenger: Scorecard | None = None,
        reasons: int = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.champion = champion
        self.challenger = challenger
        self.policy = policy or OfferPolicy()
        self.reasons = reasons
        self.clock = clock
        self.refresh_s = 5.0
        # With a change feed (the runtime wires it), the roles are read when the
        # "models" topic moved, else every ``refresh_s``.
        self.changes: Changes | None = None
        self._watch = Watch("models")
        self._registry: CreditRegistry | None = None
        self._roles: tuple[int | None, int | None] = (None, None)
        # The user's last application: what a later raise_limit is judged on.
        self._last: dict[str, CreditApplication] = {}

    @classmethod
    def from_registry(
        cls, registry: CreditRegistry, policy: OfferPolicy | None = None, **options: Any
    ) -> CreditStage:
        """Champion and challenger from the registry; role changes are picked up live."""
        stage = cls(None, policy, **options)
        stage._registry = registry
        stage._reload(force=True)
        return stage

    def close(self) -> None:
        """Close the registry the stage was built from (its connection to the database)."""
        if self._registry is not None:
            self._registry.close()

    def _reload(self, force: bool = False) -> None:
        reg = self._registry
        if reg is None or not (self._due() or force):
            return
        roles = (reg.role("champion"), reg.role("challenger"))
        if roles == self._roles and not force:
            return
        try:
            cards = [None if v is None else reg.load(v) for v in roles]
        except ScorecardLoadError as exc:
            if force:
                raise
            log.error("scorecard not loaded, keeping the previous one: %s", exc)
            return
        self.champion, self.challenger = cards
        self._roles = roles

    def _due(self) -> bool:
        """Whether the roles may have moved since they were last read."""
        return self._watch.due(self.changes, self.refresh_s, self.clock)

    def observe(self, event: Event) -> None:
        if event.type is EventType.CREDIT_APPLICATION and event.application is not None:
            self._last[event.user_id] = event.application

    def horizon_seconds(self) -> float:
        # Remembers what replay brings anyway; asks for no extra history of its own.
        return 0.0

    def run(self, ctx: DecisionContext) -> None:
        event = ctx.event
        app = _application(event)
        if app is None and event.operation == "raise_limit":
            app = self._last.get(event.user_id)
        if app is None:
            return
        self._reload()
        self.observe(event)
        card = self.champion
        if card is None:
            ctx.propose(Action.REVIEW, Reason("model", "credit_no_scorecard", "no champion"))
            return
        scored = card.score(app.applicant)
        fraud = self.policy.fraud_in(ctx.features, ctx.facts)
        if ctx.proposals:
            fraud += _fraud_from_stages(ctx)
        offer = make_offer(
            self.policy,
            pd=scored.pd,
            score=scored.score,
            requested=float(app.requested_amount),
            term_months=app.term_months,
            annual_income=None if app.stated_income is None else float(app.stated_income),
            exposure=0.0 if app.existing_debt is None else float(app.existing_debt),
            fraud=fraud,
        )
        ctx.offer = offer.as_dict()
        ctx.versions["credit"] = str(card.meta.get("version", ""))
        self._explain(ctx, card, app, scored, offer)
        if self.challenger is not None:
            shadow = self.challenger.score(app.applicant)
            ctx.explain["credit_challenger"] = {
                "version": self.challenger.meta.get("version"),
                "score": shadow.score,
                "pd": shadow.pd,
            }

    def _explain(
        self,
        ctx: DecisionContext,
        card: Scorecard,
        app: CreditApplication,
        scored: Any,
        offer: Offer,
    ) -> None:
        action = _ACTION[offer.decision]
        head = f"tier {offer.tier}, PD {offer.pd:.3f}, score {offer.score:.0f}"
        if action is not Action.ALLOW:
            why = ", ".join(offer.reasons) or offer.decision
            ctx.propose(action, Reason("rule", f"credit_{offer.decision}", f"{head}: {why}"))
        else:
            ctx.reasons.append(Reason("rule", "credit_approve", head))
        # Adverse-action reasons: what cost this applicant most points.
        for code, detail in card.reason_codes(app.applicant, scored, self.reasons):
            ctx.reasons.append(Reason("model", code, detail))
