"""Which event ids may be stored already: a Bloom filter in front of the idempotency look-up.

Nearly every event a server receives is new, yet telling a retry from a new event took a
point query on ``decisions`` for each one, on the event loop, after every group commit
had invalidated the reading connection's page cache. The filter answers "certainly
new" from memory for almost all of them; only a "maybe" (a retry, or a false positive
about once in 400) goes to the store. It never forgets an id, so it errs only towards
asking the store: an id pruned since, or decided and then not stored, is asked about
and found absent, as before.

The filter grows in layers (each twice the last) instead of being rebuilt, since the ids
themselves are not kept. Ids are hashed with a keyless BLAKE2b (not Python's ``hash``,
which changes with every process), so the filter can be saved with the state snapshot
and a restart adds only the ids stored after it (:meth:`SeenIds.state`).
"""

from __future__ import annotations

from collections.abc import Iterable
from hashlib import blake2b
from typing import Any

import numpy as np

_BITS_PER_ID = 16
_HASHES = 4
_FIRST = 1 << 16
# What a saved filter was built with: one built otherwise is not used.
_FORMAT = ("blake2b-64", _BITS_PER_ID, _HASHES)


def _hash(event_id: str) -> int:
    return int.from_bytes(blake2b(event_id.encode(), digest_size=8).digest(), "little")


class _Layer:
    __slots__ = ("bits", "capacity", "count", "size")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.count = 0
        self.size = capacity * _BITS_PER_ID
        self.bits = bytearray(self.size // 8 + 1)

    def add(self, h: int) -> None:
        bits, size = self.bits, self.size
        a, b = h & 0xFFFFFFFF, (h >> 32) | 1
        for i in range(_HASHES):
            p = (a + i * b) % size
            bits[p >> 3] |= 1 << (p & 7)
        self.count += 1

    def add_many(self, hashes: np.ndarray) -> None:
        """:meth:`add` for many hashes at once (a start over a million stored ids)."""
        view = np.frombuffer(self.bits, dtype=np.uint8)
        a, b = hashes & np.uint64(0xFFFFFFFF), (hashes >> np.uint64(32)) | np.uint64(1)
        for i in range(_HASHES):
            p = (a + np.uint64(i) * b) % np.uint64(self.size)
            np.bitwise_or.at(
                view, p >> np.uint64(3), np.left_shift(1, p & np.uint64(7)).astype(np.uint8)
            )
        self.count += len(hashes)

    def has(self, h: int) -> bool:
        bits, size = self.bits, self.size
        a, b = h & 0xFFFFFFFF, (h >> 32) | 1
        for i in range(_HASHES):
            p = (a + i * b) % size
            if not bits[p >> 3] & (1 << (p & 7)):
                return False
        return True


class SeenIds:
    """Event ids added so far; ``maybe(id)`` is ``False`` only for an id never added.

    The first layer is sized for twice the ids it starts with, so a server runs on one
    layer until its stored events have doubled.
    """

    def __init__(self, ids: Iterable[str] = ()) -> None:
        hashes = np.fromiter((_hash(i) for i in ids), dtype=np.uint64)
        first = _Layer(max(_FIRST, 2 * len(hashes)))
        if len(hashes):
            first.add_many(hashes)
        self._layers = [first]

    def add(self, event_id: str) -> None:
        layer = self._layers[-1]
        if layer.count >= layer.capacity:
            layer = _Layer(layer.capacity * 2)
            self._layers.append(layer)
        layer.add(_hash(event_id))

    def update(self, ids: Iterable[str]) -> None:
        for event_id in ids:
            self.add(event_id)

    def maybe(self, event_id: str) -> bool:
        h = _hash(event_id)
        return any(layer.has(h) for layer in self._layers)

    def state(self) -> tuple[Any, ...]:
        """Plain data for a snapshot: :meth:`from_state` gives the same filter back."""
        return (_FORMAT, [(x.capacity, x.count, bytes(x.bits)) for x in self._layers])

    @classmethod
    def from_state(cls, state: Any) -> SeenIds | None:
        """The filter :meth:`state` saved; ``None`` for one of another format."""
        try:
            form, layers = state
            if tuple(form) != _FORMAT or not layers:
                return None
            seen = cls.__new__(cls)
            seen._layers = []
            for capacity, count, bits in layers:
                layer = _Layer(int(capacity))
                if len(bits) != len(layer.bits):
                    return None
                layer.bits[:] = bits
                layer.count = int(count)
                seen._layers.append(layer)
        except (TypeError, ValueError):
            return None
        return seen
