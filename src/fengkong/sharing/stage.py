"""Pipeline stage ``shared``: the consortium's reports about this event's identities.

For each entity kind ``K`` (:data:`~fengkong.sharing.identifiers.KINDS`) and over all
kinds it writes ``shared.K.reports_30d`` (live reports whose member last saw the
identity within 30 days), ``shared.K.members`` (distinct members reporting it) and
``shared.K.max_confidence``; ``shared.reports_30d``, ``shared.members`` and
``shared.max_confidence`` take every kind together. Point in time: a report counts
for an event from its import on and until it expires. With nothing imported the stage
writes nothing, so decisions and explanations are exactly those without it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import NamedTuple, Protocol

from fengkong.decisions.types import DecisionContext, FeatureValue
from fengkong.sharing.bundle import no_gc
from fengkong.sharing.identifiers import KINDS, clear_entities, token_entities
from fengkong.sharing.keys import ConsortiumKeys
from fengkong.sharing.vault import Vault

WINDOW_S = 30 * 86_400
METRICS = ("reports_30d", "members", "max_confidence")
OUTPUTS: dict[str, str] = {
    **{f"shared.{k}.{m}": "num" for k in KINDS for m in METRICS},
    **{f"shared.{m}": "num" for m in METRICS},
}


class Report(NamedTuple):
    member: str
    last_seen: int
    confidence: float
    expires_at: int
    imported_at: float


# member, consortium key, kind, digest, last seen, confidence, expires at, imported at
Row = tuple[str, str, str, str, int, float, int, float]


class EntrySource(Protocol):
    """Where imported entries live (``storage.sharing_sqlite.SharingStore``)."""

    def version(self) -> int: ...

    def rows(self) -> Iterable[Row]: ...


Index = dict[tuple[str, str, str], list[Report]]


def build_index(rows: Iterable[Row]) -> Index:
    """``(consortium key, kind, digest) -> reports`` from stored rows."""
    index: Index = {}
    with no_gc():  # a million small tuples hold no cycles
        for member, key_id, kind, digest, last, conf, expires, imported in rows:
            report = Report(member, last, conf, expires, imported)
            found = index.get((key_id, kind, digest))
            if found is None:
                index[(key_id, kind, digest)] = [report]
            else:
                found.append(report)
    return index


class SharedListStage:
    """Matches the event's identities against the imported consortium lists.

    The store's version is checked at most every ``refresh_s``; when it moved, the index
    is read again, in a background thread with ``background`` (a server keeps deciding
    on the previous lists meanwhile: a million entries take seconds), else at once (a
    replay or a test sees an import from the next event on).
    """

    name = "shared"
    outputs = OUTPUTS
    inputs: tuple[str, ...] = ()

    def __init__(
        self,
        source: EntrySource | None,
        keys: ConsortiumKeys,
        vault: Vault | None = None,
        *,
        refresh_s: float = 1.0,
        background: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._keys = keys
        self._vault = vault
        self._refresh_s = refresh_s
        self._clock = clock
        self._checked = float("-inf")
        self._version: int | None = None
        self._background = background
        self._loading: threading.Thread | None = None
        self.index: Index = {}

    def _current(self) -> Index:
        if self._source is None:
            return self.index
        now = self._clock()
        if now - self._checked >= self._refresh_s:
            self._checked = now
            version = self._source.version()
            if version != self._version and self._loading is None:
                if self._background:
                    self._loading = threading.Thread(
                        target=self._load, args=(version,), name="shared-index", daemon=True
                    )
                    self._loading.start()
                else:
                    self._load(version)
        return self.index

    def _load(self, version: int) -> None:
        assert self._source is not None
        try:
            self.index = build_index(self._source.rows())
            self._version = version
        finally:
            self._loading = None

    def reload(self) -> None:
        """Read the entries again at the next event (after an import in this process)."""
        self._checked = float("-inf")

    def close(self) -> None:
        if self._loading is not None:
            self._loading.join()
        close = getattr(self._source, "close", None)
        if callable(close):
            close()

    def run(self, ctx: DecisionContext) -> None:
        index = self._current()
        if not index or not self._keys:
            return
        ts = ctx.event.occurred_at.timestamp()
        found = self._reports(ctx, index, ts)
        out = ctx.features
        every: list[Report] = []
        for kind in KINDS:
            reports = found.get(kind, [])
            every.extend(reports)
            _write(out, f"shared.{kind}", reports, ts)
        _write(out, "shared", every, ts)
        if every:
            members = sorted({r.member for r in every})
            detail = f"reported by {', '.join(members)}: {', '.join(sorted(found))}"
            ctx.explain.setdefault("shared", detail)

    def _reports(self, ctx: DecisionContext, index: Index, ts: float) -> dict[str, list[Report]]:
        found: dict[str, list[Report]] = {}
        digests: list[tuple[str, str, str]] = []
        for kind, value in clear_entities(ctx.event):
            digests.extend((k, kind, d) for k, d in self._keys.digests(kind, value).items())
        if self._vault is not None:
            for kind, token in token_entities(ctx.event):
                digests.extend((k, kind, d) for k, d in self._vault.lookup(token).items())
        for key in dict.fromkeys(digests):
            for r in index.get(key, ()):
                if r.imported_at <= ts < r.expires_at:
                    found.setdefault(key[1], []).append(r)
        return found


def _write(out: dict[str, FeatureValue], prefix: str, reports: list[Report], ts: float) -> None:
    out[f"{prefix}.reports_30d"] = sum(1 for r in reports if r.last_seen >= ts - WINDOW_S)
    out[f"{prefix}.members"] = len({r.member for r in reports})
    out[f"{prefix}.max_confidence"] = max((r.confidence for r in reports), default=0.0)
