"""Trading circles, online: who moves money with whom, and who of them just borrowed.

Fake credit building runs on a closed group: a handful of fresh accounts pay and transfer
to one another (and to a shop or two of their own) to look creditworthy, then draw their
credit lines together. Honest customers pay many outside counterparties, established
shops and friends who opened their accounts years ago; their friends rarely borrow on
the same day. This keeps, over a window, per account its transfer partners (both
directions), the shops it paid and, per shop, its payers, plus every account's
registration and last credit draw (each an entity state of a
:class:`~fengkong.features.state.StatesSession`: memory, or Redis), so an event can ask:

- is the payee someone who paid this account before (a reciprocal pair)?
- how many partners do the two share (a triangle in the group)?
- how many of the account's circle — its partners and the other payers of the shops it
  pays that look like a group's own (few payers, nearly all of them young) — are young
  accounts, and how many of them drew credit in the last hours?

>>> c = TradeCircles()
>>> c.register("a", 0.0); c.register("b", 0.0)
>>> c.transfer("a", "b", ts=60.0)
>>> c.transfer_facts("b", "a", ts=120.0)
(True, 0)
>>> c.draw("a", ts=3_600.0)
>>> c.circle("b", ts=7_200.0)
(1, 1)
"""

from __future__ import annotations

from fengkong.features.state import EntityStates, MemorySession, StatesSession

DAY = 86_400.0
# Partners, shops and payers kept per account or shop (the most recent ones).
MAX_LINKS = 48
# A shop with more payers than this in the window is a public shop, not a group's own.
SMALL_SHOP_PAYERS = 30
# A group's own shop: nearly all of its payers are young accounts (an honest shop's
# customers are mostly established, whatever the share of new customers on the app).
OWN_SHOP_YOUNG_SHARE = 0.8
# The entity kinds of the circles' states, for a session's prefetch.
LINK_KINDS = ("sent", "partners", "shops", "payers")


def _touch(links: dict[str, float], key: str, ts: float) -> None:
    links[key] = max(ts, links.get(key, ts))
    if len(links) > MAX_LINKS:
        del links[min(links, key=links.__getitem__)]


def _recent(links: dict[str, float] | None, since: float) -> list[str]:
    return [] if links is None else [k for k, t in links.items() if t >= since]


def _last_link(links: dict[str, float]) -> float:
    return max(links.values(), default=0.0)


