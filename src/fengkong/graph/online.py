"""The online entity-link graph: incremental clusters and ring features, bounded in time.

Accounts and strong identifiers (devices, phones, ID numbers, cards, payees) are joined
in a union-find. Nothing is ever deleted from a union-find, so ageing works by
*generations*: generation ``k`` holds every link seen in ``[k·P, (k+2)·P)`` with
``P = horizon / 2``. Two generations are live at any time; each event is added to both,
features are read from the older one (which has seen between ``P`` and ``2P`` of
history), and a generation is dropped whole when it expires. Cost per event is a few
dictionary operations per identifier and generation, with no recomputation; memory is
bounded by the traffic of one horizon.

Very common identifiers are capped: an identifier glues at most ``cap[kind]`` distinct
accounts per generation (the first ones seen); later accounts are still counted on it
but no longer join its cluster. Weak identifiers (IP, /24, merchant) never glue.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from fengkong.graph.entities import DEFAULT_CAPS, STRONG_KINDS

HOUR: Final = 3600.0
# Accounts remembered per identifier; counts saturate here (a device with 256+ accounts
# is a farm whatever the exact number).
MEMBER_STORE: Final = 256
# Strong identifiers remembered per account for the 1- and 2-hop neighbourhoods.
IDS_PER_ACCOUNT: Final = 16
# At most this many accounts are visited for the 2-hop fraud share.
HOP2_BUDGET: Final = 512

FEATURE_NAMES: Final[tuple[str, ...]] = (
    "cluster_size",
    "cluster_growth_24h",
    "cluster_age_hours",
    "cluster_fraud_share",
    "accounts_per_device",
    "accounts_per_phone",
    "accounts_per_id_number",
    "accounts_per_card",
    "accounts_per_payee",
    "accounts_per_ip24",
    "neighbours_1hop",
    "fraud_share_1hop",
    "fraud_share_2hop",
)

_COUNT_GROUPS: Final[dict[str, str]] = {
    "d": "accounts_per_device",
    "k": "accounts_per_device",
    "p": "accounts_per_phone",
    "x": "accounts_per_id_number",
    "c": "accounts_per_card",
    "q": "accounts_per_payee",
    "r": "accounts_per_payee",
    "n": "accounts_per_ip24",
}


@dataclass(slots=True)
class Generation:
    """One union-find over the links seen since ``start``."""

    start: float
    parent: dict[str, str] = field(default_factory=dict)
    size: dict[str, int] = field(default_factory=dict)  # root -> accounts
    fraud: dict[str, int] = field(default_factory=dict)  # root -> known-fraud accounts
    formed: dict[str, float] = field(default_factory=dict)  # root -> first time ≥ 2 accounts
    joins: dict[str, dict[int, int]] = field(default_factory=dict)  # root -> hour -> new
    members: dict[str, dict[str, None]] = field(default_factory=dict)  # ident -> accounts
    ids_of: dict[str, list[str]] = field(default_factory=dict)  # account -> strong idents
    first_seen: dict[str, float] = field(default_factory=dict)

    def find(self, x: str) -> str:
        parent = self.parent
        while True:
            p = parent[x]
            if p == x:
                return x
            gp = parent[p]
            parent[x] = gp  # path halving keeps trees flat without recursion
            x = gp

    def root_of(self, x: str) -> str | None:
        return self.find(x) if x in self.parent else None

    def _add_account(self, acc: str, ts: float, is_fraud: bool) -> None:
        self.parent[acc] = acc
        self.size[acc] = 1
        self.fraud[acc] = 1 if is_fraud else 0
        self.joins[acc] = {int(ts // HOUR): 1}
        self.first_seen[acc] = ts

    def union(self, a: str, b: str, ts: float) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        sa, sb = self.size[ra], self.size[rb]
        if sa < sb or (sa == sb and len(self.joins[ra]) < len(self.joins[rb])):
            ra, rb = rb, ra
        self.parent[rb] = ra
        total = sa + sb
        self.size[ra] = total
        self.fraud[ra] += self.fraud.pop(rb)
        del self.size[rb]
        fa, fb = self.formed.pop(ra, None), self.formed.pop(rb, None)
        if fa is not None or fb is not None:
            self.formed[ra] = min(f for f in (fa, fb) if f is not None)
        elif sa > 0 and sb > 0:
            self.formed[ra] = ts
        ja, jb = self.joins[ra], self.joins.pop(rb)
        horizon = int(ts // HOUR) - 23
        for h, n in jb.items():
            if h >= horizon:
                ja[h] = ja.get(h, 0) + n
        for h in [h for h in ja if h < horizon]:
            del ja[h]

    def link(
        self, ts: float, acc: str, keys: Iterable[str], caps: Mapping[str, int], is_fraud: bool
    ) -> None:
        """Add the links of one account to its identifiers."""
        if acc not in self.parent:
            self._add_account(acc, ts, is_fraud)
        members = self.members
        ids: list[str] | None = None
        for key in keys:
            mem = members.get(key)
            if mem is None:
                mem = members[key] = {}
            elif acc in mem:
                continue
            n = len(mem)
            if n < MEMBER_STORE:
                mem[acc] = None
            kind = key[0]
            if kind not in STRONG_KINDS:
                continue
            if ids is None:
                ids = self.ids_of.get(acc)
                if ids is None:
                    ids = self.ids_of[acc] = []
            if len(ids) < IDS_PER_ACCOUNT and key not in ids:
                ids.append(key)
            if n < caps.get(kind, 0):
                if key not in self.parent:
                    # A fresh identifier: hang it straight under the account's root.
                    root = self.find(acc)
                    self.parent[key] = root
                else:
                    self.union(acc, key, ts)


@dataclass(frozen=True, slots=True)
class Label:
    at: float
    account: str
    fraud: bool


class OnlineGraph:
    """Entity-link graph with incremental clusters, aged by generations.

    ``horizon`` is the longest history a feature looks at (default 30 days); events are
    expected in roughly increasing time order (the clock never goes back).
    """

    def __init__(
        self, horizon: float = 30 * 86400.0, caps: Mapping[str, int] | None = None
    ) -> None:
        if horizon <= 0:
            raise ValueError("horizon must be positive")
        self.horizon = float(horizon)
        self.period = self.horizon / 2
        self.caps: dict[str, int] = dict(DEFAULT_CAPS if caps is None else caps)
        # Nodes (accounts and identifiers) one generation may hold; 0: no cap. Beyond it
        # the oldest generation is dropped early: features then look back less far.
        self.max_nodes = 0
        self.gens: dict[int, Generation] = {}
        self._oldest: Generation | None = None
        self.clock = float("-inf")
        self.fraud: set[str] = set()
        self._pending: list[tuple[float, int, Label]] = []
        self._seq = itertools.count()

    # -- labels -----------------------------------------------------------------------
    def add_label(self, account: str, fraud: bool, at: float) -> None:
        """Mark ``account`` (key ``a:<user_id>``) known-fraud (or clear it) from ``at`` on."""
        heapq.heappush(self._pending, (at, next(self._seq), Label(at, account, fraud)))
        self._apply_labels(self.clock)

    def _apply_labels(self, now: float) -> None:
        pending = self._pending
        while pending and pending[0][0] <= now:
            label = heapq.heappop(pending)[2]
            acc = label.account
            if label.fraud == (acc in self.fraud):
                continue
            delta = 1 if label.fraud else -1
            if label.fraud:
                self.fraud.add(acc)
            else:
                self.fraud.discard(acc)
            for gen in self.gens.values():
                root = gen.root_of(acc)
                if root is not None:
                    gen.fraud[root] += delta

    # -- time -------------------------------------------------------------------------
    def advance(self, ts: float) -> None:
        """Move the clock to ``ts``: apply due labels, open and drop generations."""
        if ts > self.clock:
            k = int(ts // self.period)
            if k not in self.gens:
                for old in [i for i in self.gens if i < k - 1]:
                    del self.gens[old]
                if k - 1 not in self.gens:
                    self.gens[k - 1] = Generation((k - 1) * self.period)
                self.gens[k] = Generation(k * self.period)
                self._oldest = self.gens[min(self.gens)]
            self.clock = ts
        pending = self._pending
        if pending and pending[0][0] <= self.clock:
            self._apply_labels(self.clock)

    def oldest(self) -> Generation | None:
        """The generation features read: the one that has seen the most history."""
        return self._oldest

    # -- updates ----------------------------------------------------------------------
    def observe_links(self, ts: float, account: str, keys: list[str]) -> None:
        """Add one account's links to every live generation."""
        self.advance(ts)
        is_fraud = account in self.fraud
        caps = self.caps
        for gen in self.gens.values():
            gen.link(self.clock, account, keys, caps, is_fraud)
        if (
            self.max_nodes
            and self._oldest is not None
            and len(self._oldest.parent) > self.max_nodes
        ):
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        """Too many nodes: forget the oldest generation early; the younger one takes its
        place and a fresh one starts now (the period's rotation then goes on as usual)."""
        newest = max(self.gens)
        young = self.gens[newest]
        self.gens = {newest - 1: young, newest: Generation(self.clock)}
        if len(young.parent) > self.max_nodes:  # the younger one is full already, too
            self.gens = {newest: Generation(self.clock)}
        self._oldest = self.gens[min(self.gens)]

    def node_count(self) -> int:
        return sum(len(g.parent) for g in self.gens.values())

    # -- features ---------------------------------------------------------------------
    def features(self, ts: float, account: str, keys: list[str]) -> dict[str, float | int | None]:
        """Ring features of ``account`` about to link to ``keys``, from the state before."""
        self.advance(ts)
        gen = self._oldest
        out: dict[str, float | int | None] = dict.fromkeys(FEATURE_NAMES)
        if gen is None:
            return out
        now = self.clock
        known = account in gen.parent
        caps = self.caps
        # The cluster the account would be in once this event's strong links are added.
        roots: set[str] = set()
        if known:
            roots.add(gen.find(account))
        members = gen.members
        parent = gen.parent
        for key in keys:
            kind = key[0]
            mem = members.get(key)
            group = _COUNT_GROUPS.get(kind)
            if group is not None:
                n = (len(mem) if mem else 0) + (0 if mem and account in mem else 1)
                prev = out[group]
                out[group] = n if prev is None else max(int(prev), n)
            if mem is None or kind not in STRONG_KINDS or key not in parent:
                continue
            if account in mem or len(mem) < caps.get(kind, 0):
                roots.add(gen.find(key))
        size = sum(gen.size[r] for r in roots) + (0 if known else 1)
        horizon = int(now // HOUR) - 23
        growth = 0 if known else 1
        formed: float | None = None
        fraud = 0
        for r in roots:
            growth += sum(n for h, n in gen.joins[r].items() if h >= horizon)
            f = gen.formed.get(r)
            if f is not None and (formed is None or f < formed):
                formed = f
            fraud += gen.fraud[r]
        if formed is None and size >= 2:
            formed = now
        if not known and account in self.fraud:
            fraud += 1
        out["cluster_size"] = size
        out["cluster_growth_24h"] = growth
        out["cluster_age_hours"] = None if formed is None else (now - formed) / HOUR
        out["cluster_fraud_share"] = fraud / size
        self._hop_features(gen, account, keys, out)
        return out

    def _hop_features(
        self, gen: Generation, account: str, keys: list[str], out: dict[str, float | int | None]
    ) -> None:
        caps = self.caps
        fraud = self.fraud
        members = gen.members
        own = list(gen.ids_of.get(account, ()))
        own.extend(k for k in keys if k[0] in STRONG_KINDS and k not in own)
        hop1: set[str] = set()
        for key in own:
            mem = members.get(key)
            if mem:
                hop1.update(_capped(mem, caps.get(key[0], 0)))
        hop1.discard(account)
        out["neighbours_1hop"] = len(hop1)
        if not hop1:
            return
        if not fraud:  # no known-fraud account: both shares are 0 whatever the walk finds
            out["fraud_share_1hop"] = out["fraud_share_2hop"] = 0.0
            return
        out["fraud_share_1hop"] = len(hop1 & fraud) / len(hop1)
        seen = _two_hops(gen, caps, account, own, hop1)
        if len(seen) > HOP2_BUDGET:
            # The walk may have stopped early, at a point that depends on the order of
            # the neighbours: take the walk that stops where the budget says.
            seen = _two_hops_budgeted(gen, caps, account, own, hop1)
        out["fraud_share_2hop"] = (len(seen & fraud) - (account in fraud)) / (len(seen) - 1)


def _capped(mem: dict[str, None], cap: int) -> Iterable[str]:
    """The accounts an identifier joins (its first ``cap``)."""
    return mem if len(mem) <= cap else itertools.islice(mem, cap)


def _two_hops(
    gen: Generation, caps: Mapping[str, int], account: str, own: list[str], hop1: set[str]
) -> set[str]:
    """``account``, its neighbours, and theirs, through each identifier's capped accounts
    (given up once past the budget: a hub's neighbourhood is not walked whole)."""
    ids_of = gen.ids_of
    members = gen.members
    keys: set[str] = set()
    for nb in hop1:
        ids = ids_of.get(nb)
        if ids:
            keys.update(ids)
    keys.difference_update(own)  # their accounts are the 1-hop neighbours already
    seen = set(hop1)
    seen.add(account)
    for key in keys:
        mem = members.get(key)
        if mem:
            seen.update(_capped(mem, caps.get(key[0], 0)))
            if len(seen) > HOP2_BUDGET:  # the caller takes the budgeted walk instead
                break
    return seen


def _two_hops_budgeted(
    gen: Generation, caps: Mapping[str, int], account: str, own: list[str], hop1: set[str]
) -> set[str]:
    """:func:`_two_hops`, stopping after the neighbour that takes it past the budget."""
    seen = set(hop1)
    seen.add(account)
    ids_of = gen.ids_of
    members = gen.members
    # An identifier's (capped) accounts are all in ``seen`` once it has been visited,
    # and ``seen`` only grows: visiting it again adds nothing. Neighbours on one
    # shared device all list it, so each identifier is visited once.
    visited = set(own)
    for nb in hop1:
        for key in ids_of.get(nb, ()):
            if key in visited:
                continue
            visited.add(key)
            mem = members.get(key)
            if mem:
                seen.update(_capped(mem, caps.get(key[0], 0)))
        if len(seen) > HOP2_BUDGET:
            break
    return seen
