"""Feature state on Redis (``state.backend = "redis"``): one truth for N workers.

Each entity's state (the same ``[last_ts, slot, ...]`` list the in-memory backend
keeps: time-bucketed counters and sums, exact distinct sets capped at
``max_distinct``, last-seen values) is one Redis hash ``{v: version, s: state}`` under
``<namespace>:<kind>:<key>``, expiring ``ttl`` after its last write (the longest window
of that entity kind), so Redis drops what no window can see any more.

Per event, for every stage on Redis together (the features engine's
:class:`RedisState`, the flows' and document reuse's :class:`RedisSession` tables, all
on one :class:`SharedCycle`): before any stage reads, one round trip (a read script) fetches
the entities each stage said it wants for the event; the stages compute and change
their states locally; after the decision the changes are held (packed, and kept in an
overlay the next events of this process read first) until the decision is committed to
the log; then one Lua script writes the committed events' changes, in order, checking
every version first: Redis never counts an event whose commit failed
(``Pipeline.publish``, ``Pipeline.settle``). A version moved by another worker
(concurrent events of one entity) writes nothing from that event on: the cycle fetches
the held events' entities again (one round trip), every stage applies each held event
again, and the script runs again, so no update is lost; the decision itself was
computed on the state before the other worker's event (counted in ``conflicts``). Two
round trips per event decided alone, n + 1 for a unit of n events decided together
(each reads the ones before it from the overlay; one write once committed); a write
committed by the time the next event opens rides in front of that event's fetch, in
the same pipeline. Plus one per hop where a stage's next entities depend on what it
read (the trading circle of the flows stage: its members are known only from the
account's partners; a script cannot walk them, see below).

The same script claims each event id it writes (``<claims>:seen:<event_id>``, kept
``claim_ttl_s``), once for all the stages: a write sent again (its reply lost) finds
the claims and writes nothing (counted in ``duplicates``), so a committed event is
counted once. A duplicate arriving at two workers is committed by one of them only
(the store's unique constraint): the other's changes are dropped with its failed
commit. A worker killed between its commit and its write leaves committed events that
no claim covers: the state repair (:mod:`fengkong.features.state_repair`) finds them
and counts them again, through the same claiming script.

States are pickles, authenticated with HMAC-SHA256 under a key of this deployment: a
state that fails the check (written by anyone else) is refused, never unpickled. That
is also why the circle's next hop is not walked inside Redis: a script cannot read the
pickled states it would walk.

A stage's session used alone (tests, tooling) has a cycle of its own: it fetches when
asked and writes when saved, the same checks and claim per stage.
One Redis node (or a cluster without cross-slot scripts) is assumed: one event's keys
go to one script.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

import redis

from fengkong.events import Event
from fengkong.features.bounded import evict_least_recent
from fengkong.features.state import EntityState, SnapshotMismatch
from fengkong.features.state_cycle import (
    ABSENT,
    CLAIM_TTL_S,
    SharedCycle,
    StateTampered,
    pack_state,
    unpack_state,
)

__all__ = [
    "CLAIM_TTL_S",
    "RedisSession",
    "RedisState",
    "RedisStates",
    "SharedCycle",
    "StateTampered",
]

V = TypeVar("V")

_MAGIC = b"fengkong-features-redis-v1\n"

# The root of a deployment's keys: ``fk:f:`` features, ``fk:s:<stage>:`` a stage's own.
STATE_NAMESPACE = "fk"


class RedisSession:
    """:class:`~fengkong.features.state.StatesSession` on Redis: one stage's tables
    (``<namespace>:<kind>:<key>``) on a :class:`SharedCycle`.

    Alone (``from_url``), the session has a cycle of its own: :meth:`prefetch` fetches,
    :meth:`save` writes the changed entities with the checked script (all or none, only
    if no version moved) and claims the event id, so a duplicate decided by two workers
    at once is added once. Made with :meth:`share`, several stages' sessions share one
    cycle, which the pipeline opens before their reads and closes after their updates:
    one fetch and one write per event for all of them. Reads of entities not fetched yet
    cost a round trip each batch (``get_many``), so a stage says what it needs
    (:meth:`want`, :meth:`prefetch`).
    """

    shared = True

    def __init__(
        self,
        client: redis.Redis,
        secret: bytes,
        *,
        namespace: str = "fk:s",
        claim_ttl_s: float = CLAIM_TTL_S,
        cycle: SharedCycle | None = None,
    ) -> None:
        self.client = client
        self._secret = secret
        self.namespace = namespace
        self.cycle = cycle or SharedCycle(client, secret, namespace, claim_ttl_s)

    @classmethod
    def from_url(cls, url: str, secret: bytes, **options: Any) -> RedisSession:
        return cls(redis.Redis.from_url(url), secret, **options)

    def share(self, namespace: str) -> RedisSession:
        """A session of another stage under ``namespace``, on this session's cycle."""
        return RedisSession(self.client, self._secret, namespace=namespace, cycle=self.cycle)

    def features(self) -> RedisSession:
        """The features engine's session on this cycle: keys ``<namespace>:f:...``."""
        return self.share(f"{self.namespace}:f")

    def stage(self, name: str) -> RedisSession:
        """Stage ``name``'s session (flows, documents) on this cycle:
        keys ``<namespace>:s:<name>:...``."""
        return self.share(f"{self.namespace}:s:{name}")

    @property
    def round_trips(self) -> int:
        return self.cycle.round_trips

    @property
    def conflicts(self) -> int:
        return self.cycle.conflicts

    @property
    def duplicates(self) -> int:
        return self.cycle.duplicates

    def name(self, kind: str, key: str) -> str:
        return f"{self.namespace}:{kind}:{key}"

    def table(self, kind: str, ttl_s: float = 0.0) -> RedisStates[Any]:
        return RedisStates(
            self.client, self._secret, kind, namespace=self.namespace, ttl_s=ttl_s, session=self
        )

    def want(self, wanted: Callable[[Event], Iterable[tuple[str, str]]]) -> None:
        """The ``(kind, key)`` entities this stage reads for an event: fetched with the
        other stages' when the cycle opens."""
        self.cycle.want(lambda event: [self.name(k, key) for k, key in wanted(event)])

    def begin(self) -> None:
        """Forget the entities of the last event (in an open cycle: kept for the others)."""
        if not self.cycle.held:
            self.cycle.reset()

    def prefetch(self, wanted: Iterable[tuple[str, str]]) -> None:
        """Fetch the ``(kind, key)`` entities not cached yet, in one round trip."""
        self.cycle.fetch([self.name(kind, key) for kind, key in wanted])

    def fetch(self, names: Iterable[str]) -> None:
        self.cycle.fetch(names)

    def cached(self, names: list[str]) -> list[Any]:
        """The states of ``names`` (``ABSENT`` for those Redis has not got)."""
        cycle = self.cycle
        cycle.fetch(names)
        return [cycle.cache[n][1] for n in names]

    def put(self, names_states: Mapping[str, tuple[float, Any]]) -> None:
        """Change entities locally (written by :meth:`save` or the cycle); unread ones
        are fetched first, for the version the write is checked against."""
        cycle = self.cycle
        cycle.fetch(names_states)
        for name, (ttl_s, state) in names_states.items():
            cycle.cache[name] = (cycle.cache[name][0], state)
            cycle.dirty[name] = (ttl_s, state)

    def forget(self, names: Iterable[str]) -> None:
        for name in names:
            self.cycle.cache.pop(name, None)
            self.cycle.dirty.pop(name, None)

    def defer(
        self,
        event_id: str,
        apply: Callable[[], None],
        refetch: Callable[[], Iterable[tuple[str, str]]] | None = None,
    ) -> bool:
        """In an open cycle: leave the event's write (and, after a conflict, ``apply``
        again on the states of ``refetch``) to the cycle. ``False`` outside one."""
        names = None if refetch is None else lambda: [self.name(k, key) for k, key in refetch()]
        return self.cycle.defer((apply, names))

    def save(self, event_id: str | None = None) -> bool:
        """Write the changed entities if none moved since fetched; ``False`` if one did
        (the cache is dropped: the caller begins again). ``event_id`` is claimed in the
        same script; an id claimed before (a duplicate) writes nothing and is ``True``.
        In an open cycle the write waits for its close (``True``)."""
        if self.cycle.held:
            return True
        done = self.cycle.write(event_id)
        self.cycle.reset()
        return done != 0

    def close(self) -> None:
        self.client.close()


