"""Bounded state: at most ``cap`` entities per table, the least recently seen dropped first.

An attacker (or a bot farm) rotating identifiers brings a new user, device, IP, card or
payee with every event; within a 30-day window nothing expires, so without a cap each
table grows with the number of distinct identifiers ever sent. :func:`evict_least_recent`
trims a table back to 90 % of its cap once it goes over, by each entity's last-seen
time, so one trim runs per ``cap / 10`` new entities and costs ``O(len(table))``:
amortised, a few operations per event. The entities dropped are those idle longest,
whose features then start from zero again, as after a long absence.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any, TypeVar

import numpy as np

V = TypeVar("V")

KEEP = 0.9


def evict_least_recent(
    table: MutableMapping[str, V], cap: int, last_seen: Callable[[V], float]
) -> int:
    """Trim ``table`` to ``KEEP * cap`` entries when it holds more than ``cap``; returns
    how many were dropped. ``cap <= 0`` means no cap."""
    if cap <= 0 or len(table) <= cap:
        return 0
    target = int(cap * KEEP)
    drop = len(table) - target
    keys = list(table)
    seen = np.fromiter((last_seen(table[k]) for k in keys), dtype=np.float64, count=len(keys))
    # The ``drop`` oldest by last-seen time (ties broken by insertion order).
    oldest = np.argpartition(seen, drop - 1)[:drop]
    for index in oldest.tolist():
        del table[keys[index]]
    return drop


def first_item(state: Any) -> float:
    """Last-seen time of a state whose first item is it (feature entity states)."""
    return float(state[0])
