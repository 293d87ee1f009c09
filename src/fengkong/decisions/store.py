"""The repository decisions use: what the engine needs from any event store.

Decisions own this protocol; ``storage`` implements it (the embedded SQLite store, the
default and the test double, and PostgreSQL). Records are plain bytes and numbers, so
a store needs nothing else of fengkong to keep them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One unit of work: an accepted event and the decision it got."""

    event_id: str
    event_type: str
    user_id: str
    ts: float
    body_hash: str
    event_json: bytes
    outcome: str
    score: float
    decision_json: bytes
    explain_json: bytes


@dataclass(frozen=True, slots=True)
class StoredDecision:
    """What an idempotent retry needs: the body fingerprint and the answer given."""

    event_id: str
    body_hash: str
    decision_json: bytes


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """A fraud / legit verdict on an event or a user, known from ``at`` on."""

    event_id: str | None
    user_id: str | None
    label: str
    source: str
    at: float
    scenario: str | None = None


class NotAttempted(Exception):
    """A unit of a group commit left out because an earlier unit of it failed."""


class DuplicateRecord(Exception):
    """A unit refused because another worker stored one of its events first."""


class Stale(Exception):
    """A unit decided on a state that a failed commit has since invalidated."""


class Store(Protocol):
    """Durable home of events, decisions and labels."""

    def lookup(self, event_ids: Sequence[str]) -> dict[str, StoredDecision]:
        """The stored decisions among ``event_ids``."""
        ...

    def write(self, records: Sequence[DecisionRecord]) -> None:
        """Store records in one transaction; durable when this returns."""
        ...

    def write_each(self, units: Sequence[Sequence[DecisionRecord]]) -> list[Exception | None]:
        """Store units in one transaction; per unit ``None`` (stored) or its error."""
        ...

    def events_after(self, seq: int, since: float | None = None) -> Iterator[tuple[int, bytes]]:
        """``(seq, body)`` of the events stored after ``seq`` (``ts`` ≥ ``since``)."""
        ...

    def last_seq(self) -> int: ...

    def labels_after(self, label_id: int) -> Iterator[tuple[int, LabelRecord]]: ...

    def last_label_id(self) -> int: ...

    def decision(self, event_id: str) -> tuple[bytes, bytes] | None:
        """The decision JSON and its explanation JSON, or ``None``."""
        ...

    def add_labels(self, labels: Sequence[LabelRecord]) -> None: ...

    def labels(self, since: float | None = None) -> Iterator[LabelRecord]:
        """Labels in ``at`` order, from ``since`` on."""
        ...

    def events(self, since: float | None = None) -> Iterator[bytes]:
        """Stored event bodies in acceptance order, with ``ts`` ≥ ``since``."""
        ...

    def count_events(self) -> int: ...

    def newest_ts(self) -> float | None:
        """The latest ``occurred_at`` (epoch seconds) among stored events."""
        ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def close(self) -> None: ...


class Committer(Protocol):
    """Many units in one durable transaction, each with its own outcome.

    Units carry the ``epoch`` they were decided in; :meth:`invalidate` starts a new one
    (after a failure), and units of an older epoch still queued are refused as
    :class:`Stale`.
    """

    epoch: int

    def submit(self, records: list[DecisionRecord], epoch: int | None = None) -> Future[None]:
        """Queue one unit; the future resolves once it is durable (or fails)."""
        ...

    def submit_to(
        self,
        loop: asyncio.AbstractEventLoop,
        records: list[DecisionRecord],
        epoch: int,
        then: Callable[[BaseException | None], None],
    ) -> None:
        """Queue one unit; ``then(None)`` (durable) or ``then(error)`` runs on ``loop``."""
        ...

    def invalidate(self) -> None: ...

    def flush(self) -> None:
        """Wait until everything submitted so far has been committed or refused."""
        ...

    def close(self) -> None: ...


def submit_on_loop(
    committer: Committer,
    records: list[DecisionRecord],
    epoch: int,
    settle: Callable[[BaseException | None], None],
) -> asyncio.Future[None]:
    """Queue a unit from the running loop: a loop future resolved, after
    ``settle(error)`` has run there, once the unit is durable (or fails)."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def then(error: BaseException | None) -> None:
        settle(error)
        if waiter.done():  # its request was cancelled
            return
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(error)
            waiter.exception()  # retrieved: the owner raises it; a cancelled one's is no loss

    committer.submit_to(loop, records, epoch, then)
    return waiter
