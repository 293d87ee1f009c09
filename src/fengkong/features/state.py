"""Where feature state lives: a table of entity states per entity kind.

The interface is deliberately small: ``table(kind)`` gives a mutable mapping from an
entity key (``"u-1"``, a device key, ``"223.104.3.0/24"``) to that entity's state, a
plain list ``[last_ts, slot, slot, ...]`` with one slot per accumulator. The Redis
implementation (``state_redis.RedisState``) keeps one hash per entity (a version and
the list, pickled and authenticated) and fetches the states of one event's entities in
one round trip before computing, writing them back after; the accumulators do not
change.

:class:`EntityStates` is the same idea for a stage's own per-entity memory outside the
features engine (money flows per receiving account, document reuse per image): get and
put by entity key, :class:`MemoryStates` in memory, ``state_redis.RedisStates`` on Redis.
A stage makes its tables from a :class:`StatesSession` (:class:`MemorySession`, or
``state_redis.RedisSession``): the session fetches one event's entities of every table
in one round trip and writes back the changed ones in one script, after the decision;
the sessions of several stages share one such cycle (``state_cycle.SharedCycle``).

Snapshots are pickles of plain data. Load only snapshots this process family wrote
(a pickle from an untrusted source can run code): they are a local restart aid, not an
exchange format.
"""

from __future__ import annotations

import gc
import pickle
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any, Generic, Protocol, TypeVar

from fengkong.events import Event
from fengkong.features.bounded import evict_least_recent

EntityState = list[Any]
_MAGIC = b"fengkong-features-v1\n"


class StateBackend(Protocol):
    """Per-entity state by entity kind and key: what the compiled feature step runs on.

    ``table(kind)`` is the mapping the generated code binds (``get`` and item
    assignment, mutated in place); ``get_many`` / ``put_many`` / ``delete_many`` move
    several entities at once (a remote backend: one round trip), and are what expiry
    and tooling use. The in-memory default is :class:`InMemoryState`.
    """

    def table(self, kind: str) -> MutableMapping[str, EntityState]: ...

    def get_many(self, kind: str, keys: Iterable[str]) -> dict[str, EntityState]: ...

    def put_many(self, kind: str, states: Mapping[str, EntityState]) -> None: ...

    def delete_many(self, kind: str, keys: Iterable[str]) -> None: ...

    def keys(self, kind: str) -> list[str]: ...

    def dumps(self, fingerprint: str) -> bytes: ...

    def loads(self, data: bytes, fingerprint: str) -> None: ...


# The name the features package exported before the backend methods were added.
FeatureState = StateBackend


class SnapshotMismatch(ValueError):
    """A snapshot taken with other feature definitions (or not a snapshot at all)."""


class InMemoryState:
    """State in process memory: one dict per entity kind."""

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, EntityState]] = {}

    def table(self, kind: str) -> dict[str, EntityState]:
        return self._tables.setdefault(kind, {})

    def get_many(self, kind: str, keys: Iterable[str]) -> dict[str, EntityState]:
        table = self.table(kind)
        return {k: table[k] for k in keys if k in table}

    def put_many(self, kind: str, states: Mapping[str, EntityState]) -> None:
        self.table(kind).update(states)

    def delete_many(self, kind: str, keys: Iterable[str]) -> None:
        table = self.table(kind)
        for key in keys:
            table.pop(key, None)

    def keys(self, kind: str) -> list[str]:
        return list(self.table(kind))

    def kinds(self) -> list[str]:
        return sorted(self._tables)

    def dumps(self, fingerprint: str) -> bytes:
        """Bytes of the state, tagged with the definitions it was computed for."""
        body = pickle.dumps((fingerprint, self._tables), protocol=pickle.HIGHEST_PROTOCOL)
        return _MAGIC + body

    def loads(self, data: bytes, fingerprint: str) -> None:
        if not data.startswith(_MAGIC):
            raise SnapshotMismatch("not a fengkong feature snapshot")
        # Millions of small lists: the cyclic GC would run again and again while loading.
        was = gc.isenabled()
        gc.disable()
        try:
            saved, tables = pickle.loads(data[len(_MAGIC) :])
        finally:
            if was:
                gc.enable()
        if saved != fingerprint:
            raise SnapshotMismatch("the snapshot was taken with other feature definitions")
        self._tables.clear()
        self._tables.update(tables)


V = TypeVar("V")


