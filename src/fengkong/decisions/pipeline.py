"""The pipeline: stages in order, then the policy."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from typing import cast

from fengkong.decisions.policy import Policy
from fengkong.decisions.state import Snapshot, SnapshotError
from fengkong.decisions.types import (
    Decision,
    DecisionContext,
    EventCycle,
    HeldWrite,
    LabelAware,
    Stage,
    StatefulStage,
)
from fengkong.events import Event, Label

log = logging.getLogger(__name__)


def _is_stateful(stage: Stage) -> bool:
    return callable(getattr(stage, "observe", None)) and callable(
        getattr(stage, "horizon_seconds", None)
    )


class Pipeline:
    """enrich → features → rules → models → policy, as a list of :class:`Stage`.

    Later concerns add a stage; none of the others changes.

    >>> from datetime import datetime, UTC
    >>> from fengkong.events import Event, Label
    >>> p = Pipeline([])
    >>> e = Event(event_id="e1", type="login", user_id="u1", occurred_at=datetime.now(UTC))
    >>> p.evaluate(e)[0].decision.label
    'allow'
    """

    def __init__(self, stages: Sequence[Stage], policy: Policy | None = None) -> None:
        names = [s.name for s in stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique, got {names}")
        self.stages = list(stages)
        self.policy = policy or Policy()
        # Stages with a read/update split are read, then updated after the decision;
        # a stage with only ``run`` is stateless and runs while reading.
        self._reads: list[Callable[[DecisionContext], None]] = []
        self._updates: list[Callable[[DecisionContext], None]] = []
        for stage in self.stages:
            read, update = getattr(stage, "read", None), getattr(stage, "update", None)
            if callable(read) and callable(update):
                self._reads.append(read)
                self._updates.append(update)
            else:
                self._reads.append(stage.run)
        # Stages whose states share one remote cycle: opened around each event once.
        cycles = (getattr(stage, "cycle", None) for stage in self.stages)
        self._cycles: list[EventCycle] = list({id(c): c for c in cycles if c is not None}.values())
        self._empty = {s.name: s.snapshot() for s in self._snapshotting()}

    @property
    def stateful(self) -> list[StatefulStage]:
        return [cast(StatefulStage, s) for s in self.stages if _is_stateful(s)]

    @property
    def label_aware(self) -> list[LabelAware]:
        return [
            cast(LabelAware, s) for s in self.stages if callable(getattr(s, "apply_label", None))
        ]

    def apply_labels(self, labels: Iterable[Label], restorable_only: bool = False) -> int:
        """Give labels to the stages that learn from them (``restorable_only``: those
        with snapshots, the ones a recovery resets)."""
        stages = self.label_aware
        if restorable_only:
            keep = {id(s) for s in self._snapshotting()}
            stages = [s for s in stages if id(s) in keep]
        count = 0
        for label in labels:
            for stage in stages:
                stage.apply_label(label)
            count += 1
        return count

    def maintain(self, now: float) -> None:
        """Let stages with state housekeeping (expiry of old windows) do it."""
        for stage in self.stages:
            maintain = getattr(stage, "maintain", None)
            if callable(maintain):
                maintain(now)

    def entity_counts(self) -> dict[str, int]:
        """Entities each stateful stage keeps, by kind (for memory monitoring)."""
        out: dict[str, int] = {}
        for stage in self.stages:
            counts = getattr(stage, "entity_counts", None)
            if callable(counts):
                out.update(counts())
        return out

    def horizon_seconds(self) -> float:
        """How far back stored events must be replayed to rebuild the state."""
        return max((s.horizon_seconds() for s in self.stateful), default=0.0)

    async def prepare(self, events: Sequence[Event]) -> None:
        """Start stages' slow per-event work (image checks) and await it off the loop.

        A stage with ``prepare(event) -> Future | None`` and ``budget_s`` starts its work
        here; the wait ends after the longest budget, so a slow check never holds the
        event loop, and the stage's ``read`` decides with whatever finished.
        """
        waits: list[asyncio.Future[object]] = []
        budget = 0.0
        for stage in self.stages:
            prepare = getattr(stage, "prepare", None)
            if not callable(prepare):
                continue
            for event in events:
                started: Future[object] | None = prepare(event)
                if started is not None and not started.done():
                    waits.append(asyncio.wrap_future(started))
                    budget = max(budget, float(getattr(stage, "budget_s", 0.0)))
        if waits:
            await asyncio.wait(waits, timeout=budget)

    def decide(self, event: Event) -> tuple[Decision, DecisionContext]:
        """Read every stage for ``event`` and decide; the state is not updated yet."""
        started = time.perf_counter()
        ctx = DecisionContext(event)
        for cycle in self._cycles:
            cycle.open_event(event)
        for read in self._reads:
            read(ctx)
        outcome = self.policy.decide(ctx)
        decision = Decision(
            event_id=event.event_id,
            decision=outcome.action,
            challenge=outcome.challenge,
            score=outcome.score,
            warnings=tuple(ctx.warnings),
            reasons=outcome.reasons,
            versions=ctx.versions,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            offer=ctx.offer,
        )
        return decision, ctx

    def apply(self, ctx: DecisionContext) -> list[HeldWrite]:
        """Add the event of ``ctx`` (read by :meth:`decide`) to every stage's state.

        A remote state holds the event's changes until :meth:`publish` says its
        decision is committed (the next events decided here see them meanwhile): the
        changes held, one per remote cycle.
        """
        for update in self._updates:
            update(ctx)
        held = []
        for cycle in self._cycles:
            entry = cycle.close_event(ctx.event.event_id)
            if entry is not None:
                held.append(entry)
        return held

    def publish(self, held: Iterable[HeldWrite]) -> None:
        """The decisions of ``held`` are committed: write their changes to the remote
        states (with every earlier committed one not written yet)."""
        for entry in held:
            entry.committed = True
        self.flush()

    def flush(self) -> None:
        """Write the held changes of every committed decision not written yet."""
        for cycle in self._cycles:
            cycle.flush()

    def settle(self) -> None:
        """After a failed commit (every commit in flight known): write what was
        committed, drop the changes of the decisions that were not."""
        for cycle in self._cycles:
            cycle.settle()

    def evaluate(self, event: Event) -> tuple[Decision, DecisionContext]:
        """Decide on ``event`` and update the stages' state with it (no log: its
        changes are published at once)."""
        decision, ctx = self.decide(event)
        self.publish(self.apply(ctx))
        return decision, ctx

    def observe(self, events: Iterable[Event], restorable_only: bool = False) -> int:
        """Feed past events to every stateful stage (rebuild after a restart).

        ``restorable_only``: only to the stages with snapshots (a recovery resets
        those; a stage without ``snapshot`` keeps its state and is left alone).
        """
        stateful = self._snapshotting() if restorable_only else self.stateful
        count = 0
        for event in events:
            for stage in stateful:
                stage.observe(event)
            count += 1
        return count

    def snapshot(self, seq: int, label_id: int) -> Snapshot:
        """Every stateful stage's state, taken after stored event ``seq``, label ``label_id``."""
        return Snapshot(seq, label_id, {s.name: s.snapshot() for s in self._snapshotting()})

    def restore(self, snap: Snapshot) -> None:
        """Load ``snap`` into the stages; if one refuses it, all are :meth:`reset`."""
        stages = self._snapshotting()
        if set(snap.stages) != {s.name for s in stages}:
            raise SnapshotError("the snapshot was taken with other stages")
        try:
            for stage in stages:
                stage.restore(snap.stages[stage.name])
        except Exception:
            self.reset()
            raise

    def reset(self) -> None:
        """Back to the empty state the stages had when the pipeline was built."""
        for stage in self._snapshotting():
            stage.restore(self._empty[stage.name])

    def _snapshotting(self) -> list[StatefulStage]:
        return [s for s in self.stateful if callable(getattr(s, "snapshot", None))]
