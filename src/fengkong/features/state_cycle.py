"""The per-event Redis cycle that every stage on Redis shares (``state.backend =
"redis"``): one fetch (a read script) of the event's entities before the stages read, one
checked Lua script writing their changes after the decision (see
:mod:`fengkong.features.state_redis` for the layout).
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
from collections.abc import Callable, Iterable
from typing import Any

import redis
from redis.exceptions import NoScriptError

from fengkong.events import Event

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

# KEYS: entity hashes; the reply: each one's version and state (nil: none), flat. One
# command for all of them: packing and parsing a command per entity cost the client more.
_READ = """
local out = {}
for i = 1, #KEYS do
  local r = redis.call('HMGET', KEYS[i], 'v', 's')
  out[2 * i - 1] = r[1]
  out[2 * i] = r[2]
end
return out
"""

# How long an event id stays claimed: covers events in flight at once on several
# workers (a retry after the commit is answered from the event store).
CLAIM_TTL_S = 3600.0


class StateTampered(ValueError):
    """A state in Redis whose authentication tag does not match."""


def pack_state(secret: bytes, state: Any) -> bytes:
    body = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    return hmac.digest(secret, body, hashlib.sha256) + body


def unpack_state(secret: bytes, blob: bytes) -> Any:
    tag, body = blob[:_MAC], blob[_MAC:]
    if not hmac.compare_digest(tag, hmac.digest(secret, body, hashlib.sha256)):
        raise StateTampered("an entity state in Redis failed its authentication check")
    return pickle.loads(body)


# What the cycle's cache holds for an entity Redis has not got.
ABSENT: Any = object()

# Writes of one event retried against concurrent workers before giving up.
SAVE_ATTEMPTS = 16

Redo = tuple[Callable[[], None], Callable[[], Iterable[str]] | None]


class SharedCycle:
    """The Redis traffic of one event, for every stage whose states are on Redis.

    :meth:`open_event` (the pipeline, before any stage reads) fetches the entities each
    stage said it wants for the event (:meth:`want`), all of them in one round trip (one
    read script); the stages then read from the cache and change entities locally
    (``put``). :meth:`close_event` (after every stage's update) writes all the changed
    entities with one checked script, which claims the event id once for all of them:
    one write round trip. When another worker moved one of them meanwhile, the cache is fetched
    again (one round trip for every stage's entities) and each stage's change is applied
    again (the ``redo`` it left with :meth:`defer`), so no update is lost. Given the
    event decided next (``following``, the next of a unit), the write carries its fetch
    in the same pipeline, behind the script: a unit of n events costs n + 1 round trips.

    Outside an open cycle (a stage used alone, tests, tooling) nothing is deferred: each
    session fetches when asked and writes when saved.
    """

    def __init__(
        self, client: redis.Redis, secret: bytes, claims: str, claim_ttl_s: float = CLAIM_TTL_S
    ) -> None:
        self.client = client
        self.secret = secret
        self.claims = claims
        self.claim_ttl_s = claim_ttl_s
        self.cache: dict[str, tuple[str, Any]] = {}
        self.dirty: dict[str, tuple[float, Any]] = {}
        self.held = False
        self._wanted: list[Callable[[Event], Iterable[str]]] = []
        self._redo: list[Redo] = []
        # The event whose entities the last write fetched on its way (see close_event).
        self._ahead: Event | None = None
        self._cas = client.register_script(_CAS)
        self._read = client.register_script(_READ)
        self.round_trips = 0
        self.conflicts = 0
        self.duplicates = 0

    def want(self, names_of: Callable[[Event], Iterable[str]]) -> None:
        """Register what a stage reads for an event: fetched at :meth:`open_event`."""
        self._wanted.append(names_of)

    def reset(self) -> None:
        self.cache.clear()
        self.dirty.clear()
        self._redo.clear()
        self._ahead = None

    def _names(self, event: Event) -> list[str]:
        return [name for names_of in self._wanted for name in names_of(event)]

    def open_event(self, event: Event) -> None:
        """Begin ``event``: fetch every stage's entities of it in one round trip (none
        when the last event's write fetched them already)."""
        if self._ahead is not event:
            self.reset()
        self._ahead = None
        self._redo.clear()
        self.held = True
        self.fetch(self._names(event))

    def defer(self, redo: Redo) -> bool:
        """In an open cycle, keep a stage's change to apply again after a conflict (its
        write waits for :meth:`close_event`); ``False`` outside one (save now)."""
        if self.held:
            self._redo.append(redo)
        return self.held

    def close_event(self, event_id: str, following: Event | None = None) -> None:
        """Write every stage's changed entities of ``event_id`` in one script; on a
        conflict fetch them again, apply each stage's change again and retry.

        ``following``: the event to be decided next (the next of a unit), whose
        entities are then fetched in the same round trip, after the script (so they
        include this event's writes): one round trip per event instead of two.
        """
        if not self.held:
            return
        try:
            for attempt in range(SAVE_ATTEMPTS):
                ahead = following if attempt == 0 and self.dirty else None
                if self.write(event_id, ahead) != 0:
                    return
                redo = list(self._redo)  # write() dropped the cache and the changes
                self.fetch([n for _, names in redo if names is not None for n in names()])
                for apply, _ in redo:
                    apply()
            raise RuntimeError(f"states of event {event_id!r}: too many conflicts with workers")
        finally:
            self.held = False
            self._redo.clear()
            self.dirty.clear()
            if self._ahead is None:
                self.cache.clear()

    def fetch(self, names: Iterable[str]) -> None:
        """Fetch the entities of ``names`` not cached yet, in one round trip."""
        missing = [n for n in dict.fromkeys(names) if n not in self.cache]
        if not missing:
            return
        self.round_trips += 1
        self._cache_replies(missing, self._read(keys=missing))

    def _cache_replies(self, names: list[str], flat: list[Any]) -> None:
        """Cache what the read script returned for ``names``: (version, state) each."""
        secret, cache = self.secret, self.cache
        for name, version, blob in zip(names, flat[0::2], flat[1::2], strict=True):
            state = ABSENT if blob is None else unpack_state(secret, blob)
            cache[name] = ("" if version is None else version.decode(), state)

    def write(self, event_id: str | None, following: Event | None = None) -> int:
        """The changed entities, if none moved since fetched: 1 written (or nothing to
        write), 0 a version moved (nothing written), 2 the event was claimed before
        (a duplicate: nothing written). The changes are dropped either way. With
        ``following``, its entities are fetched behind the script when it wrote."""
        if not self.dirty:
            return 1
        claim = "" if event_id is None else f"{self.claims}:seen:{event_id}"
        keys: list[str] = [claim]
        args: list[Any] = [int(self.claim_ttl_s * 1000)]
        for name, (ttl_s, state) in self.dirty.items():
            keys.append(name)
            args += [int(ttl_s * 1000), self.cache[name][0], pack_state(self.secret, state)]
        self.cache.clear()
        self.dirty.clear()
        if following is None:
            self.round_trips += 1
            done = int(self._cas(keys=keys, args=args))
        else:
            done = self._write_and_fetch(keys, args, following)
        self.conflicts += done == 0
        self.duplicates += done == 2
        return done

    def _write_and_fetch(self, keys: list[str], args: list[Any], following: Event) -> int:
        names = list(dict.fromkeys(self._names(following)))
        pipe = self.client.pipeline(transaction=False)
        pipe.evalsha(self._cas.sha, len(keys), *keys, *args)
        if names:
            pipe.evalsha(self._read.sha, len(names), *names)
        replies = pipe.execute(raise_on_error=False)
        self.round_trips += 1
        if isinstance(replies[0], NoScriptError):  # not loaded yet: load it, write alone
            self.round_trips += 1
            return int(self._cas(keys=keys, args=args))
        if isinstance(replies[0], Exception):
            raise replies[0]
        done = int(replies[0])
        # Not refused: what was read behind the script is current (a read refused as
        # NOSCRIPT is left to the next event's open, which loads the script).
        if done != 0 and names and not isinstance(replies[1], NoScriptError):
            if isinstance(replies[1], Exception):
                raise replies[1]
            self._cache_replies(names, replies[1])
            self._ahead = following
        return done
