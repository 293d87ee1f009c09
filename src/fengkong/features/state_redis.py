"""Feature state on Redis (``state.backend = "redis"``): one truth for N workers.

Each entity's state (the same ``[last_ts, slot, ...]`` list the in-memory backend
keeps: time-bucketed counters and sums, exact distinct sets capped at
``max_distinct``, last-seen values) is one Redis hash ``{v: version, s: state}`` under
``<namespace>:<kind>:<key>``, expiring ``ttl`` after its last write (the longest window
of that entity kind), so Redis drops what no window can see any more.

Per event: :meth:`RedisState.load` fetches the states of the event's entities in one
pipelined round trip into the local tables the compiled step binds; the step computes
and adds the event locally; after the decision :meth:`RedisState.save` writes them
back with one Lua script that checks every version first and writes all or none. A
version moved by another worker (concurrent events of one entity) makes ``save``
return ``False``: the caller loads again, adds the event again and retries, so no
update is lost; the decision itself was computed on the state before the other
worker's event (counted in :attr:`RedisState.conflicts`). Two round trips per event.

The same script claims the event id (``<namespace>:seen:<event_id>``, kept
``claim_ttl_s``): a duplicate of one event decided by two workers at the same instant
is added to the state once; the second ``save`` writes nothing (counted in
:attr:`RedisState.duplicates`). A later retry never gets this far: it is answered from
the event store.

States are pickles, authenticated with HMAC-SHA256 under a key of this deployment: a
state that fails the check (written by anyone else) is refused, never unpickled.

:class:`RedisSession` and its :class:`RedisStates` tables do the same for a stage's own
entity states (money flows, document reuse): hashes ``{v, s}`` under
``<namespace>:<kind>:<key>``, fetched per event in one pipelined round trip, the changed
ones written back after the decision by the same checked script, the event id claimed
per stage (``<namespace>:seen:<event_id>``).
One Redis node (or a cluster without cross-slot scripts) is assumed: one event's keys
go to one script.
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

import redis

from fengkong.features.bounded import evict_least_recent
from fengkong.features.state import EntityState, SnapshotMismatch

V = TypeVar("V")

_MAGIC = b"fengkong-features-redis-v1\n"
_MAC = 32

# KEYS[1]: the event's claim ("" : none), then the entity hashes. ARGV[1]: the claim's
# ttl in ms, then per entity (ttl_ms, expected version or "", state).
# 1: written; 0: a version moved (nothing written); 2: the event was applied already.
_CAS = """
local claim = KEYS[1] ~= ''
if claim and redis.call('EXISTS', KEYS[1]) == 1 then return 2 end
for i = 2, #KEYS do
  local v = redis.call('HGET', KEYS[i], 'v')
  if (v or '') ~= ARGV[(i - 2) * 3 + 3] then return 0 end
