"""Sliding-window distinct counts and hourly base levels, point in time, for shared entities.

:class:`DistinctWindows` counts the distinct values (users, device ids) an entity saw in
each of a few sliding windows. Each value keeps its last sighting; a sighting is queued
per window and, when it leaves the window, the count drops only if it was the value's
latest. Sightings of one value closer than ``throttle_s`` are not queued (the count's
window edge is that much early), which bounds the queues of chatty values.

:class:`HourlyLevel` is an entity's normal level: the bias-corrected exponentially
weighted mean of a per-clock-hour count, empty hours included.

>>> w = DistinctWindows((3600, 86400))
>>> for ts, user in [(0, "a"), (10, "b"), (4000, "a")]:
...     _ = w.see(user, ts)  # True: new to the shortest window
>>> w.counts(4000), w.counts(90000)
([1, 2], [0, 1])
"""

from __future__ import annotations

from collections import deque
from math import exp, log


class DistinctWindows:
    """Distinct values seen in each window (seconds) before the current moment."""

    __slots__ = ("_counts", "_last", "_queues", "throttle_s", "windows")

    def __init__(self, windows: tuple[int, ...], throttle_s: float = 60.0) -> None:
        if list(windows) != sorted(windows):
            raise ValueError("windows must be in ascending order")
        self.windows = windows
        self.throttle_s = throttle_s
        self._last: dict[str, float] = {}
        self._queues: tuple[deque[tuple[float, str]], ...] = tuple(deque() for _ in windows)
        self._counts = [0] * len(windows)

    def _expire(self, now: float) -> None:
        last = self._last
        longest = len(self.windows) - 1
        for i, window in enumerate(self.windows):
            q = self._queues[i]
            edge = now - window
            while q and q[0][0] <= edge:
                ts, value = q.popleft()
                if last.get(value) == ts:
                    self._counts[i] -= 1
                    if i == longest:
                        del last[value]

    def counts(self, now: float) -> list[int]:
        """Distinct values in each window ending at ``now``."""
        self._expire(now)
        return list(self._counts)

    def see(self, value: str, ts: float) -> bool:
        """Record a sighting of ``value`` at ``ts`` (events arrive in time order); ``True``
        when the value was not already in the shortest window."""
        self._expire(ts)
        prev = self._last.get(value)
        if prev is not None and (ts <= prev or ts - prev < self.throttle_s):
            return False
        for i, window in enumerate(self.windows):
            if prev is None or prev <= ts - window:
                self._counts[i] += 1
            self._queues[i].append((ts, value))
        self._last[value] = ts
        return prev is None or prev <= ts - self.windows[0]

    def __contains__(self, value: str) -> bool:
        return value in self._last

    @property
    def empty(self) -> bool:
        return not self._last

    def dump(self) -> tuple[list[tuple[str, float]], list[list[tuple[float, str]]], list[int]]:
        """The state as plain lists (for a columnar snapshot): :meth:`load` restores it."""
        return list(self._last.items()), [list(q) for q in self._queues], list(self._counts)

    def load(
        self,
        last: list[tuple[str, float]],
        queues: list[list[tuple[float, str]]],
        counts: list[int],
    ) -> None:
        if len(queues) != len(self.windows) or len(counts) != len(self.windows):
            raise ValueError("a state of other windows")
        self._last = dict(last)
        self._queues = tuple(deque(q) for q in queues)
        self._counts = list(counts)


class HourlyLevel:
    """Mean count per clock hour, weighted towards recent hours (half-life in hours).

    >>> lv = HourlyLevel(half_life_h=24)
    >>> for h in range(48):
    ...     lv.add(h * 3600.0, 10)
    >>> round(lv.level(48 * 3600.0), 1)
    10.0
    """

    __slots__ = ("_decay", "_ewma", "_first_h", "_hour", "_n")

    def __init__(self, half_life_h: float = 72.0) -> None:
        self._decay = exp(-log(2) / half_life_h)
        self._ewma = 0.0
        self._hour = -1
        self._first_h = -1
        self._n = 0

    def _roll(self, hour: int) -> None:
        if self._hour < 0:
            self._hour = self._first_h = hour
            return
        if hour <= self._hour:
            return
        d = self._decay
        self._ewma = self._ewma * d + (1 - d) * self._n
        self._ewma *= d ** (hour - self._hour - 1)
        self._hour = hour
        self._n = 0

    def dump(self) -> tuple[float, float, int, int, int]:
        """The state as plain numbers: :meth:`load` restores it."""
        return self._decay, self._ewma, self._hour, self._first_h, self._n

    def load(self, decay: float, ewma: float, hour: int, first_h: int, n: int) -> None:
        self._decay, self._ewma, self._hour, self._first_h, self._n = decay, ewma, hour, first_h, n

    def add(self, ts: float, n: int = 1) -> None:
        """Count ``n`` at ``ts``."""
        self._roll(int(ts // 3600))
        self._n += n

    def level(self, now: float) -> float | None:
        """The normal count per hour over completed hours; ``None`` before one completed."""
        hour = int(now // 3600)
        self._roll(hour)
        hours = hour - self._first_h
        if self._first_h < 0 or hours <= 0:
            return None
        weight = 1 - self._decay**hours
        return self._ewma / weight if weight > 0 else None
