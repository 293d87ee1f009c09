"""Stored values compressed with trained dictionaries, and audit entries kept as fields."""

from __future__ import annotations

import dataclasses
import random
import sqlite3
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from fengkong.audit import log
from fengkong.audit.stored import MARK, plain_of
from fengkong.audit.verify import verify_database
from fengkong.decisions.store import DecisionRecord
from fengkong.storage import SQLiteStore

TRAIN = 60


def _rec(i: int) -> DecisionRecord:
    rng = random.Random(i)
    event = {
        "event_id": f"e{i}",
        "type": rng.choice(["payment", "login", "signup"]),
        "user_id": f"u{rng.randrange(50)}",
        "amount": f"{rng.uniform(1, 900):.2f}",
        "device": {"platform": rng.choice(["ios", "android"]), "model": f"M{rng.randrange(9)}"},
    }
    decision = {"event_id": f"e{i}", "decision": "allow", "score": rng.random(), "reasons": []}
    explain = {
        "rules": [],
        "features": {f"f{k}": rng.randrange(5) for k in range(40)},
    }
    return DecisionRecord(
        event_id=f"e{i}",
        event_type=str(event["type"]),
        user_id=str(event["user_id"]),
        ts=1000.0 + i,
        body_hash=f"h{i}",
        event_json=orjson.dumps(event),
        outcome="allow",
        score=float(decision["score"]),  # type: ignore[arg-type]
        decision_json=orjson.dumps(decision),
        explain_json=orjson.dumps(explain),
    )


def _raw(db: Path, sql: str) -> list[bytes]:
    conn = sqlite3.connect(db)
    try:
        return [bytes(r[0]) for r in conn.execute(sql)]
    finally:
        conn.close()


def _filled(db: Path, n: int) -> SQLiteStore:
    store = SQLiteStore(db, synchronous="OFF", compress_after=TRAIN)
    for start in range(0, TRAIN, 10):
        store.write([_rec(i) for i in range(start, start + 10)])
    store.compressor.wait()
    for start in range(TRAIN, n, 10):
        store.write([_rec(i) for i in range(start, min(start + 10, n))])
    return store