class RedisState:
    """A :class:`~fengkong.features.state.StateBackend` on Redis, shared by workers.

    The compiled step binds plain local tables; :meth:`load` fills them with the event's
    entities from the session's cache (fetched then if the cycle did not already) and
    :meth:`stage` hands them back to the session as changed; :meth:`save` also writes
    them (alone) or leaves that to the open cycle.
    """

    shared = True

    def __init__(
        self,
        client: redis.Redis,
        secret: bytes,
        *,
        namespace: str = "fk:f",
        ttl_s: Mapping[str, float] | None = None,
        session: RedisSession | None = None,
    ) -> None:
        self.client = client
        self._secret = secret
        self.session = session or RedisSession(client, secret, namespace=namespace)
        self.namespace = self.session.namespace
        self.ttl_s: dict[str, float] = dict(ttl_s or {})
        self._tables: dict[str, dict[str, EntityState]] = {}

    @classmethod
    def from_url(cls, url: str, secret: bytes, **options: Any) -> RedisState:
        return cls(redis.Redis.from_url(url), secret, **options)

    @classmethod
    def on(cls, session: RedisSession, **options: Any) -> RedisState:
        """The state under ``session``'s namespace, on its cycle."""
        return cls(session.client, session._secret, session=session, **options)

    @property
    def round_trips(self) -> int:
        return self.session.round_trips

    @property
    def conflicts(self) -> int:
        return self.session.conflicts

    @property
    def duplicates(self) -> int:
        return self.session.duplicates

    @property
    def claim_ttl_s(self) -> float:
        return self.session.cycle.claim_ttl_s

    @claim_ttl_s.setter
    def claim_ttl_s(self, value: float) -> None:
        self.session.cycle.claim_ttl_s = value

    def _key(self, kind: str, key: str) -> str:
        return f"{self.namespace}:{kind}:{key}"

    # -- the per-event cycle --------------------------------------------------------
    def table(self, kind: str) -> dict[str, EntityState]:
        """The local table of ``kind``: the entities of the event being decided."""
        return self._tables.setdefault(kind, {})

    def load(self, wanted: Iterable[tuple[str, str]], *, fresh: bool = True) -> None:
        """Fill the local tables with the ``(kind, key)`` states (one round trip, none
        when the open cycle fetched them already). ``fresh``: outside a cycle, fetch
        again what is cached (``False``: the caller has just fetched them)."""
        for table in self._tables.values():
            table.clear()
        wanted = list(dict.fromkeys(wanted))
        if not wanted:
            return
        if fresh:
            self.session.begin()  # alone: each load starts from what Redis has now
        states = self.session.cached([self._key(kind, key) for kind, key in wanted])
        for (kind, key), state in zip(wanted, states, strict=True):
            if state is not ABSENT:
                self.table(kind)[key] = state

    def stage(self) -> None:
        """Hand the local states (as the step left them) to the session, changed."""
        self.session.put(
            {
                self._key(kind, key): (self.ttl_s.get(kind, 0.0), state)
                for kind, table in self._tables.items()
                for key, state in table.items()
            }
        )
        for table in self._tables.values():
            table.clear()

    def save(self, event_id: str | None = None) -> bool:
        """Write the local states back if no other worker moved them; ``False`` if one did.

        ``event_id``: the event these states add, claimed in the same script; when it
        was claimed before (a duplicate another worker applied) nothing is written and
        the answer is ``True``. In an open cycle the write waits for its close.
        """
        self.stage()
        return self.session.save(event_id)

    # -- several entities at once (tooling, tests) ------------------------------------
    def get_many(self, kind: str, keys: Iterable[str]) -> dict[str, EntityState]:
        keys = list(keys)
        if not keys:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hget(self._key(kind, key), "s")
        return {
            k: unpack_state(self._secret, b) for k, b in zip(keys, pipe.execute(), strict=True) if b
        }

    def put_many(self, kind: str, states: Mapping[str, EntityState]) -> None:
        ttl_ms = int(self.ttl_s.get(kind, 0) * 1000)
        pipe = self.client.pipeline(transaction=True)
        for key, state in states.items():
            name = self._key(kind, key)
            pipe.hset(name, mapping={"s": pack_state(self._secret, state)})
            pipe.hincrby(name, "v", 1)
            if ttl_ms > 0:
                pipe.pexpire(name, ttl_ms)
        pipe.execute()

    def delete_many(self, kind: str, keys: Iterable[str]) -> None:
        # Redis expires entities itself; an explicit delete (tooling) removes them now.
        keys = list(keys)
        for k in keys:
            self.table(kind).pop(k, None)
        names = [self._key(kind, k) for k in keys]
        self.session.forget(names)
        if names:
            self.client.delete(*names)

    def keys(self, kind: str) -> list[str]:
        """The entities held locally (Redis's own expiry bounds the rest)."""
        return list(self.table(kind))

    def count(self, kind: str) -> int:
        """Entities of ``kind`` in Redis (a scan: tooling, not the hot path)."""
        return sum(1 for _ in self.client.scan_iter(match=self._key(kind, "*"), count=1000))

    # -- snapshots: the state lives in Redis, a snapshot carries only its fingerprint ----
    def dumps(self, fingerprint: str) -> bytes:
        return _MAGIC + fingerprint.encode()

    def loads(self, data: bytes, fingerprint: str) -> None:
        if data != _MAGIC + fingerprint.encode():
            raise SnapshotMismatch("not a snapshot of this Redis feature state")
        for table in self._tables.values():
            table.clear()
        self.session.begin()

    def close(self) -> None:
        self.client.close()


