"""The engine's state and its log: rebuild from a snapshot and the log's tail, save
snapshots, and re-derive the state after a failure."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from fengkong.decisions.follow import LogFollower, as_label
from fengkong.decisions.pipeline import Pipeline
from fengkong.decisions.seen import SeenIds
from fengkong.decisions.state import Snapshot, SnapshotError, no_gc
from fengkong.decisions.store import Committer, DecisionRecord, Store
from fengkong.events import Event, EventValidationError, Tokenizer, normalise
from fengkong.events.limits import STORED_LIMITS

# The engine's logger: these messages keep the name operators already filter on.
log = logging.getLogger("fengkong.decisions.engine")


class StateRecovery:
    """What :class:`~fengkong.decisions.engine.Engine` does with its state and the log.

    A mixin: the engine sets these attributes in its ``__init__``.
    """

    pipeline: Pipeline
    store: Store
    tokenizer: Tokenizer
    snapshot_path: Path | None
    snapshot_codec: tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]] | None
    snapshot_seq: int
    rebuilt_seq: int
    skipped_in_rebuild: int
    recoveries: int
    max_skew_s: float
    clock: Callable[[], float]
    follower: LogFollower | None
    _committer: Committer | None
    _failures: int
    _seen: SeenIds | None
    _state_epoch: int
    _inflight: dict[str, Any]
    _deciding_now: int

    @property
    def epoch(self) -> int:
        """Grows with every failed decision or commit (the state it invalidated)."""
        return self._failures + (self._committer.epoch if self._committer else 0)

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
