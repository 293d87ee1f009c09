"""A worker's in-process state kept in step with the log every worker appends to.

With ``storage.backend = "postgres"`` several workers store into one log. The feature
state is shared (Redis) or not; every other stage (graph, flows, links, documents,
base rates, model labels) keeps its state in the worker. Before deciding, a worker
reads what the others stored since it last looked (events and labels, one round trip)
and adds it to its stages, skipping the events it decided itself. An event decided on
one worker is thus seen by the next decision on any worker, as long as that decision
starts after the first one was answered; events of one entity decided at the same
moment on two workers are each decided without the other (and added in a different
order on each worker). ``interval_s`` trades that bound for fewer reads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from fengkong.decisions.store import LabelRecord
from fengkong.events import Event, EventValidationError, Label, normalise
from fengkong.events.limits import STORED_LIMITS

if TYPE_CHECKING:
    from fengkong.decisions.engine import Engine

log = logging.getLogger(__name__)


def as_label(x: LabelRecord) -> Label:
    """A stored label as the stages learn from it."""
    return Label(
        event_id=x.event_id,
        user_id=x.user_id,
        label=x.label,
        source=x.source,
        at=datetime.fromtimestamp(x.at, UTC),
        scenario=x.scenario,
    )


class TailStore(Protocol):
    """A store other workers also write: what was stored after a position."""

    def tail(
        self, seq: int, label_id: int
    ) -> tuple[Sequence[tuple[int, bytes]], Sequence[tuple[int, LabelRecord]]]: ...


class LogFollower:
    """Adds the events and labels other workers stored to this worker's stages."""

    def __init__(
        self,
        engine: Engine,
        store: TailStore,
        interval_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.store = store
        self.interval_s = interval_s
        self.clock = clock
        self.seq = 0
        self.label_id = 0
        self._own: set[str] = set()
        self._checked = float("-inf")
        self._recoveries = engine.recoveries
        self.followed_events = 0
        self.followed_labels = 0

    def start(self, seq: int, label_id: int) -> None:
        """Follow from log position ``seq`` and label ``label_id`` (what the rebuild read)."""
        self.seq, self.label_id = seq, label_id
        self._own.clear()

    def applied(self, event_id: str) -> None:
        """This worker added ``event_id`` to its stages itself: skip it in the log."""
        self._own.add(event_id)

    def catch_up(self) -> int:
        """Add what others stored since the last look; returns the events added."""
        if self.engine.recoveries != self._recoveries:
            # A recovery re-derived the state from the whole log: follow from its end.
            self._recoveries = self.engine.recoveries
            self.start(self.engine.rebuilt_seq, self.label_id)
        now = self.clock()
        if now - self._checked < self.interval_s:
            return 0
        self._checked = now
        events, labels = self.store.tail(self.seq, self.label_id)
        if events:
            self.seq = events[-1][0]
            added = self.engine.pipeline.observe(self._others(events))
            self.followed_events += added
        else:
            added = 0
        if labels:
            self.label_id = labels[-1][0]
            self.followed_labels += self.engine.pipeline.apply_labels(
                as_label(x) for _, x in labels
            )
        return added

    def _others(self, rows: Sequence[tuple[int, bytes]]) -> Iterator[Event]:
        for n, body in rows:
            try:
                event = normalise(body, self.engine.tokenizer, STORED_LIMITS)
            except (EventValidationError, ValueError, RecursionError) as exc:
                log.warning("stored event #%d not followed: %s", n, exc)
                continue
            if event.event_id in self._own:
                self._own.discard(event.event_id)
                continue
            yield event
