"""State repair: committed events whose Redis write was lost are counted again.

A worker commits a unit of events to the log, then writes their held state changes to
Redis in one script that also claims each event id (``<claims>:seen:<event_id>``, see
``state_cycle.py``). A worker killed between the two leaves committed events that no
Redis state counts. Every worker runs :class:`StateRepair` every
``state.repair_interval_s``; one of them at a time (a Redis lock, ``SET NX PX``, held
across the round and longer than one) reads the cursor (the last log position
repaired), takes the events committed after it and at least ``state.repair_grace_s``
ago (so the live workers' own writes, sent as their commits return, are not raced),
checks their claims (1,000 ids per round trip) and hands the unclaimed ones to
``recount``: the stages apply them again on the current states, and the same write
script claims each one, so an event is counted once even if its worker's write arrives
meanwhile. Then the cursor moves (only while the lock is still this worker's).

Claims expire after ``claim_ttl_s`` (1 h): an event committed longer ago than that,
less a margin, can no longer be told apart from one counted and forgotten, so it is
passed over (counted in ``expired``), never counted again.

The choice of what to check is pure (:func:`due`, :func:`unclaimed`); the Redis and
log I/O is :class:`RepairLock`, :func:`claimed` and the ``store`` protocol.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import redis

from fengkong.events import Event
from fengkong.features.state_cycle import CLAIM_TTL_S

log = logging.getLogger(__name__)

# Claims checked per round trip.
CLAIM_BATCH = 1000
# Log rows read per query.
PAGE = 5000
# Events recounted per write script (n + 1 round trips for n).
RECOUNT_BATCH = 100
# How long before its claim expires an event is no longer checked.
EXPIRY_MARGIN_S = 300.0

# KEYS: claims; the reply: 1 per claim that exists, 0 per one that does not.
_CLAIMED = """
local out = {}
for i = 1, #KEYS do out[i] = redis.call('EXISTS', KEYS[i]) end
return out
"""

# KEYS[1] the lock, KEYS[2] the cursor; ARGV: token, new cursor, lock ttl in ms. Moves
# the cursor forward (never back) and extends the lock, only while it is ours.
_ADVANCE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local cur = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[2]) > cur then redis.call('SET', KEYS[2], ARGV[2]) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class Committed:
    """One stored event: its log position, id and commit time (the committing
    worker's clock)."""

    seq: int
    event_id: str
    at: float


@dataclass(frozen=True, slots=True)
class Due:
    """What one page of the log gives a round: the events to check, how many were
    too old to check, and the cursor after them (``None``: it stays)."""

    check: list[Committed]
    expired: int
    cursor: int | None
    more: bool


def due(rows: Sequence[Committed], *, cutoff: float, expired_before: float, full: bool) -> Due:
    """The rows (in log order) a round may take: up to the first committed at or after
    ``cutoff`` (inside the grace: it and every later row wait for the next round);
    those committed before ``expired_before`` are passed over. ``full``: the page was
    full (more rows may follow)."""
    check: list[Committed] = []
    expired = 0
    cursor = None
    for row in rows:
        if row.at >= cutoff:
            return Due(check, expired, cursor, False)
        if row.at < expired_before:
            expired += 1
        else:
            check.append(row)
        cursor = row.seq
    return Due(check, expired, cursor, full)


def unclaimed(rows: Sequence[Committed], flags: Sequence[int]) -> list[Committed]:
    """The rows whose claim is missing (``flags``: 1 claimed, 0 not, in order)."""
    return [row for row, flag in zip(rows, flags, strict=True) if not flag]


def claimed(client: redis.Redis, claims: str, event_ids: Sequence[str]) -> list[int]:
    """1 or 0 per event id: its claim exists. One round trip per ``CLAIM_BATCH`` ids."""
    script = client.register_script(_CLAIMED)
    out: list[int] = []
    for start in range(0, len(event_ids), CLAIM_BATCH):
        keys = [f"{claims}:seen:{e}" for e in event_ids[start : start + CLAIM_BATCH]]
        out += [int(x) for x in script(keys=keys)]
    return out


class RepairLock:
    """One repairer at a time: ``<claims>:repair:lock`` holds a random token (``SET NX
    PX``); the cursor ``<claims>:repair:cursor`` moves only under it."""

    def __init__(self, client: redis.Redis, claims: str, ttl_s: float) -> None:
        self.client = client
        self.key = f"{claims}:repair:lock"
        self.cursor_key = f"{claims}:repair:cursor"
        self.ttl_ms = int(ttl_s * 1000)
        self.token = ""
        self._advance = client.register_script(_ADVANCE)
        self._release = client.register_script(_RELEASE)

    def acquire(self) -> bool:
        token = secrets.token_hex(16)
        if self.client.set(self.key, token, nx=True, px=self.ttl_ms):
            self.token = token
            return True
        return False

    def cursor(self) -> int:
        value = self.client.get(self.cursor_key)
        return 0 if value is None else int(value)

    def advance(self, cursor: int) -> bool:
        """Move the cursor to ``cursor`` and extend the lock; ``False``: the lock is
        no longer ours (expired, taken by another), nothing moved."""
        keys = [self.key, self.cursor_key]
        return bool(self._advance(keys=keys, args=[self.token, cursor, self.ttl_ms]))

    def release(self) -> None:
        if self.token:
            self._release(keys=[self.key], args=[self.token])
            self.token = ""


class CommittedLog(Protocol):
    """What the repair reads of the event store (``storage.postgres.PostgresStore``)."""

    def committed_after(self, seq: int, limit: int) -> list[tuple[int, str, float]]: ...

    def bodies(self, event_ids: Sequence[str]) -> dict[str, bytes]: ...


# Applies events again on the current states, claiming each in the same write: how
# many it wrote (an event found claimed by then writes nothing and is not counted).
Recount = Callable[[Sequence[Event]], int]


@dataclass
class RoundResult:
    """One round's work (the counters of :class:`StateRepair` add them up)."""

    checked: int = 0
    lost: int = 0
    recounted: int = 0
    expired: int = 0
    cursor: int = 0
    unparsed: list[str] = field(default_factory=list)


class StateRepair:
    """The repair loop of one worker (see the module). :meth:`round` runs one round
    now (``None``: another worker holds the lock); :meth:`start` runs one every
    ``interval_s`` in a daemon thread, :meth:`close` stops it."""

    def __init__(
        self,
        client: redis.Redis,
        store: CommittedLog,
        parse: Callable[[bytes], Event],
        recount: Recount,
        *,
        claims: str = "fk",
        interval_s: float = 10.0,
        grace_s: float = 5.0,
        claim_ttl_s: float = CLAIM_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.store = store
        self.parse = parse
        self.recount = recount
        self.claims = claims
        self.interval_s = interval_s
        self.grace_s = grace_s
        self.claim_ttl_s = claim_ttl_s
        self.clock = clock
        self.lock = RepairLock(client, claims, ttl_s=max(30.0, 3 * interval_s))
        self.rounds = 0
        self.recounted = 0
        self.expired = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def round(self) -> RoundResult | None:
        if not self.lock.acquire():
            return None
        try:
            result = self._work()
        finally:
            self.lock.release()
        self.rounds += 1
        self.recounted += result.recounted
        self.expired += result.expired
        if result.lost or result.expired:
            log.warning(
                "state repair: %d committed events not in Redis recounted (%d of %d checked"
                " unclaimed), %d too old to check",
                result.recounted,
                result.lost,
                result.checked,
                result.expired,
            )
        return result

    def _work(self) -> RoundResult:
        result = RoundResult(cursor=self.lock.cursor())
        now = self.clock()
        cutoff, expired_before = now - self.grace_s, now - self.claim_ttl_s + EXPIRY_MARGIN_S
        while True:
            rows = [Committed(*r) for r in self.store.committed_after(result.cursor, PAGE)]
            page = due(rows, cutoff=cutoff, expired_before=expired_before, full=len(rows) == PAGE)
            if page.cursor is None:
                return result
            ids = [row.event_id for row in page.check]
            lost = unclaimed(page.check, claimed(self.client, self.claims, ids))
            result.checked += len(page.check)
            result.lost += len(lost)
            result.expired += page.expired
            result.recounted += self._recount(lost, result)
            if not self.lock.advance(page.cursor):
                log.warning("state repair: the lock expired during a round; stopped")
                return result
            result.cursor = page.cursor
            if not page.more:
                return result

    def _recount(self, lost: Sequence[Committed], result: RoundResult) -> int:
        done = 0
        for start in range(0, len(lost), RECOUNT_BATCH):
            chunk = [row.event_id for row in lost[start : start + RECOUNT_BATCH]]
            bodies = self.store.bodies(chunk)
            events = []
            for event_id in chunk:
                try:
                    events.append(self.parse(bodies[event_id]))
                except Exception as exc:  # a stored body that no longer loads
                    log.warning("state repair: stored event %s not recounted: %s", event_id, exc)
                    result.unparsed.append(event_id)
            done += self.recount(events)
        return done

    # -- the loop ---------------------------------------------------------------------
    def start(self) -> None:
        if self.interval_s <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="state-repair", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.round()
            except Exception:  # Redis or PostgreSQL away: the next round tries again
                log.exception("state repair round failed")

    def repair_counters(self) -> list[tuple[str, str, float]]:
        """``(name, help, value)`` of the counters /metrics exports."""
        return [
            ("fengkong_state_repair_rounds", "State repair rounds this worker ran.", self.rounds),
            (
                "fengkong_state_repair_events",
                "Committed events missing from Redis that the state repair counted again.",
                self.recounted,
            ),
        ]

    def close(self) -> None:
        """Stop the loop (a round in progress ends first) and close the Redis client,
        which the repair owns."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        self.client.close()
