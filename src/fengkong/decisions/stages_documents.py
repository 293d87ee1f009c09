"""The documents stage: recycled images among uploads (``document.*`` features)."""

from __future__ import annotations

from fengkong.decisions.types import DecisionContext
from fengkong.documents import ReuseIndex, image_fingerprint
from fengkong.events import Event

FEATURE_NAMES: dict[str, str] = {"document.other_accounts_30d": "num"}


class DocumentsStage:
    """For ``document_upload`` events: how many other accounts uploaded the same image.

    The feature is point in time (uploads before this event, within 30 days); other
    event types get ``None``.
    """

    name = "documents"

    def __init__(self, window_s: float = 30 * 86_400.0) -> None:
        self.index = ReuseIndex(window_s)
        self.max_entities = 0  # image fingerprints kept; 0: no cap

    def run(self, ctx: DecisionContext) -> None:
        event = ctx.event
        doc = event.document
        if doc is None:
            ctx.features["document.other_accounts_30d"] = None
            return
        fingerprint = image_fingerprint(doc.image_b64)
        ctx.features["document.other_accounts_30d"] = self.index.other_accounts(
            fingerprint, event.user_id, event.ts
        )
        self.index.add(fingerprint, event.user_id, event.ts)
        if self.max_entities:
            self.index.bound(self.max_entities)

    def entity_counts(self) -> dict[str, int]:
        return {"image": len(self.index)}

    def observe(self, event: Event) -> None:
        if event.document is not None:
            self.index.add(image_fingerprint(event.document.image_b64), event.user_id, event.ts)

    def horizon_seconds(self) -> float:
        return self.index.window_s

    def maintain(self, now: float) -> None:
        self.index.expire(now)
