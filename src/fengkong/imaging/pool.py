"""A pool of worker processes for image checks, with a time budget per decision.

OCR and pixel forensics take hundreds of milliseconds of CPU; run on the event loop
they would stall every other request. The pool runs them in separate processes
(started on the first image, so the CLI and the server start fast), and the caller
waits at most ``budget_s`` for a result. A check still running then is not lost: its
future completes later and the caller can attach the result to the decision.

``workers=0`` runs checks inline in the caller's thread (tests, one-off CLI use).
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(slots=True)
class PoolStats:
    """Counters a server exposes: checks submitted, finished late, failed."""

    submitted: int = 0
    late: int = 0
    failed: int = 0


class ImagePool:
    """Runs picklable check functions in worker processes."""

    def __init__(self, workers: int = 1, budget_s: float = 1.5) -> None:
        if workers < 0:
            raise ValueError("workers must be >= 0")
        self.workers = workers
        self.budget_s = budget_s
        self.stats = PoolStats()
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # spawn, not fork: the server has threads (committer, loop) that a fork
                # would copy mid-flight.
                ctx = multiprocessing.get_context("spawn")
                self._executor = ProcessPoolExecutor(self.workers, mp_context=ctx)
                log.info("started %d image worker process(es)", self.workers)
            return self._executor

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Start ``fn(*args)``; inline when the pool has no workers."""
        self.stats.submitted += 1
        if self.workers == 0:
            done: Future[T] = Future()
            try:
                done.set_result(fn(*args))
            except Exception as exc:
                self.stats.failed += 1
                done.set_exception(exc)
            return done
        try:
            return self._pool().submit(fn, *args)
        except BrokenProcessPool:
            log.warning("an image worker died; restarting the pool")
            with self._lock:
                self._executor = None
            return self._pool().submit(fn, *args)

    def wait(self, future: Future[T]) -> T | None:
        """The result within the budget, else ``None`` (the future keeps running)."""
        try:
            return future.result(timeout=self.budget_s)
        except TimeoutError:
            self.stats.late += 1
            return None

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
