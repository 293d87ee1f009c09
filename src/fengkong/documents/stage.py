"""The documents stage: what the image of an uploaded document says (``document.*``)."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fengkong.decisions.state import dump_state, load_state
from fengkong.decisions.types import DecisionContext, EventCycle
from fengkong.documents import ReuseIndex, image_fingerprint
from fengkong.documents.analyse import analyse_document
from fengkong.documents.facts import FACT_NAMES, document_facts
from fengkong.documents.similar import (
    MAX_BITS_BY_KIND,
    OTHER_KINDS_MAX_BITS,
    NearDuplicateIndex,
)
from fengkong.events import Event
from fengkong.features.state import MemorySession, StatesSession, apply_and_save
from fengkong.imaging import ImagePool, PendingChecks, probe
from fengkong.imaging.late import ExplainStore, LateAttacher

# Names rules may read (facts included).
FEATURE_NAMES: dict[str, str] = {"document.other_accounts_30d": "num", **FACT_NAMES}
_MAX_COMPANIES = 100_000


@dataclass(slots=True)
class _Found:
    """What reading one upload found, for the update that adds it."""

    event_id: str
    fingerprint: str
    analysis: dict[str, Any] | None = None
    late: Future[dict[str, Any]] | None = None


def _today(event: Event) -> str:
    return datetime.fromtimestamp(event.ts, UTC).date().isoformat()


class DocumentsStage:
    """For ``document_upload`` events: the image read, checked and compared.

    Exact reuse (``document.other_accounts_30d``) is computed at once; OCR, number
    checks, seals, pixel forensics and the perceptual hash run in an image worker
    within the pool's budget (``document.pending`` when it runs out; the result is
    attached to the stored decision under ``late.documents`` when ready). Both reuse
    counts are point in time: uploads before this event, within 30 days.

    ``session``: where the exact-reuse index lives (default: in memory). On a shared
    session (Redis) an upload's image is fetched before it is read and written back once
    after the decision (with the other stages' when they share the cycle), and only the
    uploads this worker decides are added to it; the near-duplicate index and the
    companies stay in the worker.
    """

    name = "documents"
    outputs = FEATURE_NAMES
    inputs: tuple[str, ...] = ()

    def __init__(
        self,
        window_s: float = 30 * 86_400.0,
        *,
        images: ImagePool | None = None,
        store: ExplainStore | None = None,
        session: StatesSession | None = None,
    ) -> None:
        self.session: StatesSession = MemorySession() if session is None else session
        self.index = ReuseIndex(window_s, self.session.table("image", window_s))
        self._window_s = window_s
        self._similar: dict[str, NearDuplicateIndex] = {}
        self.images = images or ImagePool(workers=0)
        self._checks: PendingChecks[dict[str, Any]] = PendingChecks(self.images, analyse_document)
        self._late = LateAttacher(store)
        # The company on each account's latest business licence, for its seals.
        self._company: dict[str, str] = {}
        # What read() found for the event that update() is about to add.
        self._found: _Found | None = None
        self.max_entities = 0  # image fingerprints kept; 0: no cap
        # The last upload's image and its digest: the cycle's fetch and read() need it.
        self._digest: tuple[str, str] = ("", "")
        self.session.want(self._wanted)  # fetched with the other stages' (shared cycle)

    @property
    def cycle(self) -> EventCycle | None:
        """The shared session's per-event cycle (``None`` in memory)."""
        return getattr(self.session, "cycle", None)

    def _fingerprint(self, event: Event) -> str:
        assert event.document is not None
        image = event.document.image_b64
        if self._digest[0] is not image:  # the same string object: the same upload
            self._digest = (image, image_fingerprint(image))
        return self._digest[1]

    def _wanted(self, event: Event) -> list[tuple[str, str]]:
        return [] if event.document is None else [("image", self._fingerprint(event))]

    def similar(self, kind: str) -> NearDuplicateIndex:
        """The near-duplicate index of one document kind (kinds are never compared)."""
        index = self._similar.get(kind)
        if index is None:
            bits = MAX_BITS_BY_KIND.get(kind, OTHER_KINDS_MAX_BITS)
            index = self._similar[kind] = NearDuplicateIndex(self._window_s, bits)
        return index

    @property
    def budget_s(self) -> float:
        return self.images.budget_s

    def prepare(self, event: Event) -> Future[dict[str, Any]] | None:
        doc = event.document
        if doc is None or probe(doc.image_b64) is not None:
            return None
        return self._checks.start(event.event_id, doc.image_b64, doc.kind, _today(event))

    def read(self, ctx: DecisionContext) -> None:
        event = ctx.event
        doc = event.document
        self._found = None
        if doc is None:
            ctx.features["document.other_accounts_30d"] = None
            return
        found = self._found = _Found(event.event_id, self._fingerprint(event))
        self.session.begin()
        ctx.features["document.other_accounts_30d"] = self.index.other_accounts(
            found.fingerprint, event.user_id, event.ts
        )
        unreadable = probe(doc.image_b64)
        try:
            if unreadable is not None:
                analysis: dict[str, Any] | None = {"error": unreadable}
            else:
                analysis, found.late = self._checks.take(
                    event.event_id, doc.image_b64, doc.kind, _today(event)
                )
        except Exception as exc:
            analysis = {"error": f"{type(exc).__name__}: {exc}"}
        if analysis is None:
            ctx.facts["document.pending"] = True
            if found.late is not None:
                self._late.later(event.event_id, self.name, found.late, self._late_facts(event))
            return
        facts, reasons = self.facts_of(event, analysis)
        ctx.facts.update(facts)
        ctx.explain["documents"] = {
            "reasons": reasons,
            "fields_found": sorted(analysis.get("fields", {})),
            "seals": [s["text"] for s in analysis.get("seals", [])],
            "timings_ms": analysis.get("timings_ms", {}),
        }
        found.analysis = analysis

    def update(self, ctx: DecisionContext) -> None:
        event = ctx.event
        found = self._found
        if event.document is None:
            return
        if found is None or found.event_id != event.event_id:
            assert event.document is not None
            self._add_reuse(event, self._fingerprint(event))
            self._observe_similar(event)
            return
        self._add_reuse(event, found.fingerprint)
        if found.analysis is not None:
            self.learn(event, found.analysis)
        if found.late is not None:
            found.late.add_done_callback(lambda done: self._learn_late(event, done))

    def recount(self, ctx: DecisionContext) -> None:
        """A committed upload whose write was lost, added again to the shared reuse
        index (features/state_repair.py); the worker's own indexes have it already."""
        if ctx.event.document is not None:
            self._add_reuse(ctx.event, self._fingerprint(ctx.event))

    def _add_reuse(self, event: Event, fingerprint: str) -> None:
        """Add the upload to the reuse index (on a shared session: write it back, again
        on a fresh state when another worker moved it meanwhile)."""

        def add() -> None:
            self.index.add(fingerprint, event.user_id, event.ts)
            if self.max_entities and not self.session.shared:  # Redis: bounded by expiry
                self.index.bound(self.max_entities)

        apply_and_save(self.session, event.event_id, add, refetch=lambda: [("image", fingerprint)])

    def run(self, ctx: DecisionContext) -> None:
        self.read(ctx)
        self.update(ctx)

    def facts_of(self, event: Event, analysis: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Facts of a finished analysis and the near-duplicate lookup (state unchanged)."""
        doc = event.document
        assert doc is not None
        facts, reasons = document_facts(analysis, doc.kind, self._companies(event, analysis))
        phash = analysis.get("phash")
        if isinstance(phash, str):
            others, bits = self.similar(doc.kind).nearest_other(phash, event.user_id, event.ts)
            facts["document.near_duplicate_accounts_30d"] = others
            facts["document.near_duplicate_bits"] = bits
            if others:
                reasons.append(f"near-duplicate of {others} other account(s)' upload ({bits} bits)")
        return facts, reasons

    def learn(self, event: Event, analysis: dict[str, Any]) -> None:
        """Add a finished analysis of ``event``'s upload: its perceptual hash, its company."""
        doc = event.document
        assert doc is not None
        if isinstance(analysis.get("phash"), str):
            self.similar(doc.kind).add(analysis["phash"], event.user_id, event.ts)
        name = analysis.get("fields", {}).get("name")
        if doc.kind == "business_license" and name:
            self._remember_company(event.user_id, str(name))

    def _companies(self, event: Event, analysis: dict[str, Any]) -> list[str]:
        names = list(analysis.get("companies") or [])
        attrs = event.attributes or {}
        if isinstance(attrs.get("company_name"), str):
            names.append(attrs["company_name"])
        known = self._company.get(event.user_id)
        if known:
            names.append(known)
        return names

    def _remember_company(self, account: str, name: str) -> None:
        self._company.pop(account, None)
        self._company[account] = name
        if len(self._company) > _MAX_COMPANIES:
            self._company.pop(next(iter(self._company)))

    def _late_facts(self, event: Event) -> Any:
        def facts(analysis: dict[str, Any]) -> dict[str, Any]:
            doc = event.document
            assert doc is not None
            found, reasons = document_facts(analysis, doc.kind, self._companies(event, analysis))
            return {"facts": found, "reasons": reasons, "timings_ms": analysis.get("timings_ms")}

        return facts

    def _learn_late(self, event: Event, done: Future[dict[str, Any]]) -> None:
        if done.cancelled() or done.exception() is not None:
            return
        if isinstance(done.result().get("phash"), str):
            assert event.document is not None
            self.similar(event.document.kind).add(done.result()["phash"], event.user_id, event.ts)

    def entity_counts(self) -> dict[str, int]:
        return {"image": len(self.index)}

    def observe(self, event: Event) -> None:
        """Add a stored upload (a rebuild, or another worker's upload followed); a
        shared reuse index has it already (the deciding worker added it)."""
        doc = event.document
        if doc is None:
            return
        if not self.session.shared:
            self.index.add(image_fingerprint(doc.image_b64), event.user_id, event.ts)
        self._observe_similar(event)

    def _observe_similar(self, event: Event) -> None:
        doc = event.document
        assert doc is not None
        # A rebuild restores the near-duplicate index from the perceptual hash alone.
        from fengkong.documents.analyse import perceptual_hash
        from fengkong.imaging import ImageError, decode_image, image_bytes

        try:
            img = decode_image(image_bytes(doc.image_b64))
        except ImageError:
            return
        self.similar(doc.kind).add(perceptual_hash(img), event.user_id, event.ts)

    def horizon_seconds(self) -> float:
        return self.index.window_s

    def maintain(self, now: float) -> None:
        if not self.session.shared:  # Redis expires an image a window after its upload
            self.index.expire(now)
        for index in self._similar.values():
            index.expire(now)

    # The reuse index behind the state interface (``documents/2``): an older layout is
    # refused, and the engine then rebuilds from the log. On a shared session the reuse
    # index is in Redis and not in the snapshot (restoring leaves Redis as it is).
    def snapshot(self) -> bytes:
        if self.session.shared:
            return dump_state("documents/2-shared", (self._similar, self._company))
        return dump_state("documents/2", (self.index, self._similar, self._company))

    def restore(self, data: bytes) -> None:
        if self.session.shared:
            self._similar, self._company = load_state("documents/2-shared", data)
            self.session.begin()
            return
        self.index, self._similar, self._company = load_state("documents/2", data)

    def close(self) -> None:
        self.images.close()
        close = getattr(self.session, "close", None)
        if callable(close):
            close()
