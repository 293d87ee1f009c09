"""The engine: idempotency, the pipeline, and the unit of work that makes it durable."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from fengkong.decisions.follow import LogFollower
from fengkong.decisions.pipeline import Pipeline
from fengkong.decisions.recovery import StateRecovery
from fengkong.decisions.seen import SeenIds
from fengkong.decisions.state import Freezer
from fengkong.decisions.store import (
    Committer,
    DecisionRecord,
    DuplicateRecord,
    LabelRecord,
    Stale,
    Store,
    submit_on_loop,
)
from fengkong.decisions.types import Decision, DecisionContext, HeldWrite
from fengkong.decisions.units import (
    Accepted,
    ChallengeIssuer,
    DecisionDict,
    IdempotencyConflict,
    Unit,
    Waiter,
)
from fengkong.events import (
    EventValidationError,
    FieldError,
    Label,
    Tokenizer,
    body_hash,
    event_to_json,
    normalise,
)
from fengkong.events.limits import DEFAULT_LIMITS, Limits
from fengkong.storage.explain import Packer

log = logging.getLogger(__name__)

T = TypeVar("T")

# The async paths yield to the event loop after this many events, so one large batch
# never holds the loop (health checks, other routes) for more than a slice of it.
YIELD_EVERY = 32


class Engine(StateRecovery):
    """Events in, decisions out, remembered.

    ``decide`` / ``decide_many`` write synchronously (replay, CLI, library use);
    ``decide_async`` shares durable commits across concurrent requests through a
    :class:`GroupCommitter`. With ``durable=False`` answers return before the write
    and say ``"durable": false``.

    Each event is read by every stage, decided, and its update applied before the next
    event is read, in the order the log stores them, so a batch (and concurrent
    requests) decide exactly as a replay of the stored log would. The updates of a
    unit not yet stored are tentative: if deciding or committing fails, units decided
    on top of it are refused (:class:`~fengkong.storage.Stale`) and decided again, and
    the state is re-derived from the log (the last snapshot plus the events stored
    after it) before anything else is decided. A failure thus leaves the state as the
    log is, and a retry never counts twice. A remote state shared with other workers
    (Redis) gets a unit's changes only once the unit is stored, before its answer
    (:meth:`Pipeline.publish`); after a failure it gets those of the units stored
    before it, never the others (:meth:`Pipeline.settle`).

    ``snapshot_path``: where :meth:`save_snapshot` keeps the state and :meth:`rebuild`
    starts from. ``max_skew_s``: how far past the server clock a stored ``occurred_at``
    may lie and still anchor the rebuild window.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        store: Store,
        tokenizer: Tokenizer,
        *,
        durable: bool = True,
        committer: Committer | None = None,
        snapshot_path: Path | None = None,
        max_skew_s: float = 300.0,
        clock: Callable[[], float] = time.time,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.pipeline = pipeline
        self.store = store
        self.tokenizer = tokenizer
        self.durable = durable
        self._committer = committer
        self.snapshot_path = snapshot_path
        self.max_skew_s = max_skew_s
        self.clock = clock
        self.limits = limits
        # Failures seen by the synchronous path; the committer counts its own.
        self._failures = 0
        self._state_epoch = 0
        self.recoveries = 0
        # The log position of the snapshot last saved or loaded.
        self.snapshot_seq = 0
        # (seal, unseal) for the snapshot file: the runtime sets the field key's.
        self.snapshot_codec: tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]] | None = None
        self.skipped_in_rebuild = 0
        # Decisions made but not yet durable, so a concurrent retry waits for them.
        self._inflight: dict[str, tuple[str, DecisionDict, Waiter | None]] = {}
        # Servers attach one; replays and the CLI decide without issuing challenges.
        self.challenger: ChallengeIssuer | None = None
        # On a store other workers write too: adds their events first (decisions.follow).
        self.follower: LogFollower | None = None
        self.rebuilt_seq = 0
        # Held while a unit is decided across yields (one per event loop); meanwhile
        # the state holds tentative updates, so no snapshot is taken.
        self._deciding: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._deciding_now = 0
        # Explanations are stored packed: names once per schema, values per event.
        self._packer = Packer(store.set_meta, store.get_meta)
        # Ids that may be stored (decisions.seen): set by rebuild() for a sole writer.
        self._seen: SeenIds | None = None
        # Decide units in a thread of their own (still one at a time, under the lock)
        # rather than on the event loop: set where deciding waits on the network
        # (PostgreSQL, Redis), so the loop keeps serving while a unit waits.
        self.offload = False
        self._decider: ThreadPoolExecutor | None = None
        # The state learnt while serving, out of the cyclic GC's reach now and then.
        self._freezer = Freezer()
        # Writes of remote states after answers that are not durable.
        self._background: set[asyncio.Future[None]] = set()

    # -- the edge -------------------------------------------------------------
    def accept(self, raw: bytes | str | dict[str, Any]) -> Accepted:
        """Validate and tokenise one event; raises :class:`EventValidationError`."""
        event = normalise(raw, self.tokenizer, self.limits)
        canonical = event_to_json(event)
        return Accepted(event, canonical, body_hash(canonical))

    def accept_many(self, raws: Sequence[Any]) -> list[Accepted]:
        """Validate a batch; every error is reported with its index, nothing is kept."""
        accepted: list[Accepted] = []
        errors: list[FieldError] = []
        self._accept_into(raws, 0, accepted, errors)
        if errors:
            raise EventValidationError(errors)
        return accepted

    async def accept_many_async(self, raws: Sequence[Any]) -> list[Accepted]:
        """:meth:`accept_many`, yielding to the event loop every :data:`YIELD_EVERY` events."""
        accepted: list[Accepted] = []
        errors: list[FieldError] = []
        for start in range(0, len(raws), YIELD_EVERY):
            if start:
                await asyncio.sleep(0)
            self._accept_into(raws[start : start + YIELD_EVERY], start, accepted, errors)
        if errors:
            raise EventValidationError(errors)
        return accepted

    def _accept_into(
        self, raws: Sequence[Any], offset: int, accepted: list[Accepted], errors: list[FieldError]
    ) -> None:
        for i, raw in enumerate(raws, offset):
            if not isinstance(raw, dict):
                errors.append(FieldError((i,), "each event must be a JSON object", "dict_type"))
                continue
            try:
                accepted.append(self.accept(raw))
            except EventValidationError as exc:
                errors.extend(exc.prefixed(i).errors)

    # -- idempotency ------------------------------------------------------------
    def _previous(self, items: Sequence[Accepted]) -> dict[str, DecisionDict | None]:
        """For each item seen before: its stored decision (``None`` while in flight).

        Raises :class:`IdempotencyConflict` before anything is decided if any
        ``event_id`` comes back with another body.
        """
        ids = [a.event.event_id for a in items]
        if self._seen is not None:  # only ids that may be stored are asked about
            ids = [i for i in ids if self._seen.maybe(i)]
        stored = self.store.lookup(ids) if ids else {}
        seen: dict[str, str] = {}
        found: dict[str, DecisionDict | None] = {}
        for index, item in enumerate(items):
            event_id = item.event.event_id
            field = "event_id" if len(items) == 1 else f"[{index}].event_id"
            previous_hash: str | None = None
            # Read once: the writer thread settles in-flight entries at any moment.
            inflight = self._inflight.get(event_id)
            if inflight is not None:
                previous_hash = inflight[0]
                found[event_id] = inflight[1]
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
    def _evaluate(self, item: Accepted) -> tuple[DecisionDict, DecisionRecord, list[HeldWrite]]:
        """Decide and apply one event: its answer, its record and the remote states'
        changes held until the record is committed."""
        decision, ctx = self.pipeline.decide(item.event)
        if self.challenger is not None and decision.challenge is not None:
            decision = self.challenger.issue(item.event, decision)
        out, record = self._record(item, decision, ctx)
        held = self.pipeline.apply(ctx)
        if self.follower is not None:
            self.follower.applied(item.event.event_id)
        return out, record, held

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
            explain_json=self._packer.pack(ctx.facts, ctx.features, ctx.explain),
        )
        return out, record

    def _decide_in_order(self, items: Sequence[Accepted]) -> Unit:
        """Answers in order: stored or in-flight ones reused, new ones decided once."""
        batch, previous = self._begin(items)
        try:
            self._decide_slice(batch, previous, items)
        except BaseException:
            if batch.records:  # some updates of this unit are applied: undo them
                self._failures += 1
            raise
        return batch

    async def _decide_in_order_async(self, items: Sequence[Accepted]) -> Unit:
        """:meth:`_decide_in_order` in slices, yielding to the event loop between them."""
        batch, previous = self._begin(items)
        self._deciding_now += 1
        try:
            for start in range(0, len(items), YIELD_EVERY):
                if start:
                    await asyncio.sleep(0)
                self._decide_slice(batch, previous, items[start : start + YIELD_EVERY])
        except BaseException:
            if batch.records:  # some updates of this unit are applied: undo them
                self._failures += 1
            raise
        finally:
            self._deciding_now -= 1
        return batch

    def _begin(self, items: Sequence[Accepted]) -> tuple[Unit, dict[str, DecisionDict | None]]:
        if self.epoch != self._state_epoch:
            self._recover()
        if self.follower is not None:
            self.follower.catch_up()
        batch = Unit(epoch=self._committer.epoch if self._committer else 0)
        return batch, self._previous(items)

    def _decide_slice(
        self,
        batch: Unit,
        previous: dict[str, DecisionDict | None],
        items: Sequence[Accepted],
    ) -> None:
        for item in items:
            event_id = item.event.event_id
            known = previous.get(event_id) or batch.answers.get(event_id)
            if known is None:
                known, record, held = self._evaluate(item)
                batch.answers[event_id] = known
                batch.records.append(record)
                batch.held += held
            elif (inflight := self._inflight.get(event_id)) and (pending := inflight[2]):
                batch.waits.append(pending)
            batch.results.append(known)

    def decide_many(self, items: Sequence[Accepted]) -> list[DecisionDict]:
        """Decide a batch in order and store it in one transaction (all or nothing)."""
        batch = self._decide_in_order(items)
        try:
            (error,) = self.store.write_each([batch.records]) if batch.records else [None]
        except BaseException:
            self._failures += 1
            raise
        if error is not None:
            self._failures += 1
            raise error
        self._remember(batch.records)
        self.pipeline.publish(batch.held)  # in the log: now the remote states count it
        return batch.results

    def decide(self, raw: bytes | str | dict[str, Any] | Accepted) -> DecisionDict:
        """Decide one event synchronously (durable on return)."""
        item = raw if isinstance(raw, Accepted) else self.accept(raw)
        return self.decide_many([item])[0]

    async def decide_async(
        self, items: Sequence[Accepted], attempts: int = 5
    ) -> list[DecisionDict]:
        """Decide in order; wait (without blocking the loop) until durable.

        Slow per-event checks (images) start first and are awaited off the loop within
        their budget. A unit refused as stale (decided on a state a failed commit
        invalidated) is decided again on the recovered state, up to ``attempts`` times.
        """
        await self.pipeline.prepare([item.event for item in items])
        for attempt in range(attempts):
            async with self.deciding():
                if self.offload:
                    batch = await self._decide_in_thread(items)
                else:
                    batch = await self._decide_in_order_async(items)
                if batch.records:
                    batch.own = self._submit(batch)
                    self._freezer.add(len(batch.records))
            if not self.durable:
                if batch.held:
                    self._later(self._published(batch))
                return batch.results
            try:
                await self._published(batch)
            except (Stale, DuplicateRecord):
                # A duplicate: another worker stored the event first; the next attempt
                # answers with its stored decision (or 409 for another body).
                if attempt == attempts - 1:
                    raise
                continue
            return batch.results
        raise AssertionError("unreachable")  # pragma: no cover

    async def _decide_in_thread(self, items: Sequence[Accepted]) -> Unit:
        """:meth:`_decide_in_order` in the engine's one deciding thread (the caller holds
        the lock, so units still change the state one at a time, in order)."""
        self._deciding_now += 1
        try:
            return await self._in_decider(self._decide_in_order, items)
        finally:
            self._deciding_now -= 1

    async def _in_decider(self, work: Callable[..., T], *args: Any) -> T:
        if self._decider is None:
            self._decider = ThreadPoolExecutor(1, thread_name_prefix="fengkong-decide")
        return await asyncio.get_running_loop().run_in_executor(self._decider, work, *args)

    def close(self) -> None:
        """Stop the deciding thread (if one was started)."""
        if self._decider is not None:
            self._decider.shutdown()
            self._decider = None

    def deciding(self) -> asyncio.Lock:
        """The lock of the running event loop under which the state changes.

        Deciding holds it across its yields; anything else that changes the state from
        the loop (labels, maintenance) takes it too, so it never lands inside a unit.
        """
        loop = asyncio.get_running_loop()
        if self._deciding is None or self._deciding[0] is not loop:
            self._deciding = (loop, asyncio.Lock())
        return self._deciding[1]

    async def _published(self, batch: Unit) -> None:
        """Wait until the unit is durable, then until the remote states count it: its
        held changes are written by the next unit's fetch if that came first, else here
        (under the lock: the state changes one unit at a time)."""
        for wait in [*batch.waits, batch.own]:
            if isinstance(wait, Future):
                await asyncio.wrap_future(wait)
            elif wait is not None:
                # Another unit's commit is shielded: this request's end must not cancel it.
                await (wait if wait is batch.own else asyncio.shield(wait))
        held = batch.held
        for entry in held:
            entry.committed = True
        if all(entry.written for entry in held):
            return
        async with self.deciding():
            if self.offload:
                await self._in_decider(self.pipeline.flush)
            else:
                self.pipeline.flush()

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the answer (answers not durable): a failure is logged."""
        task = asyncio.ensure_future(work)
        self._background.add(task)

        def _done(done: asyncio.Future[None]) -> None:
            self._background.discard(task)
            if not done.cancelled() and done.exception() is not None:
                log.error("states of a unit not written: %s", done.exception())

        task.add_done_callback(_done)

    def _submit(self, batch: Unit) -> Waiter:
        if self._committer is None:
            raise RuntimeError("decide_async needs a GroupCommitter")
        records, answers, held = batch.records, batch.answers, batch.held
        if not self.durable:
            for answer in answers.values():
                answer["durable"] = False

        def _settle(error: BaseException | None) -> None:
            # Before anyone awaiting the unit wakes: the next unit's fetch may then
            # carry this one's write.
            if error is None:
                for entry in held:
                    entry.committed = True
            for record in records:
                self._inflight.pop(record.event_id, None)

        done: Waiter
        if held:  # the remote states' changes are marked in the writer thread
            done = self._committer.submit(records, batch.epoch)
        else:  # settled on the loop (after this returns), with the commit's other units
            done = submit_on_loop(self._committer, records, batch.epoch, _settle)
        self._remember(records)
        for record in records:
            self._inflight[record.event_id] = (record.body_hash, answers[record.event_id], done)
        if isinstance(done, Future):  # added last: it runs at once if already committed
            done.add_done_callback(lambda future: _settle(future.exception()))
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

    async def add_labels_async(self, labels: Iterable[Label]) -> int:
        """:meth:`add_labels` from the event loop, never inside a unit being decided."""
        async with self.deciding():
            return self.add_labels(labels)
