"""Read, decide, commit, then apply: a failed decision or commit leaves no trace in state."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from fengkong.decisions import DecisionContext
from fengkong.decisions.store import DecisionRecord, Stale
from fengkong.events.limits import STORED_LIMITS
from fengkong.runtime import Runtime, build_runtime
from fengkong.settings import Settings
from fengkong.storage import GroupCommitter, SQLiteStore

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _event(i: int, user: str = "u1", at: datetime | None = None) -> dict[str, Any]:
    when = at if at is not None else T0 + timedelta(seconds=10 * i)
    return {
        "event_id": f"e{i}",
        "type": "payment",
        "user_id": user,
        "amount": "12.50",
        "occurred_at": when.isoformat(),
    }


class FlakyStore(SQLiteStore):
    """A store whose commits fail when told to: disk full, busy, or a duplicate."""

    def __init__(self, path: Path, seed: int = 0, rate: float = 0.0) -> None:
        super().__init__(path, synchronous="OFF")
        self.fail_next: str | None = None
        self.rng = random.Random(seed)
        self.rate = rate
        self.failures = 0

    def write_each(self, units: Sequence[Sequence[DecisionRecord]]) -> list[Exception | None]:
        kind = self.fail_next
        self.fail_next = None
        if kind is None and units and self.rng.random() < self.rate:
            kind = self.rng.choice(["full", "busy", "duplicate"])
        if kind is None:
            return super().write_each(units)
        self.failures += 1
        if kind == "full":
            raise sqlite3.OperationalError("database or disk is full")
        if kind == "busy":
            raise sqlite3.OperationalError("database is locked")
        # A duplicate of the first unit's first event, stored behind our back.
        first = units[0][0]
        clash = DecisionRecord(**{**_fields(first), "event_id": first.event_id})
        super().write([clash])
        return super().write_each(units)


def _fields(r: DecisionRecord) -> dict[str, Any]:
    return {k: getattr(r, k) for k in DecisionRecord.__slots__}


def _runtime(tmp_path: Path, name: str = "fk.db", **kw: Any) -> Runtime:
    settings = Settings(
        db_path=tmp_path / name, token_secret="t" * 32, sqlite_synchronous="OFF", **kw
    )
    return build_runtime(settings)


def _with_store(rt: Runtime, store: SQLiteStore) -> None:
    rt.engine.store = store


def _explain(rt: Runtime, event_id: str) -> dict[str, Any]:
    stored = rt.engine.store.decision(event_id)
    assert stored is not None
    explain: dict[str, Any] = orjson.loads(stored[1])
    return explain


def test_a_failed_batch_commit_counts_nothing_and_a_retry_counts_once(tmp_path: Path) -> None:
    """The reproducer: [good, bad] answered with an error; the retry saw events_10m = 1."""
    rt = _runtime(tmp_path)
    flaky = FlakyStore(tmp_path / "fk.db")
    _with_store(rt, flaky)
    engine = rt.engine
    flaky.fail_next = "full"
    with pytest.raises(sqlite3.OperationalError):
        engine.decide_many(engine.accept_many([_event(1), _event(2)]))
    assert flaky.count_events() == 0
    engine.decide(_event(1))
    assert _explain(rt, "e1")["features"]["user.events_10m"] == 0
    engine.decide(_event(3))
    assert _explain(rt, "e3")["features"]["user.events_10m"] == 1
    assert engine.recoveries == 1
    rt.close()


class Exploding:
    """A stateless stage that fails on one event (a bug, a timeout)."""

    name = "exploding"

    def run(self, ctx: DecisionContext) -> None:
        if ctx.event.event_id == "boom":
            raise RuntimeError("stage failed")


def test_a_stage_failing_mid_batch_leaves_no_ghost_counts(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    engine = rt.engine
    engine.pipeline.stages.append(Exploding())
    engine.pipeline._reads.append(Exploding().run)
    boom = {**_event(2), "event_id": "boom"}
    with pytest.raises(RuntimeError):
        engine.decide_many(engine.accept_many([_event(1), boom]))
    engine.decide(_event(1))
    assert _explain(rt, "e1")["features"]["user.events_10m"] == 0
    rt.close()


def test_group_commit_reports_per_unit(tmp_path: Path) -> None:
    """A duplicate fails its own unit; the units before it commit, the ones after are stale."""
    store = SQLiteStore(tmp_path / "g.db", synchronous="OFF")
    rt = _runtime(tmp_path, "ref.db")
    items = [rt.engine.accept(_event(i)) for i in range(3)]
    records = [rt.engine._evaluate(item)[1] for item in items]
    store.write([records[1]])  # e1 is already there: its unit will fail
    results = store.write_each([[records[0]], [records[1]], [records[2]]])
    assert results[0] is None
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert results[2] is not None and type(results[2]).__name__ == "NotAttempted"
    assert store.count_events() == 2  # e0 and the earlier e1

    committer = GroupCommitter(store)
    assert committer.submit([records[2]]).result() is None  # not refused any more
    stale = committer.submit([records[2]], epoch=committer.epoch - 1)
    with pytest.raises(Stale):
        stale.result()
    committer.close()
    store.close()
    rt.close()


def test_server_path_recovers_and_redecides_stale_units(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    flaky = FlakyStore(tmp_path / "fk.db")
    committer = GroupCommitter(flaky)
    rt.engine.store = flaky
    rt.engine._committer = committer
    engine = rt.engine

    async def go() -> None:
        flaky.fail_next = "busy"
        with pytest.raises(sqlite3.OperationalError):
            await engine.decide_async([engine.accept(_event(1))])
        (answer,) = await engine.decide_async([engine.accept(_event(1))])
        assert answer["event_id"] == "e1"
        await engine.decide_async([engine.accept(_event(2))])

    asyncio.run(go())
    committer.close()
    assert _explain(rt, "e1")["features"]["user.events_10m"] == 0
    assert _explain(rt, "e2")["features"]["user.events_10m"] == 1
    rt.close()


def test_a_far_future_event_cannot_disable_the_rebuild(tmp_path: Path) -> None:
    """One stored event dated 9999-12-31 made the next start rebuild 1 event of many."""
    rt = _runtime(tmp_path, snapshots=False)
    now = datetime.now(UTC)
    events = [_event(i, user=f"u{i % 7}", at=now - timedelta(minutes=200 - i)) for i in range(150)]
    events.append(_event(999, at=datetime(9999, 12, 31, tzinfo=UTC)))
    # The edge now refuses such a timestamp; a store written before it did may hold one.
    rt.engine.limits = STORED_LIMITS
    rt.engine.decide_many(rt.engine.accept_many(events))
    rt.close()
    again = _runtime(tmp_path, snapshots=False)
    assert again.rebuilt_events == 151
    again.close()


def test_history_replays_from_2010_still_rebuild(tmp_path: Path) -> None:
    rt = _runtime(tmp_path, snapshots=False)
    old = datetime(2010, 3, 1, tzinfo=UTC)
    events = [_event(i, at=old + timedelta(minutes=i)) for i in range(40)]
    rt.engine.decide_many(rt.engine.accept_many(events))
    rt.close()
    again = _runtime(tmp_path, snapshots=False)
    assert again.rebuilt_events == 40
    again.close()


def _stored(rt: Runtime, ids: list[str]) -> dict[str, tuple[bytes, bytes]]:
    out = {}
    for event_id in ids:
        got = rt.store.decision(event_id)
        if got is not None:
            body = orjson.loads(got[0])
            body.pop("latency_ms", None)
            out[event_id] = (orjson.dumps(body, option=orjson.OPT_SORT_KEYS), got[1])
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_random_commit_failures_equal_a_clean_replay_of_what_was_stored(
    tmp_path: Path, seed: int
) -> None:
    """Fault injection during a replay: decisions equal a clean replay of the stored events."""
    from tests.integration.golden import stream

    events = stream()[:900]
    rt = _runtime(tmp_path, "faulty.db")
    flaky = FlakyStore(tmp_path / "faulty.db", seed=seed, rate=0.2)
    rt.engine.store = flaky
    rng = random.Random(seed)
    start = 0
    while start < len(events):
        size = rng.randint(1, 40)
        chunk = events[start : start + size]
        start += size
        try:
            rt.engine.decide_many([rt.engine.accept(e) for e in chunk])
        except (sqlite3.Error, Exception) as exc:  # the client gives up on this batch
            assert isinstance(exc, sqlite3.Error)
    assert flaky.failures > 5
    stored_ids = [orjson.loads(b)["event_id"] for _, b in flaky.events_after(0)]
    bodies = {orjson.loads(e)["event_id"]: e for e in events}
    got = _stored(rt, stored_ids)
    rt.close()

    clean = _runtime(tmp_path, "clean.db")
    for event_id in stored_ids:
        clean.engine.decide(bodies[event_id])
    want = _stored(clean, stored_ids)
    clean.close()
    assert len(got) == len(stored_ids) > 300
    assert got == want


def test_a_damaged_snapshot_falls_back_to_the_log(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    rt.engine.decide_many(rt.engine.accept_many([_event(i) for i in range(5)]))
    rt.close()  # saves a snapshot
    snap = tmp_path / "fk.db.snapshot"
    assert snap.exists()
    snap.write_bytes(snap.read_bytes()[:100])
    again = _runtime(tmp_path)
    assert again.rebuilt_events == 5 and again.engine.snapshot_seq == 0
    again.engine.decide(_event(9))
    assert _explain(again, "e9")["features"]["user.events_10m"] == 5
    again.close()


def test_recovery_starts_from_the_snapshot_and_reads_the_tail(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    rt.engine.decide_many(rt.engine.accept_many([_event(i) for i in range(4)]))
    assert rt.engine.save_snapshot()
    rt.engine.decide_many(rt.engine.accept_many([_event(i) for i in range(4, 6)]))
    flaky = FlakyStore(tmp_path / "fk.db")
    rt.engine.store = flaky
    flaky.fail_next = "full"
    with pytest.raises(sqlite3.OperationalError):
        rt.engine.decide(_event(6))
    assert rt.engine.snapshot_seq == 4
    rt.engine.decide(_event(6))
    assert _explain(rt, "e6")["features"]["user.events_10m"] == 6
    rt.close()


class ClashingStore(SQLiteStore):
    """Someone else stores ``clash`` just before our group commit containing it."""

    def __init__(self, path: Path, clash: str) -> None:
        super().__init__(path, synchronous="OFF")
        self.clash = clash

    def write_each(self, units: Sequence[Sequence[DecisionRecord]]) -> list[Exception | None]:
        for unit in units:
            for r in unit:
                if r.event_id == self.clash and not self.lookup([r.event_id]):
                    super().write([r])
        return super().write_each(units)


def test_a_duplicate_never_fails_its_neighbours_in_a_group_commit(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    store = ClashingStore(tmp_path / "fk.db", clash="e2")
    committer = GroupCommitter(store)
    rt.engine.store = store
    rt.engine._committer = committer
    engine = rt.engine

    async def go() -> list[object]:
        calls = [engine.decide_async([engine.accept(_event(i))]) for i in (1, 2, 3)]
        return await asyncio.gather(*calls, return_exceptions=True)

    first, second, third = asyncio.run(go())
    committer.close()
    assert isinstance(second, sqlite3.IntegrityError)
    assert isinstance(first, list) and isinstance(third, list)
    assert sorted(store.lookup(["e1", "e2", "e3"])) == ["e1", "e2", "e3"]
    # e3 was decided again on the state of the log (e1 and the e2 stored by the other).
    assert _explain(rt, "e3")["features"]["user.events_10m"] == 2
    rt.close()


def test_a_stored_event_that_no_longer_loads_does_not_stop_the_start(tmp_path: Path) -> None:
    """An event nested ~250 levels deep, once accepted, made every later start fail."""
    rt = _runtime(tmp_path, snapshots=False)
    rt.engine.decide_many(rt.engine.accept_many([_event(i) for i in range(3)]))
    bad = DecisionRecord(
        **{
            **_fields(rt.engine._evaluate(rt.engine.accept(_event(7)))[1]),
            "event_id": "deep",
            "event_json": orjson.dumps({**_event(8), "context": {"deep": "x"}}).replace(
                b'"x"', b"[" * 5000 + b'"x"' + b"]" * 5000
            ),
        }
    )
    rt.store._protector = None  # written by an older, laxer version: not sealed either
    rt.store.write([bad])
    rt.close()
    again = _runtime(tmp_path, snapshots=False)
    assert again.rebuilt_events == 3 and again.engine.skipped_in_rebuild == 1
    again.close()
