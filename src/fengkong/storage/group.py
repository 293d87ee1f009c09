"""Group commit: many concurrent decisions share one durable transaction.

Requests hand their record to a single writer thread and wait on a future; the writer
takes whatever has queued up (up to ``max_batch``) and commits it at once, so the cost
of a durable commit (an fsync) is shared by every request that arrived meanwhile.

Each request's records are a unit, stored whole or not at all, and each unit learns its
own outcome: a bad unit fails alone. Units carry the *epoch* of the state they were
decided on; any failure starts a new epoch, and units of an older epoch still queued are
refused with :class:`Stale` (they were decided on a state that counted the failed unit,
so their owner decides them again).

A unit submitted from an event loop (:meth:`GroupCommitter.submit_to`) learns its
outcome through a callback run on that loop: the writer hands a whole group's outcomes
to the loop in one ``call_soon_threadsafe`` (one wake-up of the loop per commit, not one
per request, and no future to chain across threads).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from fengkong.decisions.store import DecisionRecord, NotAttempted, Stale, Store

log = logging.getLogger(__name__)


Outcome = Callable[[BaseException | None], None]


@dataclass(slots=True)
class _Item:
    records: list[DecisionRecord]
    done: Future[None] | None
    epoch: int
    # With a loop: ``then`` is called there with the unit's outcome (None: durable).
    loop: asyncio.AbstractEventLoop | None = None
    then: Outcome | None = None


def _run_outcomes(settled: list[tuple[Outcome, BaseException | None]]) -> None:
    """On the event loop: each unit's callback, one failing callback not the others'."""
    for then, error in settled:
        try:
            then(error)
        except Exception:
            log.exception("a unit's commit callback failed")


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
        # Bumped (by the writer thread only) whenever a unit fails to commit.
        self.epoch = 0
        self._epoch_lock = threading.Lock()
        self._thread.start()

    def submit(self, records: list[DecisionRecord], epoch: int | None = None) -> Future[None]:
        """Queue one unit; the future resolves once it is durable (or fails).

        ``epoch``: the :attr:`epoch` the unit was decided in (default: the current one).
        """
        done: Future[None] = Future()
        self._queue.put(_Item(records, done, self.epoch if epoch is None else epoch))
        return done

    def submit_to(
        self,
        loop: asyncio.AbstractEventLoop,
        records: list[DecisionRecord],
        epoch: int,
        then: Outcome,
    ) -> None:
        """Queue one unit; once it is durable (or fails) ``then(None)`` (or
        ``then(error)``) runs on ``loop``, with the rest of its group's outcomes."""
        self._queue.put(_Item(records, None, epoch, loop, then))

    def invalidate(self) -> None:
        """Start a new epoch: units of the current one still queued become stale."""
        with self._epoch_lock:
            self.epoch += 1

    def flush(self) -> None:
        """Wait until everything submitted so far has been committed or refused."""
        self.submit([]).exception()

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
        outcomes: list[tuple[_Item, BaseException | None]] = []
        live = [i for i in items if i.epoch == self.epoch or not i.records]
        if len(live) < len(items):
            log.warning("%d units refused: decided before a failed commit", len(items) - len(live))
        for item in items:
            if item.epoch != self.epoch and item.records:
                outcomes.append((item, Stale("decided before a failed commit")))
        try:
            results: list[Exception | None] = self._store.write_each([i.records for i in live])
        except Exception as exc:  # the transaction failed: every unit learns of it
            log.exception("group commit of %d units failed", len(live))
            results = [exc] * len(live)
        if any(r is not None for r in results):
            self.invalidate()
        else:
            self.batches += 1
        for item, result in zip(live, results, strict=True):
            stale = isinstance(result, NotAttempted)
            outcomes.append((item, Stale(str(result)) if stale else result))
        self._settle(outcomes)

    @staticmethod
    def _settle(outcomes: list[tuple[_Item, BaseException | None]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Outcome, BaseException | None]]] = {}
        for item, error in outcomes:
            if item.done is not None:
                if error is None:
                    item.done.set_result(None)
                else:
                    item.done.set_exception(error)
            elif item.loop is not None and item.then is not None:
                by_loop.setdefault(item.loop, []).append((item.then, error))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_run_outcomes, settled)
            except RuntimeError:  # the loop is closed: nobody waits for these any more
                log.warning("%d unit outcomes dropped: their event loop is closed", len(settled))
