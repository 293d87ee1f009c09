"""Recycled document images: the same picture behind several accounts.

Forgers and professional "complaint agents" reuse a handful of images (one business
licence, one doctored ID card) across the many accounts they operate. An honest
customer's document is theirs alone, so an image already uploaded by *another* account
is a strong signal. Images are compared by a digest of their decoded bytes, so the
same file re-encoded in base64 with other line breaks still matches.

>>> idx = ReuseIndex(window_s=86_400)
>>> fp = image_fingerprint("aGVsbG8=")
>>> idx.add(fp, "u1", ts=0.0)
>>> idx.other_accounts(fp, "u2", ts=60.0), idx.other_accounts(fp, "u1", ts=60.0)
(1, 0)
"""

from __future__ import annotations

from fengkong.events.protect import media_fingerprint
from fengkong.features.state import EntityStates, MemoryStates

# What replaces an image in a stored event (events.protect.MEDIA_DIGEST).
STORED_DIGEST = "fp:"
# Accounts remembered per image; past this many the image is recycled beyond doubt.
MAX_ACCOUNTS = 32


def image_fingerprint(image_b64: str) -> str:
    """A digest of the image's bytes (of the text itself when it is not valid base64).

    A stored event keeps only this digest, as ``fp:<digest>`` (see docs/security.md).
    """
    return media_fingerprint(image_b64)


def _last_upload(accounts: dict[str, float]) -> float:
    return max(accounts.values())


class ReuseIndex:
    """Per image fingerprint: the accounts that uploaded it and when (sliding window).

    ``states``: where each image's ``{account: last upload}`` lives (default: in memory).
    """

    def __init__(
        self,
        window_s: float = 30 * 86_400.0,
        states: EntityStates[dict[str, float]] | None = None,
    ) -> None:
        self.window_s = window_s
        self.states: EntityStates[dict[str, float]] = MemoryStates() if states is None else states

    def __len__(self) -> int:
        return len(self.states)

    def bound(self, cap: int) -> int:
        """Keep at most ``cap`` images, the least recently uploaded dropped first."""
        return self.states.bound(cap, _last_upload)

    def add(self, fingerprint: str, account: str, ts: float) -> None:
        accounts = self.states.get(fingerprint)
        if accounts is None:
            accounts = {}
        if account in accounts or len(accounts) < MAX_ACCOUNTS:
            accounts[account] = max(ts, accounts.get(account, ts))
        self.states.put_many({fingerprint: accounts})

    def other_accounts(self, fingerprint: str, account: str, ts: float) -> int:
        """Accounts other than ``account`` that uploaded the image within the window."""
        accounts = self.states.get(fingerprint)
        if not accounts:
            return 0
        edge = ts - self.window_s
        return sum(1 for a, t in accounts.items() if a != account and edge <= t <= ts)

    def expire(self, now: float) -> None:
        edge = now - self.window_s
        gone: list[str] = []
        kept: dict[str, dict[str, float]] = {}
        for fingerprint, accounts in self.states.items():
            live = {a: t for a, t in accounts.items() if t >= edge}
            if not live:
                gone.append(fingerprint)
            elif len(live) < len(accounts):
                kept[fingerprint] = live
        self.states.delete_many(gone)
        self.states.put_many(kept)
