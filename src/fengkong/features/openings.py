"""Opening links: the bank cards and identity documents that young accounts share.

A device farm owns a few phones, but it also owns a small stock of what every account
must show: bank cards (a mule's card receives the cash-out of many accounts) and photos
of identity documents (one template photo, or a few stolen ones, behind many
registrations). Farm phones of a popular model that reset their device id for every
account look like thousands of honest phones, and residential proxies spread their
addresses over a country; the cards and the documents stay the same. An honest person
binds their own card and photographs their own identity card: outside one person's two
accounts, a card or an opening document is never shared.

For every account opened within the history (its ``register`` seen), this module
remembers the cards it used while young (bound, drawn to, withdrawn to) and the
documents it uploaded on its first day, and every later event reads how many accounts
those carry *now* (point in time: the state before the event):

* ``user.opening_card_accounts_30d``: the most accounts (this one included) that used one
  of this account's cards in 30 days (``None`` without a registration or a card);
* ``user.opening_document_accounts_30d``: the most accounts (this one included) that
  uploaded one of this account's opening documents, byte for byte, in 30 days;
* ``bank_card.other_accounts_30d``: on an event with a card, the *other* accounts that
  used it in 30 days (an account drawing to its own card, then binding it, is alone).

Documents uploaded later in an account's life (certificates, complaint letters) are not
opening documents: an agency that files for many established customers is described
apart, per device id (the app's own id; a shared fingerprint is no device):

* ``device.filing_accounts_30d``: the *other* accounts whose documents were uploaded or
  settings changed on this device id in 30 days, outside their opening day. A phone
  files its owner's paperwork; a family tablet now and then a relative's; a complaint
  agency's phone one customer's after another's, for customers from every city.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fengkong.events import EventType
from fengkong.events.fields import EventLike
from fengkong.events.protect import media_fingerprint
from fengkong.features.engine import FeatureValue
from fengkong.features.windows import DistinctWindows

DAY = 86_400
WINDOW_S = 30 * DAY  # cards and documents are counted over this window
YOUNG_S = 30 * DAY  # an account's cards are recorded while it is this young
OPENING_S = DAY  # documents uploaded this soon after registration are opening documents
MAX_LINKS = 8  # cards or documents remembered per account (a farm account uses few)

FEATURE_NAMES: dict[str, str] = {
    "user.opening_card_accounts_30d": "num",
    "user.opening_document_accounts_30d": "num",
    "device.filing_accounts_30d": "num",
    "bank_card.other_accounts_30d": "num",
}

_MONEY_CARD_TYPES = (EventType.CREDIT_DRAW, EventType.WITHDRAWAL)


@dataclass(slots=True)
class _Account:
    opened: float
    cards: list[str] = field(default_factory=list)
    docs: list[str] = field(default_factory=list)


def document_digest(image_b64: str) -> str:
    """The uploaded image's digest, the same from a live event and from its stored body
    (which keeps ``fp:<digest>`` only): a restart or another worker learns the same."""
    return media_fingerprint(image_b64)


def _event_cards(event: EventLike) -> list[str]:
    cards: list[str] = []
    carded = event.type is EventType.ACCOUNT_CHANGE or event.type in _MONEY_CARD_TYPES
    if carded and event.bank_card is not None:
        cards.append(event.bank_card)
    cp = event.counterparty
    to_card = cp.bank_card if event.type is EventType.WITHDRAWAL and cp is not None else None
    if to_card is not None and to_card not in cards:
        cards.append(to_card)
    return cards


class OpeningLinks:
    """Accounts per card and per opening document, and each young account's links."""

    def __init__(self) -> None:
        self.cards: dict[str, DistinctWindows] = {}
        self.docs: dict[str, DistinctWindows] = {}
        self.accounts: dict[str, _Account] = {}
        self.filings: dict[str, DistinctWindows] = {}  # device id -> accounts filed for

    @staticmethod
    def _most(table: dict[str, DistinctWindows], keys: list[str], now: float) -> int | None:
        if not keys:
            return None
        return max((table[k].counts(now)[0] if k in table else 0) for k in keys)

    def read(self, event: EventLike, device: str | None) -> dict[str, FeatureValue]:
        """Features of ``event``; ``device`` is its app device id key (``None`` without)."""
        out: dict[str, FeatureValue] = dict.fromkeys(FEATURE_NAMES)
        if device is not None:
            w = self.filings.get(device)
            filed = 0 if w is None else w.counts(event.ts)[0]
            if w is not None and event.user_id in w:
                filed -= 1
            out["device.filing_accounts_30d"] = filed
        if event.bank_card is not None:
            w = self.cards.get(event.bank_card)
            others = 0 if w is None else w.counts(event.ts)[0]
            if w is not None and event.user_id in w:
                others -= 1
            out["bank_card.other_accounts_30d"] = others
        acct = self.accounts.get(event.user_id)
        if acct is not None:
            now = event.ts
            out["user.opening_card_accounts_30d"] = self._most(self.cards, acct.cards, now)
            out["user.opening_document_accounts_30d"] = self._most(self.docs, acct.docs, now)
        return out

    def see(self, event: EventLike, device: str | None) -> None:
        now, user = event.ts, event.user_id
        if event.type is EventType.REGISTER and user not in self.accounts:
            self.accounts[user] = _Account(now)
        acct = self.accounts.get(user)
        young = acct is not None and now - acct.opened < YOUNG_S
        for card in _event_cards(event):
            self._add(self.cards, card, user, now)
            keep = young and acct is not None and len(acct.cards) < MAX_LINKS
            if keep and acct is not None and card not in acct.cards:
                acct.cards.append(card)
        doc = event.document
        opening = acct is not None and now - acct.opened < OPENING_S
        if event.type is EventType.DOCUMENT_UPLOAD and doc is not None and opening:
            digest = document_digest(doc.image_b64)
            self._add(self.docs, digest, user, now)
            if acct is not None and digest not in acct.docs and len(acct.docs) < MAX_LINKS:
                acct.docs.append(digest)
        files = event.type in (EventType.DOCUMENT_UPLOAD, EventType.ACCOUNT_CHANGE)
        if files and device is not None and not opening:
            self._add(self.filings, device, user, now)

    @staticmethod
    def _add(table: dict[str, DistinctWindows], key: str, user: str, now: float) -> None:
        w = table.get(key)
        if w is None:
            w = table[key] = DistinctWindows((WINDOW_S,), throttle_s=3600)
        w.see(user, now)

    def expire(self, now: float) -> int:
        """Drop cards, documents and devices idle for 30 days, accounts after 90 days."""
        n = 0
        for table in (self.cards, self.docs, self.filings):
            idle = [k for k, w in table.items() if not w.counts(now)[0]]
            for k in idle:
                del table[k]
            n += len(idle)
        old = [u for u, a in self.accounts.items() if a.opened <= now - 90 * DAY]
        for u in old:
            del self.accounts[u]
        return n + len(old)
