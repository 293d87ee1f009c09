"""A group of units: outcomes handed to the loop at once, rows written together."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

from fengkong.audit import log
from fengkong.audit.verify import verify_database
from fengkong.decisions.store import DecisionRecord, NotAttempted, Stale
from fengkong.storage import GroupCommitter, SQLiteStore


def _record(i: int) -> DecisionRecord:
    return DecisionRecord(
        event_id=f"e{i}",
        event_type="login",
        user_id="u",
        ts=float(i),
        body_hash=f"h{i}",
        event_json=b'{"event_id":"e%d"}' % i,
        outcome="allow",
        score=0.0,
        decision_json=b'{"decision":"allow","i":%d}' % i,
        explain_json=b"{}",
    )


class GatedStore(SQLiteStore):
    """Holds the first write until ``gate`` is set, so the next units queue into one group."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, synchronous="OFF")
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.groups: list[int] = []

    def write_each(self, units: list[list[DecisionRecord]]) -> list[Exception | None]:
        self.entered.set()
        self.gate.wait(10)
        self.groups.append(len(units))
        return super().write_each(units)


def _collect(loop: asyncio.AbstractEventLoop) -> list[int]:
    """Counts the writer's hand-offs to ``loop`` (calls of ``call_soon_threadsafe``)."""
    calls: list[int] = []
    original = loop.call_soon_threadsafe

    def counting(callback: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(len(args[0]) if args else 0)
        return original(callback, *args, **kwargs)

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
    return calls


def test_a_group_is_settled_in_one_hand_off_and_a_bad_unit_fails_alone(tmp_path: Path) -> None:
    store = GatedStore(tmp_path / "g.db")
    store.gate.set()
    store.write([_record(3)])  # e3 is already stored: its unit will fail
    store.gate.clear()
    store.groups.clear()
    committer = GroupCommitter(store)

    async def main() -> tuple[list[BaseException | None], list[int]]:
        loop = asyncio.get_running_loop()
        calls = _collect(loop)
        outcomes: list[BaseException | None] = [None] * 6
        settled = [loop.create_future() for _ in range(6)]

        def then(i: int) -> Any:
            def record(error: BaseException | None) -> None:
                outcomes[i] = error
                settled[i].set_result(None)

            return record

        blocker = committer.submit([_record(0)])  # the writer holds it at the gate
        assert store.entered.wait(10)
        for i in range(1, 6):
            committer.submit_to(loop, [_record(i)], committer.epoch, then(i))
        committer.submit_to(loop, [], committer.epoch, then(0))
        store.gate.set()
        await asyncio.wait_for(asyncio.gather(*settled), 10)
        assert blocker.result(10) is None
        return outcomes, calls

    outcomes, calls = asyncio.run(main())
    committer.close()
    assert store.groups == [1, 6]  # the gated unit, then the six queued behind it
    assert calls == [6]  # one hand-off to the loop for the whole group
    assert outcomes[1] is None and outcomes[2] is None
    assert isinstance(outcomes[3], sqlite3.IntegrityError)  # the duplicate fails alone
    # Those after it in the transaction are not attempted (the empty unit, 0, came last).
    assert all(isinstance(outcomes[i], Stale) for i in (4, 5, 0))
    found = store.lookup([f"e{i}" for i in range(6)])
    assert sorted(found) == ["e0", "e1", "e2", "e3"]
    assert found["e2"].decision_json == b'{"decision":"allow","i":2}'
    store.close()


def test_a_stale_unit_is_refused_on_the_loop(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", synchronous="OFF")
    committer = GroupCommitter(store)

    async def main() -> BaseException | None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[BaseException | None] = loop.create_future()
        committer.submit_to(loop, [_record(1)], committer.epoch - 1, done.set_result)
        return await asyncio.wait_for(done, 10)

    assert isinstance(asyncio.run(main()), Stale)
    committer.close()
    assert store.count_events() == 0
    store.close()


def test_a_failing_callback_does_not_keep_the_others_from_running(tmp_path: Path) -> None:
    store = GatedStore(tmp_path / "c.db")
    committer = GroupCommitter(store)

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        ran: list[int] = []
        last: asyncio.Future[None] = loop.create_future()

        def broken(error: BaseException | None) -> None:
            raise RuntimeError("a broken callback")

        blocker = committer.submit([_record(0)])
        assert store.entered.wait(10)
        committer.submit_to(loop, [_record(1)], committer.epoch, broken)
        committer.submit_to(loop, [_record(2)], committer.epoch, lambda e: ran.append(2))
        committer.submit_to(loop, [], committer.epoch, lambda e: last.set_result(None))
        store.gate.set()
        await asyncio.wait_for(last, 10)
        blocker.result(10)
        return ran

    assert asyncio.run(main()) == [2]
    committer.close()
    assert store.count_events() == 3
    store.close()


def _chain(path: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """The audit entries' (kind, ref) in chain order, and the chain's problems."""
    conn = sqlite3.connect(path)
    try:
        refs = [(str(e.parsed()["kind"]), str(e.parsed()["ref"])) for e in log.entries(conn)]
        return refs, [str(p) for p in verify_database(conn).problems]
    finally:
        conn.close()


def test_a_group_stored_together_keeps_each_unit_its_outcome_and_the_chain(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "t.db", synchronous="OFF")
    assert store.write_each([[_record(1)], [_record(2), _record(3)], [_record(4)]]) == [None] * 3
    # A duplicate in the group: the statements for all fail, so unit by unit again.
    results = store.write_each([[_record(5)], [_record(3), _record(6)], [_record(7)]])
    assert results[0] is None and isinstance(results[1], sqlite3.IntegrityError)
    assert isinstance(results[2], NotAttempted)
    seqs = store._conn().execute("SELECT event_id FROM events ORDER BY seq").fetchall()
    assert [r[0] for r in seqs] == ["e1", "e2", "e3", "e4", "e5"]
    refs, problems = _chain(tmp_path / "t.db")
    assert refs == [(kind, f"e{i}") for i in (1, 2, 3, 4, 5) for kind in ("event", "decision")]
    assert problems == []
    store.close()
