"""Near-duplicate document images across accounts, by perceptual hash.

Exact reuse (:mod:`fengkong.documents.reuse`) misses a template that a workshop
re-saves, crops slightly or edits (a new name on the same card). A perceptual hash
(difference hash, 1,024 bits) changes by a few dozen bits under such edits, while two different
people's cards, even of one official template, differ by far more. The index keeps
each account's recent hashes and answers: how many *other* accounts uploaded an image
within ``max_bits`` of this one.

>>> idx = NearDuplicateIndex(window_s=86_400)
>>> idx.add("f" * 256, "u1", ts=0.0)
>>> idx.nearest_other("f" * 255 + "e", "u2", ts=1.0)
(1, 1)
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Between the 67 bits of a rescaled, re-saved copy and the 105 of two different
# people's cards of one template (see fengkong.documents.analyse.HASH_SIZE).
MAX_BITS = 86
# Per document kind. A business licence is mostly one template's layout on white paper,
# so two companies' licences come close: 44 bits at the least on the captured ones of
# profile A (benchmarks/bench_documents.py; the 60 first set on uncaptured drawings
# flagged 6 of 16 honest licences of profile B). At 36 a copy re-saved at quality 50 to
# 70 is still caught about half the time (8 to 24 bits; others 54 and more). Letters and
# certificates of one employer are near-duplicates of each other for honest reasons
# (colleagues), so only a re-saved copy counts there.
MAX_BITS_BY_KIND = {"id_card": MAX_BITS, "business_license": 36}
OTHER_KINDS_MAX_BITS = 16
WORDS = 16  # 1,024 bits in 64-bit words
_CAPACITY = 200_000


def _words(hex_hash: str) -> np.ndarray[Any, np.dtype[np.uint64]]:
    raw = bytes.fromhex(hex_hash.rjust(WORDS * 16, "0")[-WORDS * 16 :])
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64)


def _popcount(
    x: np.ndarray[tuple[int, int], np.dtype[np.uint64]],
) -> np.ndarray[tuple[int], np.dtype[np.int64]]:
    bytes_view = x.view(np.uint8).reshape(x.shape[0], -1)
    return np.asarray(np.unpackbits(bytes_view, axis=1).sum(axis=1), dtype=np.int64)


class NearDuplicateIndex:
    """Hashes of recent uploads with their account and time, searched by Hamming distance."""

    def __init__(self, window_s: float = 30 * 86_400.0, max_bits: int = MAX_BITS) -> None:
        self.window_s = window_s
        self.max_bits = max_bits
        self._hashes = np.zeros((64, WORDS), dtype=np.uint64)
        self._ts = np.zeros(64, dtype=np.float64)
        self._accounts: list[str] = []

    def __len__(self) -> int:
        return len(self._accounts)

    def add(self, hex_hash: str, account: str, ts: float) -> None:
        n = len(self._accounts)
        if n == _CAPACITY:
            self._keep(np.arange(n) >= n // 10)  # full: forget the oldest tenth
            n = len(self._accounts)
        if n == self._ts.size:  # grow by doubling: amortised O(1) per upload
            self._hashes = np.vstack([self._hashes, np.zeros_like(self._hashes)])
            self._ts = np.concatenate([self._ts, np.zeros_like(self._ts)])
        self._hashes[n] = _words(hex_hash)
        self._ts[n] = ts
        self._accounts.append(account)

    def nearest_other(self, hex_hash: str, account: str, ts: float) -> tuple[int, int | None]:
        """(other accounts within ``max_bits`` in the window, the smallest distance seen)."""
        n = len(self._accounts)
        if n == 0:
            return 0, None
        distance = _popcount(self._hashes[:n] ^ _words(hex_hash)[None, :])
        stamps = self._ts[:n]
        live = (stamps >= ts - self.window_s) & (stamps <= ts)
        others = live & np.array([a != account for a in self._accounts])
        if not others.any():
            return 0, None
        close = others & (distance <= self.max_bits)
        accounts = {self._accounts[i] for i in np.flatnonzero(close)}
        return len(accounts), int(distance[others].min())

    def expire(self, now: float) -> None:
        self._keep(self._ts[: len(self._accounts)] >= now - self.window_s)

    def _keep(self, keep: np.ndarray[Any, np.dtype[np.bool_]]) -> None:
        n = len(self._accounts)
        hashes, stamps = self._hashes[:n][keep], self._ts[:n][keep]
        self._accounts = [a for a, k in zip(self._accounts, keep, strict=True) if k]
        size = max(64, len(self._accounts) * 2)
        self._hashes = np.zeros((size, WORDS), dtype=np.uint64)
        self._ts = np.zeros(size, dtype=np.float64)
        self._hashes[: len(hashes)] = hashes
        self._ts[: len(stamps)] = stamps