def test_values_are_compressed_once_trained_and_read_back_exactly(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    store = _filled(db, 200)
    bodies = _raw(db, "SELECT body FROM events ORDER BY seq")
    explains = _raw(db, "SELECT explain FROM decisions")
    # Every row, the samples the dictionaries were trained on included, is compressed.
    assert all(b[0] == MARK for b in bodies) and all(x[0] == MARK for x in explains)
    assert sum(map(len, bodies)) * 2 < sum(len(_rec(i).event_json) for i in range(200))
    assert [b for _, b in store.events_after(0)] == [_rec(i).event_json for i in range(200)]
    found = store.lookup(["e5", "e150"])
    assert found["e150"].decision_json == _rec(150).decision_json
    decision = store.decision("e7")
    assert decision is not None and decision[0] == _rec(7).decision_json
    assert store.events_of_user(_rec(3).user_id)[-1][2] in {
        r.event_json for r in map(_rec, range(200))
    }
    store.close()
    # A restart compresses with the same dictionaries: none is trained again.
    again = SQLiteStore(db, synchronous="OFF", compress_after=TRAIN)
    again.write([_rec(500)])
    assert again.compressor.ready is False
    conn = sqlite3.connect(db)
    keys = [r[0] for r in conn.execute("SELECT key FROM meta WHERE key LIKE 'zstd_dict:%'")]
    conn.close()
    assert len(keys) == 3
    assert _raw(db, "SELECT body FROM events WHERE event_id = 'e500'")[0][0] == MARK
    assert [b for _, b in again.events_after(200)] == [_rec(500).event_json]
    again.close()


def test_the_chain_covers_the_plain_values(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    store = _filled(db, 120)
    before = _raw(db, "SELECT explain FROM decisions WHERE event_id = 'e100'")
    assert store.attach_explain("e100", "late.documents", b'{"ok":true}')
    assert store.attach_explain("e100", "late.documents", b'{"ok":false}')  # one per event
    found = store.decision("e100")
    assert found is not None and orjson.loads(found[1])["late"] == {"documents": {"ok": True}}
    store.close()
    # The decision row is as chained; the late result is a record of its own.
    assert _raw(db, "SELECT explain FROM decisions WHERE event_id = 'e100'") == before
    conn = sqlite3.connect(db)
    assert verify_database(conn).problems == []
    conn.execute("UPDATE late_results SET value = '{\"ok\":false}'")
    conn.commit()
    problems = [str(p) for p in verify_database(conn).problems]
    assert problems == ["entry 241: late 'e100': record edited"]
    # Recompressing a value (another level, no dictionary) leaves its digest as it was.
    import zstandard

    plain = plain_of(conn)
    stored = bytes(conn.execute("SELECT body FROM events WHERE event_id = 'e3'").fetchone()[0])
    other = (
        bytes((MARK, 0))
        + zstandard.ZstdCompressor(level=19, write_content_size=True).compress(plain(stored))[4:]
    )
    conn.execute("INSERT INTO meta VALUES ('zstd_dict:0', '')")
    conn.execute("UPDATE events SET body = ? WHERE event_id = 'e3'", (other,))
    conn.commit()
    assert [str(p) for p in verify_database(conn).problems] == problems
    # An edited value is found, compressed or not.
    edited = plain(stored).replace(b'"e3"', b'"e4"')
    conn.execute("UPDATE events SET body = ? WHERE event_id = 'e3'", (edited,))
    conn.commit()
    assert "entry 7: event 'e3': record edited" in [str(p) for p in verify_database(conn).problems]
    conn.close()


def test_audit_entries_are_stored_as_fields_and_rebuilt_to_the_same_bytes(
    tmp_path: Path,
) -> None:
    db = tmp_path / "c.db"
    store = _filled(db, 20)
    store.close()
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT entry, hash, digest FROM audit_log").fetchall()
    assert all(bytes(e) == b"" and len(h) == 32 and len(d) == 32 for e, h, d in rows)
    head = log.GENESIS
    for stored in log.entries(conn):
        head = log.chain_hash(head, stored.entry)
        assert head.hex() == stored.hash
        assert orjson.loads(stored.entry)["seq"] == stored.seq
    # An entry with data, and one whose time is not a float, keep their JSON whole.
    conn.isolation_level = None
    conn.execute("BEGIN")
    log.append(conn, [log.Pending("read", "k", None, None, "a", {"x": [1.5, "é"]})])
    log.append(conn, [log.Pending("tokenise", "r", None, None, "a", {"n": 1})], at=7)
    conn.execute("COMMIT")
    last = conn.execute("SELECT entry, data FROM audit_log ORDER BY seq DESC LIMIT 2").fetchall()
    assert bytes(last[0][0]) != b"" and last[1][1] == '{"x":[1.5,"é"]}'
    assert verify_database(conn).ok
    # An edit of a field breaks the chain there.
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET at = at + 1 WHERE seq = 5")
    first = verify_database(conn).first
    assert first is not None and first.seq == 5
    conn.close()


def test_entries_stored_before_are_read_as_they_are(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.executescript(log.STEPS[0].split("CREATE TRIGGER")[0])  # the table as it was
    entry = (
        b'{"actor":null,"at":5.0,"data":null,"digest":null,"kind":"read","ref":"x",'
        b'"seq":1,"user":null}'
    )
    conn.execute(
        "INSERT INTO audit_log (seq, kind, ref, user_id, entry, hash)"
        " VALUES (1, 'read', 'x', NULL, ?, ?)",
        (entry, log.chain_hash(log.GENESIS, entry).hex()),
    )
    conn.close()
    store = SQLiteStore(db, compress_after=0)
    store.write([_rec(1)])
    store.close()
    conn = sqlite3.connect(db)
    assert verify_database(conn).ok
    assert next(s.entry for s in log.entries(conn)) == entry
    conn.close()


def test_a_prune_archive_holds_the_plain_values(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    store = _filled(db, 100)
    report = store.prune(1050.0, archive=tmp_path / "old.parquet")
    assert report.events == 50
    table = pq.read_table(tmp_path / "old.parquet").to_pylist()
    assert table[0]["body"] == _rec(0).event_json
    assert table[3]["decision"] == _rec(3).decision_json.decode()
    assert orjson.loads(table[3]["explain"]) == orjson.loads(_rec(3).explain_json)
    store.close()
    conn = sqlite3.connect(db)
    assert verify_database(conn).ok
    conn.close()


def test_without_samples_enough_nothing_is_compressed(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    store = SQLiteStore(db, compress_after=0)
    store.write([_rec(i) for i in range(30)])
    assert all(b[:1] == b"{" for b in _raw(db, "SELECT body FROM events"))
    store.close()


@pytest.mark.parametrize("n", [TRAIN])
def test_identical_samples_fall_back_to_zstd_alone(tmp_path: Path, n: int) -> None:
    db = tmp_path / "c.db"
    store = SQLiteStore(db, synchronous="OFF", compress_after=n)
    same = _rec(1)
    recs = [dataclasses.replace(same, event_id=f"x{i}") for i in range(n + 5)]
    store.write(recs[:n])
    store.compressor.wait()
    store.write(recs[n:])
    assert [b for _, b in store.events_after(0)] == [same.event_json] * (n + 5)
    store.close()
    conn = sqlite3.connect(db)
    assert verify_database(conn).ok
    conn.close()
