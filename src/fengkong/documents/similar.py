"""Near-duplicate document images across accounts, by perceptual hash.

Exact reuse (:mod:`fengkong.documents.reuse`) misses a template that a workshop
re-saves, crops slightly or edits (a new name on the same card). A perceptual hash
(DCT hash, 256 bits) changes by a few bits under such edits, while two different
people's cards, even of one official template, differ by far more. The index keeps
each account's recent hashes and answers: how many *other* accounts uploaded an image
within ``max_bits`` of this one.

>>> idx = NearDuplicateIndex(window_s=86_400)
>>> idx.add("f" * 64, "u1", ts=0.0)
>>> idx.nearest_other("f" * 63 + "e", "u2", ts=1.0)
(1, 1)
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Found on generated cards (benchmarks/bench_documents.py): re-saved or re-typed copies
# stay under 30 bits of 256, different people's cards of one template are over 60 apart.
MAX_BITS = 36
_CAPACITY = 200_000


def _words(hex_hash: str) -> np.ndarray[Any, np.dtype[np.uint64]]:
    raw = bytes.fromhex(hex_hash.rjust(64, "0")[-64:])
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
        self._hashes = np.zeros((0, 4), dtype=np.uint64)
        self._accounts: list[str] = []
        self._ts = np.zeros(0, dtype=np.float64)

    def __len__(self) -> int:
        return len(self._accounts)

    def add(self, hex_hash: str, account: str, ts: float) -> None:
        self._hashes = np.vstack([self._hashes, _words(hex_hash)[None, :]])[-_CAPACITY:]
        self._accounts = [*self._accounts, account][-_CAPACITY:]
        self._ts = np.append(self._ts, ts)[-_CAPACITY:]

    def nearest_other(self, hex_hash: str, account: str, ts: float) -> tuple[int, int | None]:
        """(other accounts within ``max_bits`` in the window, the smallest distance seen)."""
        if not self._accounts:
            return 0, None
        distance = _popcount(self._hashes ^ _words(hex_hash)[None, :])
        live = (self._ts >= ts - self.window_s) & (self._ts <= ts)
        others = live & np.array([a != account for a in self._accounts])
        if not others.any():
            return 0, None
        close = others & (distance <= self.max_bits)
        accounts = {self._accounts[i] for i in np.flatnonzero(close)}
        return len(accounts), int(distance[others].min())

    def expire(self, now: float) -> None:
        keep = self._ts >= now - self.window_s
        self._hashes = self._hashes[keep]
        self._accounts = [a for a, k in zip(self._accounts, keep, strict=True) if k]
        self._ts = self._ts[keep]
