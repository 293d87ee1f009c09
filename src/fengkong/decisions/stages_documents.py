"""The documents stage: recycled images among uploads (``document.*`` features)."""

from __future__ import annotations

from fengkong.decisions.state import dump_state, load_state
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
    outputs = FEATURE_NAMES
    inputs: tuple[str, ...] = ()

    def __init__(self, window_s: float = 30 * 86_400.0) -> None:
        self.index = ReuseIndex(window_s)
        self._read: tuple[str, str] | None = None

    def read(self, ctx: DecisionContext) -> None:
        event = ctx.event
        doc = event.document
        if doc is None:
            ctx.features["document.other_accounts_30d"] = None
            return
        fingerprint = image_fingerprint(doc.image_b64)
        self._read = (event.event_id, fingerprint)
        ctx.features["document.other_accounts_30d"] = self.index.other_accounts(
            fingerprint, event.user_id, event.ts
        )

    def update(self, ctx: DecisionContext) -> None:
        event = ctx.event
        if event.document is None:
            return
        read = self._read
        # The fingerprint read computed (hashing an image is the costly part).
        if read is not None and read[0] == event.event_id:
            self.index.add(read[1], event.user_id, event.ts)
        else:
            self.observe(event)

    def run(self, ctx: DecisionContext) -> None:
        self.read(ctx)
        self.update(ctx)

    def observe(self, event: Event) -> None:
        if event.document is not None:
            self.index.add(image_fingerprint(event.document.image_b64), event.user_id, event.ts)

    def horizon_seconds(self) -> float:
        return self.index.window_s

    def maintain(self, now: float) -> None:
        self.index.expire(now)

    def snapshot(self) -> bytes:
        return dump_state("documents", self.index)

    def restore(self, data: bytes) -> None:
        self.index = load_state("documents", data)
