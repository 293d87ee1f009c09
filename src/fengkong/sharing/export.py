"""What a member exports: the identities behind its confirmed fraud, as keyed hashes.

Fraud labels (an account or an event; the latest label of each wins, so a ``legit``
label withdraws an earlier ``fraud``) select the stored events; each event gives its
identities (:mod:`.identifiers`). An identity's confidence comes from its strongest
label source and grows with the fraudulent accounts behind it; fingerprint clusters
count half (a cluster is a phone model's rendering, not one phone) and merchants are
exported only behind two or more fraudulent accounts (a fraudster's one purchase says
nothing of the shop). Every entry expires ``ttl_days`` after it was last seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from fengkong.events import Event
from fengkong.sharing.bundle import Entry
from fengkong.sharing.identifiers import clear_entities, token_entities
from fengkong.sharing.keys import ConsortiumKeys

SOURCE_CONFIDENCE = {
    "confirmed_case": 0.95,
    "chargeback": 0.9,
    "analyst": 0.8,
    "customer_report": 0.6,
}
KIND_WEIGHT = {"fingerprint": 0.5}
MIN_ACCOUNTS = {"merchant": 2}
DAY = 86_400


class LabelLike(Protocol):
    @property
    def event_id(self) -> str | None: ...

    @property
    def user_id(self) -> str | None: ...

    @property
    def label(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def at(self) -> float: ...


@dataclass
class _Seen:
    first: float
    last: float
    users: set[str] = field(default_factory=set)
    source: str = "customer_report"


@dataclass
class ExportReport:
    """Counts of what the export did (printed by ``fengkong share export``)."""

    fraud_accounts: int = 0
    fraud_events: int = 0
    entries: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    without_hash: int = 0
    expired: int = 0
    below_accounts: int = 0


def fraud_targets(labels: Iterable[LabelLike]) -> tuple[dict[str, str], dict[str, str]]:
    """``(user -> source, event -> source)`` of the labels whose latest verdict is fraud."""
    users: dict[str, tuple[float, str, str]] = {}
    events: dict[str, tuple[float, str, str]] = {}
    for lab in labels:
        table, key = (users, lab.user_id) if lab.user_id else (events, lab.event_id)
        if key is None:
            continue
        if key not in table or lab.at >= table[key][0]:
            table[key] = (lab.at, lab.label, lab.source)
    pick = {k: v[2] for k, v in users.items() if v[1] == "fraud"}
    return pick, {k: v[2] for k, v in events.items() if v[1] == "fraud"}


def _stronger(a: str, b: str) -> str:
    return a if SOURCE_CONFIDENCE.get(a, 0) >= SOURCE_CONFIDENCE.get(b, 0) else b


def collect(
    events: Iterable[Event], users: dict[str, str], labelled: dict[str, str]
) -> dict[tuple[str, str], _Seen]:
    """``(kind, canonical value or token) -> what was seen`` over the fraud events."""
    seen: dict[tuple[str, str], _Seen] = {}
    for ev in events:
        source = users.get(ev.user_id) or labelled.get(ev.event_id)
        if source is None:
            continue
        ts = ev.occurred_at.timestamp()
        for key in (*clear_entities(ev), *token_entities(ev)):
            s = seen.get(key)
            if s is None:
                s = seen[key] = _Seen(ts, ts, source=source)
            s.first, s.last = min(s.first, ts), max(s.last, ts)
            s.users.add(ev.user_id)
            s.source = _stronger(s.source, source)
    return seen


def confidence(kind: str, source: str, accounts: int) -> float:
    base = SOURCE_CONFIDENCE.get(source, 0.5) + 0.02 * (min(accounts, 5) - 1)
    return round(min(0.99, base) * KIND_WEIGHT.get(kind, 1.0), 3)


def build_entries(
    seen: dict[tuple[str, str], _Seen],
    keys: ConsortiumKeys,
    token_hash: Callable[[str], dict[str, str]],
    *,
    now: float,
    ttl_days: float,
    report: ExportReport,
) -> list[Entry]:
    """The keyed-hash entries under the current consortium key, expired ones left out."""
    if keys.current is None:
        raise ValueError("no current consortium key: set sharing.export_key_id")
    out: dict[tuple[str, str], Entry] = {}
    for (kind, value), s in seen.items():
        if len(s.users) < MIN_ACCOUNTS.get(kind, 1):
            report.below_accounts += 1
            continue
        expires = int(s.last + ttl_days * DAY)
        if expires <= now:
            report.expired += 1
            continue
        if value.startswith("tk_"):
            digest = token_hash(value).get(keys.current)
            if digest is None:
                report.without_hash += 1
                continue
        else:
            digest = keys.digest(keys.current, kind, value)
        conf = confidence(kind, s.source, len(s.users))
        entry = Entry(kind, digest, int(s.first), int(s.last), conf, s.source, expires)
        old = out.get((kind, digest))
        if old is None or old.confidence < entry.confidence:
            out[(kind, digest)] = entry
    entries = sorted(out.values(), key=lambda e: (e.kind, e.digest))
    report.entries = len(entries)
    for e in entries:
        report.by_kind[e.kind] = report.by_kind.get(e.kind, 0) + 1
    return entries
