"""The engine: idempotency, the pipeline, and the unit of work that makes it durable."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from fengkong.decisions.pipeline import Pipeline
from fengkong.decisions.types import Decision, DecisionContext
from fengkong.events import (
    Event,
    EventValidationError,
    FieldError,
    Label,
    Tokenizer,
    body_hash,
    event_to_json,
    normalise,
)
from fengkong.storage import DecisionRecord, GroupCommitter, LabelRecord, Store

log = logging.getLogger(__name__)

DecisionDict = dict[str, Any]


class ChallengeIssuer(Protocol):
    """Creates the step-up a ``challenge`` decision asks for (identity.challenges)."""

    def issue(self, event: Event, decision: Decision) -> Decision: ...


class IdempotencyConflict(ValueError):
    """The ``event_id`` was already used with a different body (HTTP 409)."""

    def __init__(self, event_id: str, field: str = "event_id") -> None:
        self.event_id = event_id
        self.field = field
        super().__init__(f"{field}: event {event_id!r} was already received with a different body")


@dataclass(frozen=True, slots=True)
class Accepted:
    """An event past validation, with its canonical body and fingerprint."""

    event: Event
    canonical: bytes
    digest: str


@dataclass(slots=True)
class _Batch:
    results: list[DecisionDict] = field(default_factory=list)
    answers: dict[str, DecisionDict] = field(default_factory=dict)
    records: list[DecisionRecord] = field(default_factory=list)
    waits: list[Future[None]] = field(default_factory=list)


def _explain(ctx: DecisionContext) -> bytes:
    payload = {"facts": ctx.facts, "features": ctx.features, **ctx.explain}
    return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS, default=str)


class Engine:
    """Events in, decisions out, remembered.

    ``decide`` / ``decide_many`` write synchronously (replay, CLI, library use);
    ``decide_async`` shares durable commits across concurrent requests through a
    :class:`GroupCommitter`. With ``durable=False`` answers return before the write
    and say ``"durable": false``.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        store: Store,
        tokenizer: Tokenizer,
        *,
        durable: bool = True,
        committer: GroupCommitter | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.store = store
        self.tokenizer = tokenizer
        self.durable = durable
        self._committer = committer
        # Decisions made but not yet durable, so a concurrent retry waits for them.
        self._inflight: dict[str, tuple[str, DecisionDict, Future[None] | None]] = {}
        # Servers attach one; replays and the CLI decide without issuing challenges.
        self.challenger: ChallengeIssuer | None = None

    # -- the edge -------------------------------------------------------------
    def accept(self, raw: bytes | str | dict[str, Any]) -> Accepted:
        """Validate and tokenise one event; raises :class:`EventValidationError`."""
        event = normalise(raw, self.tokenizer)
        canonical = event_to_json(event)
        return Accepted(event, canonical, body_hash(canonical))

    def accept_many(self, raws: Sequence[Any]) -> list[Accepted]:
        """Validate a batch; every error is reported with its index, nothing is kept."""
        accepted: list[Accepted] = []
        errors: list[FieldError] = []
        for i, raw in enumerate(raws):
            if not isinstance(raw, dict):
                errors.append(FieldError((i,), "each event must be a JSON object", "dict_type"))
                continue
            try:
                accepted.append(self.accept(raw))
            except EventValidationError as exc:
                errors.extend(exc.prefixed(i).errors)
        if errors:
            raise EventValidationError(errors)
        return accepted

    # -- idempotency ------------------------------------------------------------
    def _previous(self, items: Sequence[Accepted]) -> dict[str, DecisionDict | None]:
        """For each item seen before: its stored decision (``None`` while in flight).

        Raises :class:`IdempotencyConflict` before anything is decided if any
        ``event_id`` comes back with another body.
        """
        ids = [a.event.event_id for a in items]
        stored = self.store.lookup(ids)
        seen: dict[str, str] = {}
        found: dict[str, DecisionDict | None] = {}
        for index, item in enumerate(items):
            event_id = item.event.event_id
            field = "event_id" if len(items) == 1 else f"[{index}].event_id"
            previous_hash: str | None = None
            if event_id in self._inflight:
                previous_hash = self._inflight[event_id][0]
                found[event_id] = self._inflight[event_id][1]
            elif event_id in stored:
                previous_hash = stored[event_id].body_hash
                found[event_id] = orjson.loads(stored[event_id].decision_json)
            elif event_id in seen:
                previous_hash = seen[event_id]
                found[event_id] = None
            if previous_hash is not None and previous_hash != item.digest:
                raise IdempotencyConflict(event_id, field)
            seen[event_id] = item.digest
        return found

    # -- deciding ---------------------------------------------------------------
    def _evaluate(self, item: Accepted) -> tuple[DecisionDict, DecisionRecord]:
        decision, ctx = self.pipeline.evaluate(item.event)
        if self.challenger is not None and decision.challenge is not None:
            decision = self.challenger.issue(item.event, decision)
        return self._record(item, decision, ctx)

    def _record(
        self, item: Accepted, decision: Decision, ctx: DecisionContext
    ) -> tuple[DecisionDict, DecisionRecord]:
        out = decision.as_dict()
        event = item.event
        record = DecisionRecord(
            event_id=event.event_id,
            event_type=event.type.value,
            user_id=event.user_id,
            ts=event.ts,
            body_hash=item.digest,
            event_json=item.canonical,
            outcome=out["decision"],
            score=decision.score,
            decision_json=orjson.dumps(out),
            explain_json=_explain(ctx),
        )
        return out, record

    def _decide_in_order(self, items: Sequence[Accepted]) -> _Batch:
        """Answers in order: stored or in-flight ones reused, new ones decided once."""
        previous = self._previous(items)
        batch = _Batch()
        for item in items:
            event_id = item.event.event_id
            known = previous.get(event_id) or batch.answers.get(event_id)
            if known is None:
                known, record = self._evaluate(item)
                batch.answers[event_id] = known
                batch.records.append(record)
            elif event_id in self._inflight and (pending := self._inflight[event_id][2]):
                batch.waits.append(pending)
            batch.results.append(known)
        return batch

    def decide_many(self, items: Sequence[Accepted]) -> list[DecisionDict]:
        """Decide a batch in order and store it in one transaction."""
        batch = self._decide_in_order(items)
        self.store.write(batch.records)
        return batch.results

    def decide(self, raw: bytes | str | dict[str, Any] | Accepted) -> DecisionDict:
        """Decide one event synchronously (durable on return)."""
        item = raw if isinstance(raw, Accepted) else self.accept(raw)
        return self.decide_many([item])[0]

    async def decide_async(self, items: Sequence[Accepted]) -> list[DecisionDict]:
        """Decide in order; wait (without blocking the loop) until durable."""
        batch = self._decide_in_order(items)
        if batch.records:
            batch.waits.append(self._submit(batch.records, batch.answers))
        if self.durable:
            for wait in batch.waits:
                await asyncio.wrap_future(wait)
        return batch.results

    def _submit(
        self, records: list[DecisionRecord], answers: dict[str, DecisionDict]
    ) -> Future[None]:
        if self._committer is None:
            raise RuntimeError("decide_async needs a GroupCommitter")
        if not self.durable:
            for answer in answers.values():
                answer["durable"] = False
        done = self._committer.submit(records)
        for record in records:
            self._inflight[record.event_id] = (record.body_hash, answers[record.event_id], done)

        def _settle(_: Future[None]) -> None:
            for record in records:
                self._inflight.pop(record.event_id, None)

        done.add_done_callback(_settle)
        return done

    # -- labels and state -------------------------------------------------------
    def add_labels(self, labels: Iterable[Label]) -> int:
        """Store labels, then let the stages that learn from labels see them."""
        labels = list(labels)
        records = [
            LabelRecord(x.event_id, x.user_id, x.label, x.source, x.at.timestamp(), x.scenario)
            for x in labels
        ]
        self.store.add_labels(records)
        self.pipeline.apply_labels(labels)
        return len(records)

    def rebuild(self) -> int:
        """Rebuild the stages' state from the stored events (within the horizon) and labels."""
        started = time.perf_counter()
        count = 0
        horizon = self.pipeline.horizon_seconds()
        if horizon > 0 and self.pipeline.stateful:
            newest = self.store.newest_ts()
            since = newest - horizon if newest is not None else None
            count = self.pipeline.observe(
                normalise(body, self.tokenizer) for body in self.store.events(since)
            )
        labels = 0
        if self.pipeline.label_aware:
            labels = self.pipeline.apply_labels(
                Label(
                    event_id=x.event_id,
                    user_id=x.user_id,
                    label=x.label,
                    source=x.source,
                    at=datetime.fromtimestamp(x.at, UTC),
                    scenario=x.scenario,
                )
                for x in self.store.labels()
            )
        if count or labels:
            log.info(
                "rebuilt state from %d events and %d labels in %.1f s",
                count,
                labels,
                time.perf_counter() - started,
            )
        return count
