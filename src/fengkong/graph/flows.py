"""Money received per account, online: the mule's tell is what comes in before it goes out.

A mule account in a laundering chain or a fan-in collects money from victims or the
previous layer and passes most of it on within hours. The acting account's own outgoing
features cannot see that; this keeps, per receiving account, hourly buckets of the
transfers it received (amount, count, senders) so any later event of that account can
ask "how much came in, from how many, how recently".

>>> w = InflowWindow(window_s=86_400)
>>> w.add("mule", "victim-1", 500.0, ts=0.0)
>>> w.add("mule", "victim-2", 700.0, ts=600.0)
>>> w.read("mule", ts=3_600.0)
(1200.0, 2, 2, 3000.0)
"""

from __future__ import annotations

from collections import deque

from fengkong.features.state import EntityStates, MemoryStates
from fengkong.graph.inflow_late import add_late

_BUCKET_S = 3600.0
# Distinct senders are counted exactly up to this many per account and window.
MAX_SENDERS = 64


class Inflow:
    """One account's received transfers: hourly buckets and the time of the last."""

    __slots__ = ("buckets", "last_ts")

    def __init__(self) -> None:
        # (bucket start, amount, count, senders) oldest first.
        self.buckets: deque[tuple[float, float, int, set[str]]] = deque()
        self.last_ts = float("-inf")


def _last_ts(state: Inflow) -> float:
    return state.last_ts


class InflowWindow:
    """Received transfers per account over a sliding window of hourly buckets.

    ``states``: where the accounts' :class:`Inflow` live (default: in memory).
    """

    def __init__(
        self, window_s: float = 86_400.0, states: EntityStates[Inflow] | None = None
    ) -> None:
        self.window_s = window_s
        self.states: EntityStates[Inflow] = MemoryStates() if states is None else states

    def __len__(self) -> int:
        return len(self.states)

    def bound(self, cap: int) -> int:
        """Keep at most ``cap`` accounts, the least recently credited dropped first."""
        return self.states.bound(cap, _last_ts)

    def add(self, account: str, sender: str, amount: float, ts: float) -> None:
        """Record ``amount`` received by ``account`` from ``sender`` at ``ts``."""
        state = self.states.get(account)
        if state is None:
            state = Inflow()
        start = ts - ts % _BUCKET_S
        buckets = state.buckets
        if buckets and buckets[-1][0] == start:
            _, total, count, senders = buckets[-1]
            if len(senders) < MAX_SENDERS:
                senders.add(sender)
            buckets[-1] = (start, total + amount, count + 1, senders)
        elif buckets and buckets[-1][0] > start:  # a late transfer: into its own hour
            add_late(buckets, start, sender, amount, MAX_SENDERS)
        else:
            buckets.append((start, amount, 1, {sender}))
        state.last_ts = max(state.last_ts, ts)
        self._expire(state, ts)
        self.states.put_many({account: state})

    def read(self, account: str, ts: float) -> tuple[float, int, int, float | None]:
        """``(amount, transfers, distinct senders, seconds since the last)`` before ``ts``.

        Buckets are hourly, so the window's oldest edge is exact to the hour.
        """
        state = self.states.get(account)
        if state is None:
            return 0.0, 0, 0, None
        self._expire(state, ts)
        total, count = 0.0, 0
        senders: set[str] = set()
        for _, amount, n, who in state.buckets:
            total += amount
            count += n
            if len(senders) < MAX_SENDERS:
                senders |= who
        since = ts - state.last_ts if count else None
        return total, count, min(len(senders), MAX_SENDERS), since

    def expire(self, now: float) -> None:
        """Drop accounts whose whole window has passed."""
        stale = [a for a, s in self.states.items() if now - s.last_ts > self.window_s]
        self.states.delete_many(stale)

    def _expire(self, state: Inflow, ts: float) -> None:
        buckets = state.buckets
        while buckets and buckets[0][0] + _BUCKET_S <= ts - self.window_s:
            buckets.popleft()


# A pass-on: money out of at least PASS_ON_MIN received in the last day, 80-102 % of it,
# under PASS_ON_WITHIN_S after the last incoming transfer (a fee shaved, or nothing).
PASS_ON_MIN = 1000.0
PASS_ON_SHARE = (0.8, 1.02)
PASS_ON_WITHIN_S = 3 * 3600.0


class PassOns:
    """When each account last passed received money on (a hop of a chain).

    ``states``: where each account's last pass-on time lives (default: in memory).

    >>> p = PassOns()
    >>> p.is_pass_on(970.0, received=1000.0, secs_since_received=600.0)
    True
    >>> p.add("mule", ts=0.0)
    >>> p.since("mule", ts=3_600.0)
    3600.0
    """

    def __init__(
        self, window_s: float = 7 * 86_400.0, states: EntityStates[float] | None = None
    ) -> None:
        self.window_s = window_s
        self.states: EntityStates[float] = MemoryStates() if states is None else states

    def __len__(self) -> int:
        return len(self.states)

    @staticmethod
    def is_pass_on(amount: float, received: float, secs_since_received: float | None) -> bool:
        """Whether moving ``amount`` out forwards what came in (see the module's bounds)."""
        lo, hi = PASS_ON_SHARE
        return (
            received >= PASS_ON_MIN
            and secs_since_received is not None
            and secs_since_received < PASS_ON_WITHIN_S
            and lo * received <= amount <= hi * received
        )

    def add(self, account: str, ts: float) -> None:
        last = self.states.get(account)
        self.states.put_many({account: ts if last is None else max(ts, last)})

    def since(self, account: str, ts: float) -> float | None:
        """Seconds since ``account`` last passed money on, None if not in the window."""
        last = self.states.get(account)
        if last is None or ts - last > self.window_s:
            return None
        return ts - last

    def bound(self, cap: int) -> int:
        return self.states.bound(cap, float)

    def expire(self, now: float) -> None:
        self.states.delete_many([a for a, t in self.states.items() if now - t > self.window_s])
