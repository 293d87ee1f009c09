"""Trading circles, online: who moves money with whom, and who of them just borrowed.

Fake credit building runs on a closed group: a handful of fresh accounts pay and transfer
to one another (and to a shop or two of their own) to look creditworthy, then draw their
credit lines together. Honest customers pay many outside counterparties, established
shops and friends who opened their accounts years ago; their friends rarely borrow on
the same day. This keeps, over a window, per account its transfer partners (both
directions), the shops it paid and, per shop, its payers, plus every account's
registration and last credit draw, so an event can ask:

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

from fengkong.features.bounded import evict_least_recent

DAY = 86_400.0
# Partners, shops and payers kept per account or shop (the most recent ones).
MAX_LINKS = 48
# A shop with more payers than this in the window is a public shop, not a group's own.
SMALL_SHOP_PAYERS = 30
# A group's own shop: nearly all of its payers are young accounts (an honest shop's
# customers are mostly established, whatever the share of new customers on the app).
OWN_SHOP_YOUNG_SHARE = 0.8


def _touch(links: dict[str, float], key: str, ts: float) -> None:
    links[key] = max(ts, links.get(key, ts))
    if len(links) > MAX_LINKS:
        del links[min(links, key=links.__getitem__)]


def _recent(links: dict[str, float] | None, since: float) -> list[str]:
    return [] if links is None else [k for k, t in links.items() if t >= since]


class TradeCircles:
    """Transfer partners, shop payers, registrations and draws over a sliding window."""

    def __init__(
        self, window_s: float = 30 * DAY, draw_window_s: float = 2 * DAY, young_s: float = 60 * DAY
    ) -> None:
        self.window_s = window_s
        self.draw_window_s = draw_window_s
        self.young_s = young_s
        self._sent: dict[str, dict[str, float]] = {}  # account -> payee -> last transfer
        self._partners: dict[str, dict[str, float]] = {}  # both directions
        self._shops: dict[str, dict[str, float]] = {}  # account -> shop -> last payment
        self._payers: dict[str, dict[str, float]] = {}  # shop -> payer -> last payment
        self._registered: dict[str, float] = {}
        self._drawn: dict[str, float] = {}  # account -> last credit draw

    def __len__(self) -> int:
        return len(self._partners) + len(self._payers)

    # --- updates -----------------------------------------------------------------------
    def register(self, account: str, ts: float) -> None:
        self._registered[account] = ts

    def transfer(self, sender: str, payee: str, ts: float) -> None:
        _touch(self._sent.setdefault(sender, {}), payee, ts)
        _touch(self._partners.setdefault(sender, {}), payee, ts)
        _touch(self._partners.setdefault(payee, {}), sender, ts)

    def payment(self, payer: str, shop: str, ts: float) -> None:
        _touch(self._shops.setdefault(payer, {}), shop, ts)
        _touch(self._payers.setdefault(shop, {}), payer, ts)

    def draw(self, account: str, ts: float) -> None:
        self._drawn[account] = ts

    # --- reads -------------------------------------------------------------------------
    def transfer_facts(self, sender: str, payee: str, ts: float) -> tuple[bool, int]:
        """(the payee sent to the sender in the window, partners the two share)."""
        since = ts - self.window_s
        back = self._sent.get(payee, {}).get(sender)
        mine = set(_recent(self._partners.get(sender), since)) - {payee}
        theirs = set(_recent(self._partners.get(payee), since)) - {sender}
        return back is not None and back >= since, len(mine & theirs)

    def members(self, account: str, ts: float) -> set[str]:
        """The account's circle: its transfer partners and the other payers of the
        shops it paid that look like a group's own (few payers, nearly all young)."""
        since = ts - self.window_s
        out = set(_recent(self._partners.get(account), since))
        for shop in _recent(self._shops.get(account), since):
            payers = _recent(self._payers.get(shop), since)
            if len(payers) > SMALL_SHOP_PAYERS:
                continue
            young = sum(1 for p in payers if self._is_young(p, ts))
            if young >= OWN_SHOP_YOUNG_SHARE * len(payers):
                out.update(payers)
        out.discard(account)
        return out

    def circle(self, account: str, ts: float) -> tuple[int, int]:
        """(young accounts in the circle, of them those that drew credit lately)."""
        young = [m for m in self.members(account, ts) if self._is_young(m, ts)]
        since = ts - self.draw_window_s
        return len(young), sum(1 for m in young if self._drawn.get(m, -1e18) >= since)

    def _is_young(self, account: str, ts: float) -> bool:
        at = self._registered.get(account)
        return at is not None and ts - at < self.young_s

    # --- upkeep ------------------------------------------------------------------------
    def bound(self, cap: int) -> int:
        """Keep at most ``cap`` accounts and shops per map, least recent dropped first."""
        dropped = 0
        for links in (self._sent, self._partners, self._shops, self._payers):
            dropped += evict_least_recent(links, cap, lambda d: max(d.values(), default=0.0))
        for stamps in (self._registered, self._drawn):
            dropped += evict_least_recent(stamps, cap, lambda t: t)
        return dropped

    def expire(self, now: float) -> None:
        """Drop links older than the window and registrations past youth."""
        since = now - self.window_s
        for links in (self._sent, self._partners, self._shops, self._payers):
            for key in list(links):
                kept = {k: t for k, t in links[key].items() if t >= since}
                if kept:
                    links[key] = kept
                else:
                    del links[key]
        for account in [a for a, t in self._registered.items() if now - t >= self.young_s]:
            del self._registered[account]
        drawn_since = now - self.draw_window_s
        for account in [a for a, t in self._drawn.items() if t < drawn_since]:
            del self._drawn[account]
