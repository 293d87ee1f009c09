"""Checks started before a decision and picked up by the stage that needs them.

On the server, :meth:`fengkong.decisions.Pipeline.prepare` lets a stage start an image
check and awaits it (within the budget) without blocking the event loop; the stage's
``run`` then finds the future here. Without a prepare step (replay, CLI) ``run``
starts the check itself and waits for it within the same budget.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

from fengkong.imaging.pool import ImagePool

T = TypeVar("T")

# Futures kept for events whose decision was never made (a retried event_id).
_LIMIT = 4096


class PendingChecks(Generic[T]):
    """Per event id: the future of one check function."""

    def __init__(self, pool: ImagePool, fn: Callable[..., T]) -> None:
        self.pool = pool
        self.fn = fn
        self._started: OrderedDict[str, Future[T]] = OrderedDict()

    def start(self, key: str, *args: Any) -> Future[T]:
        future = self._started.get(key)
        if future is None:
            future = self.pool.submit(self.fn, *args)
            self._started[key] = future
            while len(self._started) > _LIMIT:
                self._started.popitem(last=False)
        return future

    def take(self, key: str, *args: Any) -> tuple[T | None, Future[T]]:
        """The result within the budget (``None`` when late) and its future."""
        future = self._started.pop(key, None)
        if future is not None:
            # Started by the prepare step, whose wait already spent the budget.
            if future.done():
                return future.result(), future
            self.pool.stats.late += 1
            return None, future
        future = self.pool.submit(self.fn, *args)
        return self.pool.wait(future), future
