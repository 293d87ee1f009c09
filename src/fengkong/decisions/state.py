"""Snapshots of the pipeline's learnt state: the restart and recovery aid.

A snapshot is the state of every stateful stage after the stored events up to ``seq``
and the stored labels up to ``label_id``; the events and labels after those are the log
tail a restore replays. Beside them, the engine's filter of the event ids stored up to
``seq`` (``seen``, see :mod:`fengkong.decisions.seen`), so a restart need not hash every
stored id again. Stage states are pickles of plain data: load only snapshots this
installation wrote (a pickle from elsewhere can run code).
"""

from __future__ import annotations

import gc
import os
import pickle
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_MAGIC = b"fengkong-pipeline-snapshot-v2\n"
# Read still: the same without the seen-ids filter.
_MAGIC_V1 = b"fengkong-pipeline-snapshot-v1\n"


class SnapshotError(ValueError):
    """A snapshot that cannot be used (another pipeline, another version, damaged)."""


def dump_state(kind: str, state: Any) -> bytes:
    """One stage's state, tagged with what it is."""
    return pickle.dumps((kind, state), protocol=pickle.HIGHEST_PROTOCOL)


@contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic GC paused: loading millions of small containers would trigger it
    again and again (and it finds nothing to free in a fresh load)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class Freezer:
    """Moves the objects alive now out of the cyclic GC's reach every ``every`` events.

    A server's state grows by a few hundred containers an event and lives on; the GC's
    oldest generation is walked whole each time it grew by a quarter, so without this
    each of those pauses is longer than the last (12, 25, 46 ms within 10 s of serving
    from an empty store, and proportional to everything learnt since the start). The
    young generations are collected first, so only garbage that reached the oldest one
    in between is kept for good (the replay freezes after each batch the same way).
    """

    __slots__ = ("every", "pending")

    def __init__(self, every: int = 1000) -> None:
        self.every = every
        self.pending = 0

    def add(self, events: int) -> None:
        self.pending += events
        if self.every and self.pending >= self.every:
            self.pending = 0
            gc.collect(1)
            gc.freeze()


def load_state(kind: str, data: bytes) -> Any:
    """The state :func:`dump_state` saved for ``kind``; :class:`SnapshotError` otherwise."""
    try:
        with no_gc():
            saved, state = pickle.loads(data)
    except Exception as exc:  # a damaged or foreign blob
        raise SnapshotError(f"unreadable {kind} state: {exc}") from exc
    if saved != kind:
        raise SnapshotError(f"a {saved!r} state is not a {kind!r} state")
    return state


@dataclass(frozen=True)
class Snapshot:
    """Every stateful stage's state at one point of the log."""

    seq: int
    label_id: int
    stages: dict[str, bytes]
    created_at: float = field(default_factory=time.time)
    # The seen-ids filter's state (``SeenIds.state``), or None when the engine kept none.
    seen: Any = None

    def dumps(self) -> bytes:
        return _MAGIC + pickle.dumps(
            (self.seq, self.label_id, self.created_at, self.stages, self.seen),
            protocol=pickle.HIGHEST_PROTOCOL,
        )

    @classmethod
    def loads(cls, data: bytes) -> Snapshot:
        magic = _MAGIC if data.startswith(_MAGIC) else _MAGIC_V1
        if not data.startswith(magic):
            raise SnapshotError("not a fengkong pipeline snapshot")
        try:
            with no_gc():
                fields = pickle.loads(data[len(magic) :])
            seq, label_id, created_at, stages, seen = (
                (*fields, None) if magic == _MAGIC_V1 else fields
            )
        except Exception as exc:
            raise SnapshotError(f"damaged snapshot: {exc}") from exc
        return cls(int(seq), int(label_id), dict(stages), float(created_at), seen)

    def save(self, path: Path, seal: Callable[[bytes], bytes] | None = None) -> int:
        """Write atomically (temporary file, fsync, rename); returns the bytes written.

        ``seal`` encrypts the whole snapshot: the learnt state holds identifiers
        (device ids, IPs) that the database keeps sealed.
        """
        data = self.dumps() if seal is None else seal(self.dumps())
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        return len(data)

    @classmethod
    def load(cls, path: Path, unseal: Callable[[bytes], bytes] | None = None) -> Snapshot | None:
        """The snapshot in ``path``, ``None`` when there is none."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        if unseal is not None:
            try:
                data = unseal(data)
            except ValueError as exc:
                raise SnapshotError(f"the snapshot does not open: {exc}") from exc
        return cls.loads(data)
