"""The engine: idempotency, the pipeline, and the unit of work that makes it durable."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import orjson

from fengkong.decisions.follow import LogFollower, as_label
from fengkong.decisions.pipeline import Pipeline
from fengkong.decisions.seen import SeenIds
from fengkong.decisions.state import Freezer, Snapshot, SnapshotError, no_gc
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
    Event,
    EventValidationError,
    FieldError,
    Label,
    Tokenizer,
    body_hash,
    event_to_json,
    normalise,
)
from fengkong.events.limits import DEFAULT_LIMITS, STORED_LIMITS, Limits
from fengkong.storage.explain import Packer

log = logging.getLogger(__name__)

T = TypeVar("T")

# The async paths yield to the event loop after this many events, so one large batch
# never holds the loop (health checks, other routes) for more than a slice of it.
YIELD_EVERY = 32


class Engine:
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
    @property
    def epoch(self) -> int:
        """Grows with every failed decision or commit (the state it invalidated)."""
        return self._failures + (self._committer.epoch if self._committer else 0)

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

    def rebuild(self, *, recovering: bool = False) -> int:
        """Rebuild the stages' state from the last snapshot and the stored log after it.

        Without a usable snapshot the stages start empty and take every stored event
        within the horizon. The window counts back from the newest stored
        ``occurred_at``, but never from later than the server clock plus
        ``max_skew_s``, so no client timestamp can shrink it. Returns the events read.
        """
        started = time.perf_counter()
        snap = self._load_snapshot()
        seq, label_id = (snap.seq, snap.label_id) if snap is not None else (0, 0)
        self.snapshot_seq = seq
        count = 0
        horizon = self.pipeline.horizon_seconds()
        if horizon > 0 and self.pipeline.stateful:
            since = self.rebuild_since(horizon)
            if since is not None:
                count = self.pipeline.observe(
                    self._stored_events(seq, since), restorable_only=recovering
                )
        labels = 0
        if self.pipeline.label_aware:
            labels = self.pipeline.apply_labels(
                (as_label(x) for _, x in self.store.labels_after(label_id)),
                restorable_only=recovering,
            )
        self._state_epoch = self.epoch
        self._track_stored_ids(snap)
        if count or labels or snap is not None:
            log.info(
                "rebuilt state from %s, %d events and %d labels in %.1f s",
                "a snapshot" if snap is not None else "scratch",
                count,
                labels,
                time.perf_counter() - started,
            )
        return count

    def _track_stored_ids(self, snap: Snapshot | None) -> None:
        """Know the stored ids from now on, when this engine is the log's only writer
        (a follower means other workers store events this one would not hear of).

        The snapshot's filter holds the ids stored up to its ``seq``: only the tail's
        are added. Without one, every stored id is read.
        """
        ids = getattr(self.store, "event_ids", None)
        if self._seen is not None or self.follower is not None or ids is None:
            return
        saved = None
        if snap is not None and snap.seen is not None:
            saved = SeenIds.from_state(snap.seen)
            if saved is not None:
                saved.update(ids(after=snap.seq))
        self._seen = saved if saved is not None else SeenIds(ids())

    def _remember(self, records: Sequence[DecisionRecord]) -> None:
        if self._seen is not None:
            for record in records:
                self._seen.add(record.event_id)

    def _stored_events(self, seq: int, since: float) -> Iterator[Event]:
        """Stored events after ``seq``; one that no longer loads is skipped, not fatal.

        A body accepted by an older, laxer version (say, nested too deep for today's
        limits) must not stop every later start.
        """
        skipped = 0
        for n, body in self.store.events_after(seq, since):
            self.rebuilt_seq = max(self.rebuilt_seq, n)
            try:
                yield normalise(body, self.tokenizer, STORED_LIMITS)
            except (EventValidationError, ValueError, RecursionError) as exc:
                skipped += 1
                if skipped <= 10:
                    log.warning("stored event #%d skipped in the rebuild: %s", n, exc)
        if skipped:
            log.warning("%d stored events skipped in the rebuild", skipped)
        self.skipped_in_rebuild = skipped

    def rebuild_since(self, horizon: float) -> float | None:
        """The oldest ``occurred_at`` a rebuild reads (``None``: no stored events)."""
        newest = self.store.newest_ts()
        if newest is None:
            return None
        return min(newest, self.clock() + self.max_skew_s) - horizon

    def _load_snapshot(self) -> Snapshot | None:
        """Restore the saved snapshot into the stages, or reset them; returns it."""
        snap: Snapshot | None = None
        if self.snapshot_path is not None:
            try:
                unseal = self.snapshot_codec[1] if self.snapshot_codec else None
                snap = Snapshot.load(self.snapshot_path, unseal)
                if snap is not None and snap.seq > self.store.last_seq():
                    raise SnapshotError("the snapshot is newer than the stored log")
                if snap is not None:
                    # Millions of small objects: a collection pass every few thousand
                    # of them would cost more than the unpickling itself.
                    with no_gc():
                        self.pipeline.restore(snap)
            except (SnapshotError, ValueError, OSError) as exc:
                log.warning("snapshot %s not used (%s): rebuilding", self.snapshot_path, exc)
                snap = None
        if snap is None:
            self.pipeline.reset()
        return snap

    def save_snapshot(self) -> bool:
        """Save the state with its log position; ``False`` while decisions are in flight."""
        busy = self._inflight or self._deciding_now
        if self.snapshot_path is None or busy or self.epoch != self._state_epoch:
            return False
        started = time.perf_counter()
        snap = self.pipeline.snapshot(self.store.last_seq(), self.store.last_label_id())
        if self._seen is not None:
            snap = replace(snap, seen=self._seen.state())
        size = snap.save(
            self.snapshot_path, self.snapshot_codec[0] if self.snapshot_codec else None
        )
        self.snapshot_seq = snap.seq
        log.info(
            "saved a snapshot at event %d (%.1f MB) in %.1f s",
            snap.seq,
            size / 1e6,
            time.perf_counter() - started,
        )
        return True

    def _recover(self) -> None:
        """Re-derive the state from the log after a failure (nothing in flight counts)."""
        if self._committer is not None:
            # Units decided before now were decided on the state being thrown away.
            self._committer.invalidate()
            self._committer.flush()
        self.recoveries += 1
        log.warning("a decision or commit failed: re-deriving the state from the log")
        # The remote states get the committed decisions, never the others.
        self.pipeline.settle()
        self.rebuild(recovering=True)
