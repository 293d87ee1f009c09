"""The links stage: ``link.*`` facts of scanned QR codes, and money moved right after one."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any, ClassVar

from fengkong.decisions.state import dump_state, load_state
from fengkong.decisions.types import DecisionContext
from fengkong.events import Event, EventType
from fengkong.events.fields import EventLike
from fengkong.features.bounded import evict_least_recent
from fengkong.imaging import ImagePool, PendingChecks, probe
from fengkong.imaging.late import ExplainStore, LateAttacher
from fengkong.links import FACT_NAMES, analyse_link
from fengkong.links.qr_image import read_qr

QR_FACT_NAMES: dict[str, str] = {
    "qr.from_image": "bool",
    "qr.image_codes": "num",
    "qr.image_unreadable": "bool",
    "qr.payload_mismatch": "bool",
    "qr.image_pending": "bool",
    "qr.image_ms": "num",
}
# Names rules may read (facts included, so a rule can name ``qr.payload_mismatch``).
FEATURE_NAMES: dict[str, str] = {
    "user.secs_since_risky_qr": "num",
    "user.secs_since_suspicious_qr": "num",
    "qr.code_payee": "str",
    "qr.code_large_payers_7d": "num",
    **QR_FACT_NAMES,
}
# A transfer this soon after a scan, started from the scan, is paid through that code.
SCAN_TO_PAY_S = 600.0
CODE_MEMORY_S = 30 * 86_400.0  # how long a code's payee is remembered after its last use
# Paying at least this much through a scanned code makes the payer one of its large payers.
LARGE_CODE_PAYMENT = 500.0
LARGE_PAYERS_S = 7 * 86_400.0


def _riskiest(payloads: list[str]) -> str | None:
    if not payloads:
        return None
    return max(payloads, key=lambda p: float(analyse_link(p)["link.risk"] or 0.0))


class LinksStage:
    """Adds ``link.*`` facts for ``qr_scan`` events and ``user.secs_since_risky_qr``.

    A phishing QR code leads to a payment or transfer a few minutes later, so the stage
    remembers, per user, when they last scanned a code whose ``link.risk`` reached
    ``risky_at``; the feature is the time since (``None`` beyond ``memory_s``).
    ``user.secs_since_suspicious_qr`` is the same for the lower ``suspicious_at`` (a
    shortener or a cheap domain hiding where the payment page really is).

    A personal collection code looks the same for a lure and for a friend; what it pays
    does not. The stage learns which account a code pays from the scans followed by a
    transfer (``entry`` ``qr``, within ``SCAN_TO_PAY_S``) and gives later scans of the
    same code ``qr.code_payee`` (the baserates stage turns it into the payee's age), and
    ``qr.code_large_payers_7d``: how many other accounts paid at least
    ``LARGE_CODE_PAYMENT`` through this code in the last 7 days. A lure's code is passed
    round to strangers who each pay it a large sum once; a friend's or a vendor's code
    collects small sums, or one large one.

    With ``qr.image_b64`` the code is read from the picture in an image worker
    (``qr.*`` facts); the payload analysed is the riskiest code in the image, else the
    client's ``payload``.
    """

    name = "links"
    outputs: ClassVar[Mapping[str, str]] = {**FACT_NAMES, **FEATURE_NAMES}
    inputs: tuple[str, ...] = ()

    def __init__(
        self,
        risky_at: float = 0.5,
        memory_s: float = 86_400.0,
        suspicious_at: float = 0.2,
        *,
        images: ImagePool | None = None,
        store: ExplainStore | None = None,
    ) -> None:
        self.risky_at = risky_at
        self.suspicious_at = suspicious_at
        self.memory_s = memory_s
        self._last_risky: dict[str, float] = {}
        self._last_suspicious: dict[str, float] = {}
        self._last_scan: dict[str, tuple[str, float]] = {}  # user -> (payload, ts)
        self._code_payee: dict[str, tuple[str, float]] = {}  # payload -> (account, ts)
        self._code_payers: dict[str, dict[str, float]] = {}  # payload -> {payer: ts}
        self.images = images or ImagePool(workers=0)
        self._checks: PendingChecks[dict[str, Any]] = PendingChecks(self.images, read_qr)
        self._late = LateAttacher(store)
        self.max_entities = 0  # users remembered; 0: no cap

    @property
    def budget_s(self) -> float:
        return self.images.budget_s

    def prepare(self, event: Event) -> Future[dict[str, Any]] | None:
        qr = event.qr
        if qr is None or qr.image_b64 is None or probe(qr.image_b64) is not None:
            return None
        return self._checks.start(event.event_id, qr.image_b64)

    def read(self, ctx: DecisionContext) -> None:
        event = ctx.event
        ctx.features["user.secs_since_risky_qr"] = self._since(self._last_risky, event)
        ctx.features["user.secs_since_suspicious_qr"] = self._since(self._last_suspicious, event)
        qr = event.qr
        if qr is None:
            return
        payload = qr.payload
        if qr.image_b64 is not None:
            payload = self._image_facts(ctx, qr.image_b64, qr.payload)
        if payload:
            ctx.facts.update(analyse_link(payload))
            code = payload.strip()
            paid = self._code_payee.get(code)
            ctx.features["qr.code_payee"] = paid[0] if paid is not None else None
            ctx.features["qr.code_large_payers_7d"] = self._large_payers(code, event)

    def _large_payers(self, code: str, event: Event) -> int:
        """Other accounts that paid ``LARGE_CODE_PAYMENT`` or more through ``code`` this week."""
        payers = self._code_payers.get(code)
        if not payers:
            return 0
        user, ts = event.user_id, event.ts
        return sum(1 for p, t in payers.items() if p != user and 0 <= ts - t <= LARGE_PAYERS_S)

    def update(self, ctx: DecisionContext) -> None:
        qr = ctx.fields.qr
        if qr is not None and "link.risk" in ctx.facts:
            self._remember(ctx.event, ctx.facts["link.risk"])
        self._learn_payee(ctx.fields, qr.payload if qr is not None else None)

    def _learn_payee(self, event: EventLike, payload: str | None) -> None:
        """Remember the user's scan; a transfer right after it names the code's payee."""
        if event.type is EventType.QR_SCAN:
            if payload:
                self._last_scan[event.user_id] = (payload.strip(), event.ts)
                self._bound(self._last_scan)
            return
        cp = event.counterparty
        if event.type is not EventType.TRANSFER or cp is None or cp.account_id is None:
            return
        scan = self._last_scan.get(event.user_id)
        entry = event.context.entry if event.context is not None else None
        if scan is not None and entry == "qr" and 0 <= event.ts - scan[1] <= SCAN_TO_PAY_S:
            self._code_payee[scan[0]] = (cp.account_id, event.ts)
            self._bound(self._code_payee)
            if event.amount is not None and float(event.amount) >= LARGE_CODE_PAYMENT:
                self._code_payers.setdefault(scan[0], {})[event.user_id] = event.ts
                if self.max_entities:
                    evict_least_recent(self._code_payers, self.max_entities, _latest)

    def _bound(self, table: dict[str, tuple[str, float]]) -> None:
        if self.max_entities:
            evict_least_recent(table, self.max_entities, lambda v: v[1])

    def run(self, ctx: DecisionContext) -> None:
        self.read(ctx)
        self.update(ctx)

    def _image_facts(self, ctx: DecisionContext, image_b64: str, claimed: str | None) -> str | None:
        """Read the image's codes into ``qr.*`` facts; the payload to analyse."""
        unreadable = probe(image_b64)
        result: dict[str, Any] | None
        future: Future[dict[str, Any]] | None
        try:
            if unreadable is not None:
                result, future = {"payloads": [], "error": unreadable, "ms": 0.0}, None
            else:
                result, future = self._checks.take(ctx.event.event_id, image_b64)
        except Exception as exc:
            ctx.facts["qr.image_unreadable"] = True
            ctx.explain["qr_image_error"] = f"{type(exc).__name__}: {exc}"
            return claimed
        if result is None:
            ctx.facts["qr.image_pending"] = True
            if future is not None:
                self._late.later(ctx.event.event_id, self.name, future, _late_facts)
                event = ctx.event
                future.add_done_callback(lambda done: self._remember_late(event, done))
            return claimed
        payloads: list[str] = result["payloads"]
        found = _riskiest(payloads)
        ctx.facts.update(
            {
                "qr.from_image": found is not None,
                "qr.image_codes": len(payloads),
                "qr.image_unreadable": found is None,
                "qr.payload_mismatch": claimed is not None
                and found is not None
                and claimed.strip() not in payloads,
                "qr.image_pending": False,
                "qr.image_ms": result["ms"],
            }
        )
        if result["error"]:
            ctx.explain["qr_image_error"] = result["error"]
        return found or claimed

    def observe(self, event: Event) -> None:
        qr = event.qr
        if qr is None:
            self._learn_payee(event, None)
            return
        payload = qr.payload
        if qr.image_b64 is not None:
            # Rebuilds read the image again: state must not depend on the client's word.
            payload = _riskiest(read_qr(qr.image_b64)["payloads"]) or payload
        if payload:
            self._remember(event, analyse_link(payload)["link.risk"])
        self._learn_payee(event, payload)

    def horizon_seconds(self) -> float:
        return max(self.memory_s, CODE_MEMORY_S)

    def _since(self, last_seen: dict[str, float], event: Event) -> float | None:
        last = last_seen.get(event.user_id)
        since = None if last is None else event.ts - last
        return since if since is not None and 0 <= since <= self.memory_s else None

    def maintain(self, now: float) -> None:
        for last_seen in (self._last_risky, self._last_suspicious):
            stale = [u for u, t in last_seen.items() if now - t > self.memory_s]
            for user in stale:
                del last_seen[user]
        for table, keep in ((self._last_scan, SCAN_TO_PAY_S), (self._code_payee, CODE_MEMORY_S)):
            for key in [k for k, v in table.items() if now - v[1] > keep]:
                del table[key]
        for code, payers in list(self._code_payers.items()):
            for payer in [p for p, t in payers.items() if now - t > LARGE_PAYERS_S]:
                del payers[payer]
            if not payers:
                del self._code_payers[code]

    def snapshot(self) -> bytes:
        state = (
            self._last_risky,
            self._last_suspicious,
            self._last_scan,
            self._code_payee,
            self._code_payers,
        )
        return dump_state("links", state)

    def restore(self, data: bytes) -> None:
        state = load_state("links", data)
        if isinstance(state, dict):  # a snapshot from before the suspicious-scan memory
            state = (state, {}, {}, {})
        if len(state) == 4:  # from before the code's large payers
            state = (*state, {})
        (
            self._last_risky,
            self._last_suspicious,
            self._last_scan,
            self._code_payee,
            self._code_payers,
        ) = state

    def _remember_late(self, event: Event, done: Future[dict[str, Any]]) -> None:
        if not done.cancelled() and done.exception() is None:
            found = _riskiest(done.result()["payloads"])
            if found is not None:
                self._remember(event, analyse_link(found)["link.risk"])

    def close(self) -> None:
        self.images.close()

    def _remember(self, event: Event, risk: object) -> None:
        if not isinstance(risk, float | int):
            return
        for at, last_seen in (
            (self.risky_at, self._last_risky),
            (self.suspicious_at, self._last_suspicious),
        ):
            if risk >= at:
                last_seen[event.user_id] = event.ts
                if self.max_entities:
                    evict_least_recent(last_seen, self.max_entities, float)

    def entity_counts(self) -> dict[str, int]:
        return {
            "risky_qr_user": len(self._last_risky),
            "suspicious_qr_user": len(self._last_suspicious),
        }


def _late_facts(result: dict[str, Any]) -> dict[str, Any]:
    """What a late QR read adds to the decision: the codes' link facts."""
    found = _riskiest(result["payloads"])
    facts: dict[str, Any] = {"qr.image_codes": len(result["payloads"]), "qr.image_ms": result["ms"]}
    if found is not None:
        facts.update(analyse_link(found))
    return facts


def _latest(payers: dict[str, float]) -> float:
    return max(payers.values())