class RedisStates(Generic[V]):
    """:class:`~fengkong.features.state.EntityStates` of one ``kind`` on Redis.

    Each entity is one hash ``<namespace>:<kind>:<key>`` ``{v: version, s: state}``
    (``s``: HMAC tag + pickle, refused when the tag fails), expiring ``ttl_s`` after its
    last write (the stage's window: Redis drops what the window no longer sees).

    In a :class:`RedisSession` (how stages use it) reads go through the session's cache
    and writes wait for :meth:`RedisSession.save`. Alone (tooling, tests) ``get_many``
    is one pipelined round trip and ``put_many`` one transaction, the last write of an
    entity winning. ``delete_many`` is immediate either way; ``items``, ``bound`` and
    ``len`` scan the kind's keys: expiry and tooling, not the hot path.
    """

    def __init__(
        self,
        client: redis.Redis,
        secret: bytes,
        kind: str,
        *,
        namespace: str = "fk:s",
        ttl_s: float = 0.0,
        session: RedisSession | None = None,
    ) -> None:
        self.client = client
        self._secret = secret
        self.prefix = f"{namespace}:{kind}:"
        self.ttl_s = ttl_s
        self.session = session
        self.round_trips = 0

    @classmethod
    def from_url(cls, url: str, secret: bytes, kind: str, **options: Any) -> RedisStates[Any]:
        return cls(redis.Redis.from_url(url), secret, kind, **options)

    def get(self, key: str) -> V | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, V]:
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        names = [self.prefix + k for k in keys]
        if self.session is not None:
            states = self.session.cached(names)
            return {k: s for k, s in zip(keys, states, strict=True) if s is not ABSENT}
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.hget(name, "s")
        self.round_trips += 1
        blobs = pipe.execute()
        return {
            k: unpack_state(self._secret, b)
            for k, b in zip(keys, blobs, strict=True)
            if b is not None
        }

    def put_many(self, states: Mapping[str, V]) -> None:
        if not states:
            return
        if self.session is not None:
            self.session.put({self.prefix + k: (self.ttl_s, s) for k, s in states.items()})
            return
        ttl_ms = int(self.ttl_s * 1000)
        pipe = self.client.pipeline(transaction=True)
        for key, state in states.items():
            name = self.prefix + key
            pipe.hset(name, "s", pack_state(self._secret, state))
            pipe.hincrby(name, "v", 1)
            if ttl_ms > 0:
                pipe.pexpire(name, ttl_ms)
        self.round_trips += 1
        pipe.execute()

    def delete_many(self, keys: Iterable[str]) -> None:
        names = [self.prefix + k for k in keys]
        if not names:
            return
        if self.session is not None:
            self.session.forget(names)
        self.round_trips += 1
        self.client.delete(*names)

    def _names(self) -> list[str]:
        match = self.prefix.replace("[", "\\[").replace("*", "\\*").replace("?", "\\?") + "*"
        found = self.client.scan_iter(match=match, count=1000)
        return [n.decode() if isinstance(n, bytes) else str(n) for n in found]

    def items(self) -> Iterator[tuple[str, V]]:
        names = self._names()
        cut = len(self.prefix)
        for start in range(0, len(names), 1000):
            chunk = names[start : start + 1000]
            pipe = self.client.pipeline(transaction=False)
            for name in chunk:
                pipe.hget(name, "s")
            for name, blob in zip(chunk, pipe.execute(), strict=True):
                if blob is not None:  # expired between the scan and the read
                    yield name[cut:], unpack_state(self._secret, blob)

    def bound(self, cap: int, last_seen: Callable[[V], float]) -> int:
        if cap <= 0 or len(self) <= cap:
            return 0
        states = dict(self.items())
        before = set(states)
        evict_least_recent(states, cap, last_seen)
        self.delete_many(before - states.keys())
        return len(before) - len(states)

    def __len__(self) -> int:
        return len(self._names())
