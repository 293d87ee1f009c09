"""The per-event Redis cycle that every stage on Redis shares (``state.backend =
"redis"``): one fetch (a read script) of the event's entities before the stages read;
their changes are held, in decision order, until the decision is committed, then written
by one checked Lua script (see :mod:`fengkong.features.state_redis` for the layout).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import pickle
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis
from redis.exceptions import NoScriptError

from fengkong.events import Event

log = logging.getLogger(__name__)

_MAC = 32

# Several events' writes, in order. KEYS, per event: its claim ("": none), then its
# entity hashes. ARGV[1]: the claims' ttl in ms, ARGV[2]: the number of events; then per
# event its entity count and, per entity, (ttl_ms, expected version or "", state). The
# reply, per event: 1 written, 2 claimed before (nothing written), 0 a version moved
# (nothing written); the events after a 0 are not attempted (the reply ends there).
_WRITE = """
local k, a, out = 1, 3, {}
for e = 1, tonumber(ARGV[2]) do
  local n, claim, done = tonumber(ARGV[a]), KEYS[k], 1
  if claim ~= '' and redis.call('EXISTS', claim) == 1 then
    done = 2
  else
    for i = 1, n do
      local v = redis.call('HGET', KEYS[k + i], 'v')
      if (v or '') ~= ARGV[a + 3 * i - 1] then
        out[e] = 0
        return out
      end
    end
    if claim ~= '' then redis.call('SET', claim, '1', 'PX', ARGV[1]) end
    for i = 1, n do
      local v = ARGV[a + 3 * i - 1]
      redis.call('HSET', KEYS[k + i], 'v', v == '' and 1 or tonumber(v) + 1, 's', ARGV[a + 3 * i])
      local ttl = tonumber(ARGV[a + 3 * i - 2])
      if ttl > 0 then redis.call('PEXPIRE', KEYS[k + i], ttl) end
    end
  end
  out[e] = done
  k = k + 1 + n
  a = a + 1 + 3 * n
end
return out
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

# How long an event id stays claimed: covers a write sent again after its reply was
# lost (a retry of the request itself is answered from the event store).
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


def _next_version(version: str) -> str:
    """The version the write script gives a hash that had ``version``."""
    return "1" if version == "" else str(int(version) + 1)


# What the cycle's cache holds for an entity Redis has not got.
ABSENT: Any = object()

# Writes of one event retried against concurrent workers before giving up.
SAVE_ATTEMPTS = 16

Redo = tuple[Callable[[], None], Callable[[], Iterable[str]] | None]


@dataclass(eq=False)
class HeldWrite:
    """One decided event's changed entities (packed as they stood after it), held until
    its decision is committed. ``committed`` is set by whoever learns of the commit;
    ``written`` once Redis has the states (or had them: a claim found)."""

    seq: int
    event_id: str
    writes: dict[str, tuple[int, bytes]]
    redo: list[Redo]
    committed: bool = False
    written: bool = False

    def names(self) -> list[str]:
        """Every entity the event changes or, applied again, reads first."""
        again = [n for _, names in self.redo if names is not None for n in names()]
        return [*self.writes, *again]


@dataclass(eq=False)
class _Overlay:
    """An entity's state after the held events that change it: ``base``, the version
    in Redis the first of them was decided on; ``last``, the last one's ``seq``."""

    base: str
    state: Any
    last: int


@dataclass(eq=False)
class _Sent:
    """One write script's outcome and the read sent behind it (``None``: not read)."""

    done: list[int]
    read: list[Any] | None = None


