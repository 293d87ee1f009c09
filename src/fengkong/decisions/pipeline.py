"""The pipeline: stages in order, then the policy."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import cast

from fengkong.decisions.policy import Policy
from fengkong.decisions.types import (
    Decision,
    DecisionContext,
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

    @property
    def stateful(self) -> list[StatefulStage]:
        return [cast(StatefulStage, s) for s in self.stages if _is_stateful(s)]

    @property
    def label_aware(self) -> list[LabelAware]:
        return [
            cast(LabelAware, s) for s in self.stages if callable(getattr(s, "apply_label", None))
        ]

    def apply_labels(self, labels: Iterable[Label]) -> int:
        """Give labels to the stages that learn from them."""
        stages = self.label_aware
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

    def evaluate(self, event: Event) -> tuple[Decision, DecisionContext]:
        """Decide on ``event`` and update the stages' state with it."""
        started = time.perf_counter()
        ctx = DecisionContext(event)
        for stage in self.stages:
            stage.run(ctx)
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
        )
        return decision, ctx

    def observe(self, events: Iterable[Event]) -> int:
        """Feed past events to every stateful stage (rebuild after a restart)."""
        stateful = self.stateful
        count = 0
        for event in events:
            for stage in stateful:
                stage.observe(event)
            count += 1
        return count
