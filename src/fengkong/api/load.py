"""Load shedding: bounded work in flight, refused early with 503 rather than queued.

Every event admitted to the decision endpoints holds a unit until its answer is sent.
Beyond ``max_inflight`` units, or while the event loop lags with at least a quarter of
that in flight (a sign that deciding, not the store, is the bottleneck), new work is
refused at once with 503 and
``Retry-After``: a client retries later instead of every client waiting longer. A
lone request is always admitted, so a batch larger than the cap still gets through.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Overloaded(Exception):
    """Too much work in flight: answer 503 with ``Retry-After``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Admission:
    """Counts event units in flight and refuses work beyond the cap.

    Used from the event loop only (no lock needed).

    >>> gate = Admission(max_inflight=2)
    >>> with gate.hold(2):
    ...     gate.inflight
    2
    >>> gate.inflight
    0
    """

    def __init__(self, max_inflight: int, max_lag_s: float = 0.5) -> None:
        self.max_inflight = max_inflight
        self.max_lag_s = max_lag_s
        self.inflight = 0
        self.lag_s = 0.0
        self.shed = 0

    def overloaded(self) -> str | None:
        """Why the server is saturated right now, or ``None``."""
        if self.lag_s > self.max_lag_s:
            return f"event loop lags {self.lag_s * 1000:.0f} ms"
        if self.inflight >= self.max_inflight:
            return f"{self.inflight} events in flight (cap {self.max_inflight})"
        return None

    def _lagging(self) -> bool:
        # A lagging loop with little admitted work is busy answering (or refusing)
        # requests, not deciding them: shedding more would only lower the goodput.
        return self.lag_s > self.max_lag_s and self.inflight >= max(1, self.max_inflight // 4)

    @contextmanager
    def hold(self, units: int = 1) -> Iterator[None]:
        """Admit ``units`` events for the duration of the block, or raise :class:`Overloaded`."""
        if self.inflight > 0 and (self.inflight + units > self.max_inflight or self._lagging()):
            self.shed += 1
            raise Overloaded(self.overloaded() or f"{self.inflight} events in flight")
        self.inflight += units
        try:
            yield
        finally:
            self.inflight -= units

    async def watch_lag(self, every_s: float = 0.05) -> None:
        """Measure how late the loop wakes up; decays so one slow tick passes quickly."""
        while True:
            started = time.perf_counter()
            await asyncio.sleep(every_s)
            late = max(0.0, time.perf_counter() - started - every_s)
            self.lag_s = max(late, self.lag_s * 0.5)