class SharedCycle:
    """The Redis traffic of one event, for every stage whose states are on Redis.

    :meth:`open_event` (the pipeline, before any stage reads) fetches the entities each
    stage said it wants for the event (:meth:`want`), all in one round trip (one read
    script); the stages then read from the cache and change entities locally (``put``).
    :meth:`close_event` (after every stage's update) sends nothing: it packs the changed
    entities into a :class:`HeldWrite` and keeps their states in an overlay, which the
    next events' fetches read before Redis. Once the decision is committed
    (``committed``), :meth:`flush` writes the held events in order, each with its claim
    of the event id, in one script; the overlay entries are dropped as Redis takes
    them. So Redis never counts an event the log has not got: a decision that fails to
    commit is dropped with every held one after it (:meth:`settle`, after the engine
    learnt of the failure). The next event's :meth:`open_event` carries the committed
    events' write, its fetch behind it in the same pipeline: under load about one round
    trip per event.

    When another worker moved an entity meanwhile, the script writes nothing from that
    event on; the held events' entities are fetched again (one round trip), each held
    event is applied again on them in order (the ``redo`` each stage left with
    :meth:`defer`), and the write is sent again: no update is lost. A decision already
    committed stays as it was: only the counting of its event moves onto the newer
    states.

    Outside an open cycle (a stage used alone, tests, tooling) nothing is held: each
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
        self.pending: deque[HeldWrite] = deque()
        self.overlay: dict[str, _Overlay] = {}
        self._seq = 0
        self._wanted: list[Callable[[Event], Iterable[str]]] = []
        self._redo: list[Redo] = []
        self._write = client.register_script(_WRITE)
        self._read = client.register_script(_READ)
        self.round_trips = 0
        self.conflicts = 0
        self.duplicates = 0

    def want(self, names_of: Callable[[Event], Iterable[str]]) -> None:
        """Register what a stage reads for an event: fetched at :meth:`open_event`."""
        self._wanted.append(names_of)

    def reset(self) -> None:
        """Forget the entities of the last event (the held writes stay)."""
        self.cache.clear()
        self.dirty.clear()
        self._redo.clear()

    def _names(self, event: Event) -> list[str]:
        return [name for names_of in self._wanted for name in names_of(event)]

    def open_event(self, event: Event) -> None:
        """Begin ``event``: fetch every stage's entities of it in one round trip, behind
        the write of the events committed since the last write."""
        if self.held:  # the last event failed on its way: the overlay may hold its changes
            self._rebase()
        self.reset()
        self.held = True
        names = self._names(event)
        if self._committed():
            self._flush(names)
        else:
            self.fetch(names)

    def defer(self, redo: Redo) -> bool:
        """In an open cycle, keep a stage's change to apply again after a conflict (its
        write waits for the commit); ``False`` outside one (save now)."""
        if self.held:
            self._redo.append(redo)
        return self.held

    def close_event(self, event_id: str) -> HeldWrite | None:
        """End the event: hold its changed entities until its decision is committed
        (``None``: it changed nothing, or no cycle was open)."""
        if not self.held:
            return None
        try:
            if not self.dirty:
                return None
            self._seq += 1
            entry = HeldWrite(self._seq, event_id, self._packed(), list(self._redo))
            self._hold(entry)
            self.pending.append(entry)
            return entry
        finally:
            self.held = False
            self.reset()

    def flush(self) -> None:
        """Write the held events committed so far (in order, up to the first one not
        committed yet), one round trip; nothing when there are none."""
        if self._committed():
            self._flush(())

    def settle(self) -> None:
        """After a failed commit, once every commit in flight is known: write the held
        events that were committed and drop the others (their decisions are not in the
        log, so no state may count them), with the overlay."""
        try:
            self.flush()
        except Exception:
            lost = sum(1 for h in self.pending if h.committed)
            log.error("%d committed events not written to Redis: left to the state repair", lost)
            raise
        finally:
            self.pending.clear()
            self.overlay.clear()
            self.held = False
            self.reset()

    def fetch(self, names: Iterable[str]) -> None:
        """Cache the entities of ``names``: a held one from the overlay, the rest from
        Redis in one round trip."""
        missing = []
        for name in dict.fromkeys(names):
            if name in self.cache:
                continue
            held = self.overlay.get(name)
            if held is None:
                missing.append(name)
            else:
                self.cache[name] = (held.base, held.state)
        if missing:
            self.round_trips += 1
            self._cache_replies(missing, self._read(keys=missing))

    def _cache_replies(self, names: list[str], flat: list[Any]) -> None:
        """Cache what the read script returned for ``names``: (version, state) each."""
        secret, cache = self.secret, self.cache
        for name, version, blob in zip(names, flat[0::2], flat[1::2], strict=True):
            state = ABSENT if blob is None else unpack_state(secret, blob)
            cache[name] = ("" if version is None else version.decode(), state)

    def _packed(self) -> dict[str, tuple[int, bytes]]:
        secret = self.secret
        return {
            name: (int(ttl_s * 1000), pack_state(secret, state))
            for name, (ttl_s, state) in self.dirty.items()
        }

    def _hold(self, entry: HeldWrite) -> None:
        """Put the event's changed states in the overlay (based on the version its first
        held change was decided on)."""
        for name, (_, state) in self.dirty.items():
            held = self.overlay.get(name)
            base = held.base if held is not None else self.cache[name][0]
            self.overlay[name] = _Overlay(base, state, entry.seq)

    def _committed(self) -> list[HeldWrite]:
        """The held events from the first one up to the first not committed yet."""
        out = []
        for entry in self.pending:
            if not entry.committed:
                break
            out.append(entry)
        return out

    def _flush(self, following: Iterable[str]) -> None:
        """Write the committed held events; ``following``: the names the open event
        wants, read behind the write in the same round trip."""
        following = list(dict.fromkeys(following))
        for _ in range(SAVE_ATTEMPTS):
            ready = self._committed()
            if not ready:
                break
            last = ready[-1].seq
            # Behind the write: what is not held, or held only by the events written now.
            behind = [n for n in following if (h := self.overlay.get(n)) is None or h.last <= last]
            sent = self._send(ready, behind)
            if self._written(ready, sent.done):
                if sent.read is not None:
                    self._cache_replies(behind, sent.read)
                break
            self._rebase()
        else:
            raise RuntimeError("held states: too many conflicts with other workers")
        self.fetch(following)

    def _send(self, ready: list[HeldWrite], behind: list[str]) -> _Sent:
        """One round trip: the write script of ``ready``, the read of ``behind`` after it."""
        keys: list[str] = []
        args: list[Any] = [int(self.claim_ttl_s * 1000), len(ready)]
        versions: dict[str, str] = {}
        for entry in ready:
            keys.append(f"{self.claims}:seen:{entry.event_id}")
            args.append(len(entry.writes))
            for name, (ttl_ms, blob) in entry.writes.items():
                expected = versions.get(name, self.overlay[name].base)
                versions[name] = _next_version(expected)
                keys.append(name)
                args += [ttl_ms, expected, blob]
        self.round_trips += 1
        if not behind:
            return _Sent([int(d) for d in self._write(keys=keys, args=args)])
        pipe = self.client.pipeline(transaction=False)
        pipe.evalsha(self._write.sha, len(keys), *keys, *args)
        pipe.evalsha(self._read.sha, len(behind), *behind)
        replies = pipe.execute(raise_on_error=False)
        if isinstance(replies[0], NoScriptError):  # not loaded yet: load it, write alone
            self.round_trips += 1
            return _Sent([int(d) for d in self._write(keys=keys, args=args)])
        for reply in replies:
            if isinstance(reply, Exception) and not isinstance(reply, NoScriptError):
                raise reply
        # A read refused as NOSCRIPT is left to fetch(), which loads the script.
        read = None if isinstance(replies[1], NoScriptError) else replies[1]
        return _Sent([int(d) for d in replies[0]], read)

    def _written(self, ready: list[HeldWrite], done: list[int]) -> bool:
        """Take the script's reply: drop the events Redis has from the held ones, and
        the overlay entries no held event changes any more. ``False``: not all written
        as sent (a version moved, or a claim found): the rest must be applied again."""
        for entry, status in zip(ready, done, strict=False):
            if status == 0:
                break
            self.pending.popleft()
            entry.written = True
            self.duplicates += status == 2
            for name in entry.writes:
                held = self.overlay[name]
                held.base = _next_version(held.base)
                if held.last <= entry.seq:
                    del self.overlay[name]
        clean = len(done) == len(ready) and all(status == 1 for status in done)
        self.conflicts += 0 in done
        return clean

    def _rebase(self) -> None:
        """Fetch the held events' entities again from Redis and apply each held event
        again on them, in order: their states and the overlay move onto what the other
        workers wrote."""
        names = [name for entry in self.pending for name in entry.names()]
        held, self.held = self.held, True  # the stages' redo reads through the cache
        try:
            self.overlay.clear()
            self.reset()
            self.fetch(names)
            for entry in self.pending:
                self.dirty.clear()
                for apply, _ in entry.redo:
                    apply()
                entry.writes = self._packed()
                self._hold(entry)
        finally:
            self.held = held
            self.reset()

    def write(self, event_id: str | None) -> int:
        """Outside an open cycle: the changed entities, if none moved since fetched:
        1 written (or nothing to write), 0 a version moved (nothing written), 2 the event
        was claimed before (a duplicate: nothing written). The changes are dropped
        either way."""
        if not self.dirty:
            return 1
        claim = "" if event_id is None else f"{self.claims}:seen:{event_id}"
        keys: list[str] = [claim]
        args: list[Any] = [int(self.claim_ttl_s * 1000), 1, len(self.dirty)]
        for name, (ttl_ms, blob) in self._packed().items():
            keys.append(name)
            args += [ttl_ms, self.cache[name][0], blob]
        self.cache.clear()
        self.dirty.clear()
        self.round_trips += 1
        (done,) = [int(d) for d in self._write(keys=keys, args=args)]
        self.conflicts += done == 0
        self.duplicates += done == 2
        return done
