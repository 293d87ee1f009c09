"""The store contract, run against every backend: embedded (file, memory) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from fengkong.decisions.store import DecisionRecord, LabelRecord, NotAttempted, Store
from fengkong.storage import SQLiteStore
from tests.servers import new_database, pg_server

BACKENDS: dict[str, Callable[[Path, pytest.FixtureRequest], Store]] = {
    "sqlite-file": lambda tmp, _: SQLiteStore(tmp / "c.db", synchronous="OFF"),
    "sqlite-memory": lambda tmp, _: SQLiteStore(":memory:"),
    "postgres": lambda _, request: _postgres(request),
}

__all__ = ["pg_server"]  # the session fixture, used by name


def _postgres(request: pytest.FixtureRequest) -> Store:
    from fengkong.storage.postgres import PostgresStore

    return PostgresStore(new_database(request.getfixturevalue("pg_server")), pool_size=2)


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    backend = BACKENDS[request.param](tmp_path, request)
    yield backend
    backend.close()


def rec(i: int, ts: float | None = None, user: str = "u1") -> DecisionRecord:
    return DecisionRecord(
        event_id=f"e{i}",
        event_type="payment",
        user_id=user,
        ts=float(i * 10 if ts is None else ts),
        body_hash=f"h{i}",
        event_json=b'{"event_id":"e%d"}' % i,
        outcome="allow",
        score=0.0,
        decision_json=b'{"decision":"allow"}',
        explain_json=b"{}",
    )


def test_written_records_are_found_and_read_back(store: Store) -> None:
    store.write([rec(1), rec(2)])
    found = store.lookup(["e1", "e2", "e3"])
    assert sorted(found) == ["e1", "e2"] and found["e1"].body_hash == "h1"
    assert store.decision("e2") == (b'{"decision":"allow"}', b"{}")
    assert store.decision("e3") is None
    assert store.count_events() == 2 and store.newest_ts() == 20.0


def test_a_failed_write_stores_nothing(store: Store) -> None:
    store.write([rec(1)])
    with pytest.raises(Exception, match=r"(?i)unique"):
        store.write([rec(2), rec(1)])
    assert store.count_events() == 1 and store.lookup(["e2"]) == {}


def test_write_each_reports_per_unit(store: Store) -> None:
    store.write([rec(2)])
    results = store.write_each([[rec(1)], [rec(3), rec(2)], [rec(4)]])
    assert results[0] is None
    assert results[1] is not None and not isinstance(results[1], NotAttempted)
    assert isinstance(results[2], NotAttempted)
    assert sorted(store.lookup(["e1", "e2", "e3", "e4"])) == ["e1", "e2"]
    assert store.write_each([]) == []


def test_the_log_reads_in_acceptance_order_from_a_position(store: Store) -> None:
    store.write([rec(3, ts=30), rec(1, ts=10)])
    store.write([rec(2, ts=20)])
    seqs = [(seq, body) for seq, body in store.events_after(0)]
    assert [b for _, b in seqs] == [
        b'{"event_id":"e3"}',
        b'{"event_id":"e1"}',
        b'{"event_id":"e2"}',
    ]
    assert store.last_seq() == seqs[-1][0]
    after_first = [b for _, b in store.events_after(seqs[0][0])]
    assert after_first == [b'{"event_id":"e1"}', b'{"event_id":"e2"}']
    assert [b for _, b in store.events_after(0, since=15)] == [
        b'{"event_id":"e3"}',
        b'{"event_id":"e2"}',
    ]
    assert list(store.events(since=25)) == [b'{"event_id":"e3"}']


def test_labels_by_time_and_by_position(store: Store) -> None:
    assert store.last_label_id() == 0
    store.add_labels([LabelRecord("e1", None, "fraud", "chargeback", 50.0)])
    store.add_labels([LabelRecord(None, "u1", "legit", "review", 40.0, "s")])
    assert [x.label for x in store.labels()] == ["legit", "fraud"]  # by ``at``
    ids = [(i, x.label) for i, x in store.labels_after(0)]
    assert [label for _, label in ids] == ["fraud", "legit"]  # by position
    assert store.last_label_id() == ids[-1][0]
    assert list(store.labels_after(ids[-1][0])) == []


def test_meta(store: Store) -> None:
    assert store.get_meta("k") is None
    store.set_meta("k", "1")
    store.set_meta("k", "2")
    assert store.get_meta("k") == "2"


def test_empty_store(store: Store) -> None:
    assert store.newest_ts() is None and store.last_seq() == 0
    assert list(store.events_after(0)) == [] and store.lookup([]) == {}


def test_a_late_result_reads_back_with_its_decision_and_keeps_the_chain(store: Store) -> None:
    from fengkong.audit.verify import verify_database
    from fengkong.storage.sql import open_db

    store.write([rec(1)])
    attach = store.attach_explain  # type: ignore[attr-defined]
    assert attach("e1", "late.documents", b'{"ok":true}')
    assert not attach("e9", "late.documents", b"{}")  # not stored (yet): the caller retries
    found = store.decision("e1")
    assert found is not None and orjson.loads(found[1]) == {"late": {"documents": {"ok": True}}}
    url = getattr(store, "url", None)
    conn = open_db(url) if isinstance(url, str) else store._conn()  # type: ignore[attr-defined]
    assert verify_database(conn).problems == []
