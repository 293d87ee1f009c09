"""Group commit: many concurrent decisions share one durable transaction.

Requests hand their record to a single writer thread and wait on a future; the writer
takes whatever has queued up (up to ``max_batch``) and commits it at once, so the cost
of a durable commit (an fsync) is shared by every request that arrived meanwhile.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass

from fengkong.storage.base import DecisionRecord, Store

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Item:
    records: list[DecisionRecord]
    done: Future[None]


_STOP = object()


class GroupCommitter:
    """A writer thread in front of a :class:`Store`.

    >>> from fengkong.storage.sqlite import SQLiteStore
    >>> committer = GroupCommitter(SQLiteStore(":memory:"))
    >>> committer.submit([]).result() is None
    True
    >>> committer.close()
    """

    def __init__(self, store: Store, max_batch: int = 512) -> None:
        self._store = store
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="fengkong-commit", daemon=True)
        self.batches = 0
        self._thread.start()

    def submit(self, records: list[DecisionRecord]) -> Future[None]:
        """Queue records; the future resolves once they are durable (or fails)."""
        done: Future[None] = Future()
        self._queue.put(_Item(records, done))
        return done

    def close(self) -> None:
        """Commit what is queued, then stop the writer."""
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                return
            items: list[_Item] = [first]  # type: ignore[list-item]
            size = len(items[0].records)
            while size < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                assert isinstance(nxt, _Item)
                items.append(nxt)
                size += len(nxt.records)
            self._commit(items)

    def _commit(self, items: list[_Item]) -> None:
        records = [r for item in items for r in item.records]
        try:
            self._store.write(records)
        except Exception as exc:  # every waiter learns of the failure
            log.exception("group commit of %d records failed", len(records))
            for item in items:
                item.done.set_exception(exc)
            return
        self.batches += 1
        for item in items:
            item.done.set_result(None)