class EntityStates(Protocol[V]):
    """One kind of per-entity state by entity key, for a stage with memory of its own
    (money flows per receiving account, document reuse per image).

    A stage reads an event's entities (``get`` / ``get_many``) before deciding and, once
    the event is committed, writes back the ones it changed (``put_many``): a remote
    backend then costs one round trip each way. A state handed out by ``get`` may be
    changed in place only when it is put back. ``items`` and ``delete_many`` serve
    expiry; ``bound`` caps the entities kept, the least recently seen dropped first.
    The in-memory default is :class:`MemoryStates`.
    """

    def get(self, key: str) -> V | None: ...

    def get_many(self, keys: Iterable[str]) -> dict[str, V]: ...

    def put_many(self, states: Mapping[str, V]) -> None: ...

    def delete_many(self, keys: Iterable[str]) -> None: ...

    def items(self) -> Iterator[tuple[str, V]]: ...

    def bound(self, cap: int, last_seen: Callable[[V], float]) -> int:
        """Keep at most ``cap`` entities (``cap <= 0``: no cap); returns how many went."""
        ...

    def __len__(self) -> int: ...


class MemoryStates(Generic[V]):
    """:class:`EntityStates` in process memory: one dict (pickled whole in snapshots)."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, V] | None = None) -> None:
        self.data: dict[str, V] = {} if data is None else data

    def get(self, key: str) -> V | None:
        return self.data.get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, V]:
        data = self.data
        return {k: data[k] for k in keys if k in data}

    def put_many(self, states: Mapping[str, V]) -> None:
        self.data.update(states)

    def delete_many(self, keys: Iterable[str]) -> None:
        data = self.data
        for key in keys:
            data.pop(key, None)

    def items(self) -> Iterator[tuple[str, V]]:
        return iter(list(self.data.items()))

    def bound(self, cap: int, last_seen: Callable[[V], float]) -> int:
        return evict_least_recent(self.data, cap, last_seen)

    def __len__(self) -> int:
        return len(self.data)


class StatesSession(Protocol):
    """The tables of one stage and the per-event cycle they share.

    ``table(kind, ttl_s)`` makes an :class:`EntityStates` of the session. Per event the
    stage calls :meth:`begin`, :meth:`prefetch` the ``(kind, key)`` entities it will read
    or change (one round trip on a remote backend), reads and changes them through the
    tables, then :meth:`save` with the event's id: ``False`` when another worker moved
    one of the changed entities meanwhile (the stage begins again and re-applies the
    event). ``shared``: the states are seen by every worker, so a stage adds only the
    events it decides itself (never those it follows from the log or rebuilds from).

    Sessions of several stages may share one cycle that the pipeline opens before the
    stages read and closes after their updates (``cycle``, see
    ``decisions.types.EventCycle``): :meth:`want` registers what a stage reads for an
    event, fetched with every other stage's at once; :meth:`defer` leaves the write to
    the cycle's close, with what to apply again after a conflict (:func:`apply_and_save`
    does both steps).
    """

    shared: bool

    def table(self, kind: str, ttl_s: float = 0.0) -> EntityStates[Any]: ...

    def want(self, wanted: Callable[[Event], Iterable[tuple[str, str]]]) -> None: ...

    def begin(self) -> None: ...

    def prefetch(self, wanted: Iterable[tuple[str, str]]) -> None: ...

    def defer(
        self,
        event_id: str,
        apply: Callable[[], None],
        refetch: Callable[[], Iterable[tuple[str, str]]] | None = None,
    ) -> bool: ...

    def save(self, event_id: str | None = None) -> bool: ...


class MemorySession:
    """:class:`StatesSession` in process memory: tables are :class:`MemoryStates`, the
    cycle costs nothing."""

    shared = False

    def table(self, kind: str, ttl_s: float = 0.0) -> MemoryStates[Any]:
        return MemoryStates()

    def want(self, wanted: Callable[[Event], Iterable[tuple[str, str]]]) -> None:
        return None

    def begin(self) -> None:
        return None

    def prefetch(self, wanted: Iterable[tuple[str, str]]) -> None:
        return None

    def defer(
        self,
        event_id: str,
        apply: Callable[[], None],
        refetch: Callable[[], Iterable[tuple[str, str]]] | None = None,
    ) -> bool:
        return False

    def save(self, event_id: str | None = None) -> bool:
        return True


def apply_and_save(
    session: StatesSession,
    event_id: str,
    apply: Callable[[], None],
    *,
    refetch: Callable[[], Iterable[tuple[str, str]]] | None = None,
    attempts: int = 16,
) -> None:
    """Apply one decided event to the session's states and save them; when another
    worker moved one meanwhile, begin again on fresh states (``refetch``: what to
    prefetch) and re-apply, so no update is lost. In memory the first save succeeds.
    In an open cycle the cycle writes (and re-applies) with the other stages' states."""
    apply()
    if session.defer(event_id, apply, refetch):
        return
    for attempt in range(attempts):
        if attempt:
            apply()
        if session.save(event_id):
            return
        session.begin()
        if refetch is not None:
            session.prefetch(refetch())
    raise RuntimeError(f"states of event {event_id!r}: too many conflicts with other workers")
