"""Results of checks that finished after their decision, attached to it when ready.

A decision made while an image check was still running says so (a ``*_pending`` fact
and a review); once the check completes, its derived facts are written into that
decision's stored explanation under ``late.<stage>``, where ``GET
/v1/decisions/{event_id}?explain=true`` shows them. The decision itself stays as it was
answered: clients were told ``review``, and the reviewer sees the result.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

import orjson

log = logging.getLogger(__name__)


class ExplainStore(Protocol):
    def attach_explain(self, event_id: str, key: str, value_json: bytes) -> bool: ...


class LateAttacher:
    """One background thread that writes late results, retrying until the row exists."""

    def __init__(self, store: ExplainStore | None, retry_s: float = 30.0) -> None:
        self.store = store
        self.retry_s = retry_s
        self.attached = 0
        self._queue: queue.Queue[tuple[str, str, bytes, float]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def later(
        self, event_id: str, key: str, future: Future[Any], facts: Callable[[Any], dict[str, Any]]
    ) -> None:
        """When ``future`` completes, store ``facts(result)`` under ``late.<key>``."""
        if self.store is None:
            return

        def _done(done: Future[Any]) -> None:
            if done.cancelled():  # the pool shut down: nothing to attach
                return
            try:
                value = facts(done.result())
            except Exception as exc:
                value = {"error": f"{type(exc).__name__}: {exc}"}
            body = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str)
            self._queue.put((event_id, f"late.{key}", body, time.monotonic() + self.retry_s))
            self._ensure_thread()

        future.add_done_callback(_done)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="late-attach", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        store = self.store
        assert store is not None
        while True:
            event_id, key, body, deadline = self._queue.get()
            try:
                if store.attach_explain(event_id, key, body):
                    self.attached += 1
                    continue
            except Exception as exc:
                log.warning("could not attach a late result to %s: %s", event_id, exc)
                continue
            if time.monotonic() < deadline:
                # The decision is not committed yet (group commit): try again shortly.
                time.sleep(0.02)
                self._queue.put((event_id, key, body, deadline))
            else:
                log.warning("decision %s never stored; late %s dropped", event_id, key)