class TradeCircles:
    """Transfer partners, shop payers, registrations and draws over a sliding window.

    ``session``: where the per-account and per-shop states live (default: in memory).
    """

    def __init__(
        self,
        window_s: float = 30 * DAY,
        draw_window_s: float = 2 * DAY,
        young_s: float = 60 * DAY,
        session: StatesSession | None = None,
    ) -> None:
        self.window_s = window_s
        self.draw_window_s = draw_window_s
        self.young_s = young_s
        self._session: StatesSession = session if session is not None else MemorySession()
        table = self._session.table
        self._sent: EntityStates[dict[str, float]] = table("sent", window_s)  # -> payee -> last
        self._partners: EntityStates[dict[str, float]] = table("partners", window_s)  # both ways
        self._shops: EntityStates[dict[str, float]] = table("shops", window_s)  # -> shop -> last
        self._payers: EntityStates[dict[str, float]] = table("payers", window_s)  # shop -> payer
        self._registered: EntityStates[float] = table("registered", young_s)
        self._drawn: EntityStates[float] = table("drawn", draw_window_s)  # -> last credit draw

    def __len__(self) -> int:
        return len(self._partners) + len(self._payers)

    # --- updates -----------------------------------------------------------------------
    def register(self, account: str, ts: float) -> None:
        self._registered.put_many({account: ts})

    def _link(
        self, states: EntityStates[dict[str, float]], key: str, other: str, ts: float
    ) -> None:
        links = states.get(key)
        links = {} if links is None else links
        _touch(links, other, ts)
        states.put_many({key: links})

    def transfer(self, sender: str, payee: str, ts: float) -> None:
        self._link(self._sent, sender, payee, ts)
        self._link(self._partners, sender, payee, ts)
        self._link(self._partners, payee, sender, ts)

    def payment(self, payer: str, shop: str, ts: float) -> None:
        self._link(self._shops, payer, shop, ts)
        self._link(self._payers, shop, payer, ts)

    def draw(self, account: str, ts: float) -> None:
        self._drawn.put_many({account: ts})

    # --- reads -------------------------------------------------------------------------
    def transfer_facts(self, sender: str, payee: str, ts: float) -> tuple[bool, int]:
        """(the payee sent to the sender in the window, partners the two share)."""
        since = ts - self.window_s
        back = (self._sent.get(payee) or {}).get(sender)
        mine = set(_recent(self._partners.get(sender), since)) - {payee}
        theirs = set(_recent(self._partners.get(payee), since)) - {sender}
        return back is not None and back >= since, len(mine & theirs)

    def members(self, account: str, ts: float) -> set[str]:
        """The account's circle: its transfer partners and the other payers of the
        shops it paid that look like a group's own (few payers, nearly all young)."""
        since = ts - self.window_s
        partners = _recent(self._partners.get(account), since)
        shops = _recent(self._shops.get(account), since)
        # In memory there is nothing to fetch: the lists are not even built.
        shared = self._session.shared
        if shared:  # one batch: the shops' payers and the partners' registrations, draws
            self._session.prefetch(
                [("payers", shop) for shop in shops]
                + [("registered", m) for m in partners]
                + [("drawn", m) for m in partners]
            )
        payers_of = self._payers.get_many(shops)
        small = [
            payers
            for payers in (_recent(payers_of.get(shop), since) for shop in shops)
            if len(payers) <= SMALL_SHOP_PAYERS
        ]
        if shared:  # the small shops' other payers: their registrations and draws
            maybe = list(dict.fromkeys([*partners, *(p for payers in small for p in payers)]))
            self._session.prefetch(
                [("registered", m) for m in maybe] + [("drawn", m) for m in maybe]
            )
        out = set(partners)
        for payers in small:
            young = sum(1 for p in payers if self.is_young(p, ts))
            if young >= OWN_SHOP_YOUNG_SHARE * len(payers):
                out.update(payers)
        out.discard(account)
        return out

    def circle(self, account: str, ts: float) -> tuple[int, int]:
        """(young accounts in the circle, of them those that drew credit lately)."""
        young = [m for m in self.members(account, ts) if self.is_young(m, ts)]
        since = ts - self.draw_window_s
        drawn = self._drawn.get_many(young)
        return len(young), sum(1 for m in young if drawn.get(m, -1e18) >= since)

    def shop_payers(self, shop: str, payer: str, ts: float) -> tuple[int, int | None]:
        """(the shop's other payers in the window, of them young accounts; None when the
        payer itself is not young, so an established customer's payment reads no more).

        A group's own shop is paid only by the group: a few payers, every one of them
        young. An honest shop's payers are mostly established, even a new shop's.
        """
        since = ts - self.window_s
        payers = [p for p in _recent(self._payers.get(shop), since) if p != payer]
        if not self.is_young(payer, ts):
            return len(payers), None  # a group's members are young: no registrations to read
        if self._session.shared:
            self._session.prefetch([("registered", p) for p in payers])
        return len(payers), sum(1 for p in payers if self.is_young(p, ts))

    def registered_secs_ago(self, account: str, ts: float) -> float | None:
        """Seconds since the account registered, None when not young (or unseen)."""
        at = self._registered.get(account)
        return None if at is None or ts - at >= self.young_s else ts - at

    def payee_circle(self, payee: str, sender: str, ts: float) -> int | None:
        """Young accounts in the payee's circle other than the sender: money sent into a
        closed group (its members trade with each other before the newcomer's first trade).
        None when the sender is not young: its transfers walk no one else's circle."""
        if not self.is_young(sender, ts):
            return None
        young = [m for m in self.members(payee, ts) if m != sender and self.is_young(m, ts)]
        return len(young)

    def young_payees(self, sender: str, ts: float, within_s: float, young_s: float) -> int:
        """Distinct accounts the sender paid in the last ``within_s`` that were registered
        less than ``young_s`` before its latest transfer to them (a hub pays its recruits)."""
        since = ts - within_s
        links = self._sent.get(sender) or {}
        payees = [p for p, t in links.items() if t >= since]
        if self._session.shared:
            self._session.prefetch([("registered", p) for p in payees])
        registered = self._registered.get_many(payees)
        return sum(
            1 for p in payees if (at := registered.get(p)) is not None and links[p] - at < young_s
        )

    def is_young(self, account: str, ts: float) -> bool:
        """Registered in the stream less than ``young_s`` ago."""
        at = self._registered.get(account)
        return at is not None and ts - at < self.young_s

    def wanted(self, account: str, other: str | None, shop: str | None) -> list[tuple[str, str]]:
        """The ``(kind, key)`` states an event of ``account`` (paying ``other`` or
        ``shop``) reads or changes first: one prefetch."""
        out = [(kind, account) for kind in (*LINK_KINDS, "registered", "drawn")]
        if other is not None:
            out += [("sent", other), ("partners", other), ("shops", other), ("registered", other)]
        if shop is not None:
            out.append(("payers", shop))
        return out

    # --- upkeep ------------------------------------------------------------------------
    def bound(self, cap: int) -> int:
        """Keep at most ``cap`` accounts and shops per map, least recent dropped first."""
        dropped = 0
        for links in (self._sent, self._partners, self._shops, self._payers):
            dropped += links.bound(cap, _last_link)
        for stamps in (self._registered, self._drawn):
            dropped += stamps.bound(cap, float)
        return dropped

    def expire(self, now: float) -> None:
        """Drop links older than the window and registrations past youth."""
        since = now - self.window_s
        for links in (self._sent, self._partners, self._shops, self._payers):
            gone: list[str] = []
            kept: dict[str, dict[str, float]] = {}
            for key, found in links.items():
                live = {k: t for k, t in found.items() if t >= since}
                if not live:
                    gone.append(key)
                elif len(live) < len(found):
                    kept[key] = live
            links.delete_many(gone)
            links.put_many(kept)
        young_edge = now - self.young_s
        self._registered.delete_many([a for a, t in self._registered.items() if t <= young_edge])
        drawn_since = now - self.draw_window_s
        self._drawn.delete_many([a for a, t in self._drawn.items() if t < drawn_since])