end
if claim then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
for i = 2, #KEYS do
  local b = (i - 2) * 3 + 1
  local v = ARGV[b + 2]
  redis.call('HSET', KEYS[i], 'v', v == '' and 1 or tonumber(v) + 1, 's', ARGV[b + 3])
  local ttl = tonumber(ARGV[b + 1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return 1
"""

# How long an event id stays claimed: covers events in flight at once on several
# workers (a retry after the commit is answered from the event store).
CLAIM_TTL_S = 3600.0


class StateTampered(ValueError):
    """A state in Redis whose authentication tag does not match."""


def _pack(secret: bytes, state: Any) -> bytes:
    body = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    return hmac.digest(secret, body, hashlib.sha256) + body


def _unpack(secret: bytes, blob: bytes) -> Any:
    tag, body = blob[:_MAC], blob[_MAC:]
    if not hmac.compare_digest(tag, hmac.digest(secret, body, hashlib.sha256)):
        raise StateTampered("an entity state in Redis failed its authentication check")
    return pickle.loads(body)


class RedisState:
    """A :class:`~fengkong.features.state.StateBackend` on Redis, shared by workers."""

    shared = True

    def __init__(
        self,
        client: redis.Redis,
        secret: bytes,
        *,
        namespace: str = "fk:f",
        ttl_s: Mapping[str, float] | None = None,
    ) -> None:
        self.client = client
        self._secret = secret
        self.namespace = namespace
        self.ttl_s: dict[str, float] = dict(ttl_s or {})
        self._tables: dict[str, dict[str, EntityState]] = {}
        self._versions: dict[tuple[str, str], str] = {}
        self._cas = client.register_script(_CAS)
        self.claim_ttl_s = CLAIM_TTL_S
        self.round_trips = 0
        self.conflicts = 0
        self.duplicates = 0

    @classmethod
    def from_url(cls, url: str, secret: bytes, **options: Any) -> RedisState:
        return cls(redis.Redis.from_url(url), secret, **options)

    def _key(self, kind: str, key: str) -> str:
        return f"{self.namespace}:{kind}:{key}"

    # -- the per-event cycle --------------------------------------------------------
    def table(self, kind: str) -> dict[str, EntityState]:
        """The local table of ``kind``: the entities of the event being decided."""
        return self._tables.setdefault(kind, {})

    def load(self, wanted: Iterable[tuple[str, str]]) -> None:
        """Fetch the ``(kind, key)`` states into the local tables (one round trip)."""
        for table in self._tables.values():
            table.clear()
        self._versions.clear()
        wanted = list(dict.fromkeys(wanted))
        if not wanted:
            return
        pipe = self.client.pipeline(transaction=False)
        for kind, key in wanted:
            pipe.hmget(self._key(kind, key), "v", "s")
        replies = pipe.execute()
        self.round_trips += 1
        for (kind, key), (version, blob) in zip(wanted, replies, strict=True):
            self._versions[(kind, key)] = "" if version is None else version.decode()
            if blob is not None:
                self.table(kind)[key] = _unpack(self._secret, blob)

    def save(self, event_id: str | None = None) -> bool:
        """Write the local states back if no other worker moved them; ``False`` if one did.

        ``event_id``: the event these states add, claimed in the same script; when it
        was claimed before (a duplicate another worker applied) nothing is written and
        the answer is ``True``.
        """
        claim = "" if event_id is None else f"{self.namespace}:seen:{event_id}"
        keys: list[str] = [claim]
        args: list[Any] = [int(self.claim_ttl_s * 1000)]
        for kind, table in self._tables.items():
            ttl_ms = int(self.ttl_s.get(kind, 0) * 1000)
            for key, state in table.items():
                keys.append(self._key(kind, key))
                args += [ttl_ms, self._versions.get((kind, key), ""), _pack(self._secret, state)]
        if len(keys) == 1:
            return True
        self.round_trips += 1
        done = int(self._cas(keys=keys, args=args))
        if done in (1, 2):
            self.duplicates += done == 2
            for table in self._tables.values():
                table.clear()
            self._versions.clear()
            return True
        self.conflicts += 1
        return False

    # -- several entities at once (tooling, tests) ------------------------------------
    def get_many(self, kind: str, keys: Iterable[str]) -> dict[str, EntityState]:
        keys = list(keys)
        if not keys:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hget(self._key(kind, key), "s")
        return {k: _unpack(self._secret, b) for k, b in zip(keys, pipe.execute(), strict=True) if b}

    def put_many(self, kind: str, states: Mapping[str, EntityState]) -> None:
        ttl_ms = int(self.ttl_s.get(kind, 0) * 1000)
        pipe = self.client.pipeline(transaction=True)
        for key, state in states.items():
            name = self._key(kind, key)
            pipe.hset(name, mapping={"s": _pack(self._secret, state)})
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
        self._versions.clear()

    def close(self) -> None:
        self.client.close()


# What the session cache holds for an entity Redis has not got.
_ABSENT: Any = object()


class RedisSession:
    """:class:`~fengkong.features.state.StatesSession` on Redis: one stage's tables and
    the per-event cycle (fetch, change locally, write back checked).

    The cache holds the entities fetched since :meth:`begin` with the version each had;
    :meth:`save` writes the changed ones with the script of :class:`RedisState` (all or
    none, only if no version moved) and claims the event id, so a duplicate decided by
    two workers at once is added once. Reads of entities not prefetched cost a round
    trip each batch (``get_many``), so a stage prefetches what it knows it needs.
    """

    shared = True

    def __init__(
        self,
        client: redis.Redis,
        secret: bytes,
        *,
        namespace: str = "fk:s",
        claim_ttl_s: float = CLAIM_TTL_S,
    ) -> None:
        self.client = client
        self._secret = secret
        self.namespace = namespace
        self.claim_ttl_s = claim_ttl_s
        self._tables: dict[str, RedisStates[Any]] = {}
        self._cache: dict[str, tuple[str, Any]] = {}
        self._dirty: dict[str, tuple[float, Any]] = {}
        self._cas = client.register_script(_CAS)
        self.round_trips = 0
        self.conflicts = 0
        self.duplicates = 0

    @classmethod
    def from_url(cls, url: str, secret: bytes, **options: Any) -> RedisSession:
        return cls(redis.Redis.from_url(url), secret, **options)

    def table(self, kind: str, ttl_s: float = 0.0) -> RedisStates[Any]:
        states: RedisStates[Any] = RedisStates(
            self.client, self._secret, kind, namespace=self.namespace, ttl_s=ttl_s, session=self
        )
        self._tables[kind] = states
        return states

    def begin(self) -> None:
        """Forget the entities of the last event (fetched or changed and not saved)."""
        self._cache.clear()
        self._dirty.clear()

    def prefetch(self, wanted: Iterable[tuple[str, str]]) -> None:
        """Fetch the ``(kind, key)`` entities not cached yet, in one round trip."""
        self.fetch([self._tables[kind].prefix + key for kind, key in wanted])

    def fetch(self, names: Iterable[str]) -> None:
        missing = [n for n in dict.fromkeys(names) if n not in self._cache]
        if not missing:
            return
        pipe = self.client.pipeline(transaction=False)
        for name in missing:
            pipe.hmget(name, "v", "s")
        replies = pipe.execute()
        self.round_trips += 1
        for name, (version, blob) in zip(missing, replies, strict=True):
            state = _ABSENT if blob is None else _unpack(self._secret, blob)
            self._cache[name] = ("" if version is None else version.decode(), state)

    def cached(self, names: list[str]) -> list[Any]:
        """The states of ``names`` (``_ABSENT`` for those Redis has not got)."""
        self.fetch(names)
        return [self._cache[n][1] for n in names]

    def put(self, names_states: Mapping[str, tuple[float, Any]]) -> None:
        """Change entities locally (written by :meth:`save`); unread ones are fetched
        first, for the version the write is checked against."""
        self.fetch(names_states)
        for name, (ttl_s, state) in names_states.items():
            self._cache[name] = (self._cache[name][0], state)
            self._dirty[name] = (ttl_s, state)

    def forget(self, names: Iterable[str]) -> None:
        for name in names:
            self._cache.pop(name, None)
            self._dirty.pop(name, None)

    def save(self, event_id: str | None = None) -> bool:
        """Write the changed entities if none moved since fetched; ``False`` if one did
        (the cache is dropped: the caller begins again). ``event_id`` is claimed in the
        same script; an id claimed before (a duplicate) writes nothing and is ``True``."""
        if not self._dirty:
            self.begin()
            return True
        claim = "" if event_id is None else f"{self.namespace}:seen:{event_id}"
        keys: list[str] = [claim]
        args: list[Any] = [int(self.claim_ttl_s * 1000)]
        for name, (ttl_s, state) in self._dirty.items():
            keys.append(name)
            args += [int(ttl_s * 1000), self._cache[name][0], _pack(self._secret, state)]
        self.round_trips += 1
        done = int(self._cas(keys=keys, args=args))
        self.begin()
        if done == 0:
            self.conflicts += 1
            return False
        self.duplicates += done == 2
        return True

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
            return {k: s for k, s in zip(keys, states, strict=True) if s is not _ABSENT}
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.hget(name, "s")
        self.round_trips += 1
        blobs = pipe.execute()
        return {
            k: _unpack(self._secret, b) for k, b in zip(keys, blobs, strict=True) if b is not None
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
            pipe.hset(name, "s", _pack(self._secret, state))
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
                    yield name[cut:], _unpack(self._secret, blob)

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
