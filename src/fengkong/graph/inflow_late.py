"""A late transfer in an account's hourly inflow buckets (``flows.InflowWindow``).

A transfer older than the account's newest bucket (the state repair counts a committed
event again after its Redis write was lost, ``features/state_repair.py``) goes into the
bucket of its own hour, which is kept in time order, so it leaves the window on time.
"""

from __future__ import annotations

from collections import deque

Buckets = deque[tuple[float, float, int, set[str]]]


def add_late(buckets: Buckets, start: float, sender: str, amount: float, cap: int) -> None:
    """Add ``amount`` from ``sender`` to the bucket starting at ``start`` (made if
    missing), at most ``cap`` distinct senders per bucket."""
    k = len(buckets)
    while k > 0 and buckets[k - 1][0] > start:
        k -= 1
    if k > 0 and buckets[k - 1][0] == start:
        _, total, count, senders = buckets[k - 1]
        if len(senders) < cap:
            senders.add(sender)
        buckets[k - 1] = (start, total + amount, count + 1, senders)
    else:
        buckets.insert(k, (start, amount, 1, {sender}))
