from __future__ import annotations

import threading
from pathlib import Path

import pytest

from fengkong.decisions.store import DecisionRecord, LabelRecord
from fengkong.storage import GroupCommitter, SQLiteStore


def _record(i: int, ts: float = 0.0) -> DecisionRecord:
    return DecisionRecord(
        event_id=f"e{i}",
        event_type="login",
        user_id="u",
        ts=ts or float(i),
        body_hash=f"h{i}",
        event_json=b'{"event_id":"e%d"}' % i,
        outcome="allow",
        score=0.0,
        decision_json=b'{"decision":"allow"}',
        explain_json=b"{}",
    )


def test_write_lookup_and_read_back(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.write([_record(1), _record(2)])
    found = store.lookup(["e1", "e2", "e3"])
    assert set(found) == {"e1", "e2"}
    assert found["e1"].body_hash == "h1"
    assert store.decision("e2") == (b'{"decision":"allow"}', b"{}")
    assert store.decision("nope") is None
    assert store.count_events() == 2
    assert store.newest_ts() == 2.0
    store.close()


def test_lookup_of_many_ids_is_chunked(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.write([_record(i) for i in range(1, 1501)])
    assert len(store.lookup([f"e{i}" for i in range(1, 2001)])) == 1500


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.write([_record(1)])
    with pytest.raises(Exception, match="UNIQUE"):
        store.write([_record(2), _record(1)])
    assert store.count_events() == 1
    assert store.lookup(["e2"]) == {}


def test_events_since_in_acceptance_order(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.write([_record(i, ts=100.0 - i) for i in range(1, 6)])
    bodies = list(store.events(since=96.0))
    assert bodies == [b'{"event_id":"e%d"}' % i for i in range(1, 5)]


def test_labels_in_time_order(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.add_labels(
        [
            LabelRecord(None, "u2", "fraud", "analyst", 20.0),
            LabelRecord("e1", None, "legit", "chargeback", 10.0, "ato"),
        ]
    )
    assert [x.at for x in store.labels()] == [10.0, 20.0]
    assert [x.user_id for x in store.labels(since=15.0)] == ["u2"]


def test_data_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    store.write([_record(1)])
    store.set_meta("k", "v")
    store.close()
    again = SQLiteStore(path)
    assert again.count_events() == 1
    assert again.get_meta("k") == "v"


def test_group_commit_shares_transactions_across_threads(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    committer = GroupCommitter(store)
    futures = []
    lock = threading.Lock()

    def submit(start: int) -> None:
        for i in range(start, start + 100):
            fut = committer.submit([_record(i)])
            with lock:
                futures.append(fut)

    threads = [threading.Thread(target=submit, args=(k * 1000,)) for k in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for fut in futures:
        fut.result(timeout=10)
    committer.close()
    assert store.count_events() == 400
    assert committer.batches <= 400


def test_group_commit_reports_failure_to_every_waiter(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.write([_record(1)])
    committer = GroupCommitter(store)
    fut = committer.submit([_record(1)])
    with pytest.raises(Exception, match="UNIQUE"):
        fut.result(timeout=10)
    committer.close()
