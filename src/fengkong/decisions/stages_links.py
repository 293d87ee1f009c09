"""The links stage: ``link.*`` facts of scanned QR codes, and money moved right after one."""

from __future__ import annotations

from fengkong.decisions.types import DecisionContext
from fengkong.events import Event
from fengkong.features.bounded import evict_least_recent
from fengkong.links import analyse_link

FEATURE_NAMES: dict[str, str] = {"user.secs_since_risky_qr": "num"}


class LinksStage:
    """Adds ``link.*`` facts for ``qr_scan`` events and ``user.secs_since_risky_qr``.

    A phishing QR code leads to a payment or transfer a few minutes later, so the stage
    remembers, per user, when they last scanned a code whose ``link.risk`` reached
    ``risky_at``; the feature is the time since (``None`` beyond ``memory_s``).
    """

    name = "links"

    def __init__(self, risky_at: float = 0.5, memory_s: float = 86_400.0) -> None:
        self.risky_at = risky_at
        self.memory_s = memory_s
        self._last_risky: dict[str, float] = {}
        self.max_entities = 0  # users remembered; 0: no cap

    def run(self, ctx: DecisionContext) -> None:
        event = ctx.event
        last = self._last_risky.get(event.user_id)
        since = None if last is None else event.ts - last
        ctx.features["user.secs_since_risky_qr"] = (
            since if since is not None and 0 <= since <= self.memory_s else None
        )
        qr = event.qr
        if qr is not None and qr.payload:
            facts = analyse_link(qr.payload)
            ctx.facts.update(facts)
            self._remember(event, facts["link.risk"])

    def observe(self, event: Event) -> None:
        qr = event.qr
        if qr is not None and qr.payload:
            self._remember(event, analyse_link(qr.payload)["link.risk"])

    def horizon_seconds(self) -> float:
        return self.memory_s

    def maintain(self, now: float) -> None:
        stale = [u for u, t in self._last_risky.items() if now - t > self.memory_s]
        for user in stale:
            del self._last_risky[user]

    def _remember(self, event: Event, risk: object) -> None:
        if isinstance(risk, float | int) and risk >= self.risky_at:
            self._last_risky[event.user_id] = event.ts
            if self.max_entities:
                evict_least_recent(self._last_risky, self.max_entities, float)

    def entity_counts(self) -> dict[str, int]:
        return {"risky_qr_user": len(self._last_risky)}
