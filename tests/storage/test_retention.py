"""Packed explanations, retention pruning with a Parquet archive, and the audit chain."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from fengkong.audit.verify import verify_database
from fengkong.cli.main import main
from fengkong.runtime import Runtime, build_runtime
from fengkong.settings import Settings
from fengkong.storage.explain import SCHEMA_KEY, UnknownSchema
from fengkong.storage.retention import storage_size

DAY0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def _event(i: int, day: int) -> dict[str, Any]:
    return {
        "event_id": f"r{i}",
        "type": "payment",
        "user_id": f"u{i % 3}",
        "occurred_at": (DAY0 + timedelta(days=day, minutes=i)).isoformat(),
        "amount": "20.00",
        "ip": "203.0.113.7",
    }


def _decide(rt: Runtime, n: int = 9) -> None:
    rt.engine.decide_many([rt.engine.accept(_event(i, i // 3)) for i in range(n)])


def _raw_explain(db: Path, event_id: str) -> bytes:
    conn = sqlite3.connect(db)
    row = conn.execute("SELECT explain FROM decisions WHERE event_id = ?", (event_id,)).fetchone()
    conn.close()
    return bytes(row[0])


def test_explanations_are_stored_packed_and_read_back_whole(
    runtime: Runtime, settings: Settings
) -> None:
    _decide(runtime, 3)
    raw = orjson.loads(_raw_explain(settings.db_path, "r2"))
    assert "facts" not in raw and "features" not in raw
    stored = runtime.store.decision("r2")
    assert stored is not None
    full = orjson.loads(stored[1])
    assert full["features"]["user.events_10m"] == 0
    assert full["facts"]["ip.version"] == 4
    assert len(full["features"]) == len(raw["packed"]["features"])
    assert len(_raw_explain(settings.db_path, "r2")) * 3 < len(stored[1])


def test_an_edited_schema_is_refused_not_misread(runtime: Runtime, settings: Settings) -> None:
    _decide(runtime, 1)
    schema = orjson.loads(_raw_explain(settings.db_path, "r0"))["packed"]["schema"]
    names = orjson.loads(runtime.store.get_meta(SCHEMA_KEY + schema) or "{}")
    names["features"].reverse()
    runtime.store.set_meta(SCHEMA_KEY + schema, orjson.dumps(names).decode())
    with pytest.raises(UnknownSchema):
        runtime.store.decision("r0")


def test_prune_archives_then_removes_and_the_chain_still_verifies(
    runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    _decide(runtime)
    archive = tmp_path / "old.parquet"
    report = runtime.store.prune((DAY0 + timedelta(days=2)).timestamp(), archive=archive)
    assert report.events == 6
    table = pq.read_table(archive).to_pylist()
    assert [r["event_id"] for r in table] == [f"r{i}" for i in range(6)]
    assert orjson.loads(table[0]["explain"])["features"]["user.events_10m"] == 0
    assert orjson.loads(table[0]["decision"])["event_id"] == "r0"
    assert runtime.store.count_events() == 3
    assert runtime.store.decision("r0") is None
    conn = sqlite3.connect(settings.db_path)
    assert verify_database(conn).ok
    # A record deleted outside a prune is still found out.
    conn.execute("DELETE FROM decisions WHERE event_id = 'r7'")
    conn.commit()
    problems = [str(p) for p in verify_database(conn).problems]
    assert any("'r7': record deleted" in p for p in problems), problems
    # So is a tombstone slipped in to cover it.
    conn.execute("INSERT INTO pruned VALUES ('r7', ?)", (report.prune,))
    conn.commit()
    problems = [str(p) for p in verify_database(conn).problems]
    assert any("tombstones edited" in p for p in problems), problems
    conn.close()


def test_prune_with_nothing_to_do_changes_nothing(runtime: Runtime) -> None:
    _decide(runtime, 3)
    report = runtime.store.prune(DAY0.timestamp())
    assert report.events == 0 and report.prune is None
    assert runtime.store.count_events() == 3


def test_the_cli_prunes_before_a_date_and_measures_the_file(settings: Settings) -> None:
    rt = build_runtime(settings)
    _decide(rt)
    rt.close()
    before = storage_size(settings.db_path)
    assert before["events"] == 9 and before["bytes_per_event"] > 0
    db = str(settings.db_path)
    out = CliRunner().invoke(main, ["prune", "--db", db, "--before", "2026-11-02", "--quiet"])
    assert out.exit_code == 0, out.output
    assert orjson.loads(out.output)["events"] == 3
    size = CliRunner().invoke(main, ["db", "size", "--db", db])
    assert size.exit_code == 0 and orjson.loads(size.output)["events"] == 6
    missing = CliRunner().invoke(main, ["prune", "--db", db])
    assert missing.exit_code != 0 and "retention_days" in missing.output


def test_a_version_2_file_is_migrated_with_its_decisions_and_chain_intact(tmp_path: Path) -> None:
    from fengkong.decisions.store import DecisionRecord
    from fengkong.storage import SQLiteStore, audit_hooks
    from fengkong.storage.connect import connect, migrate
    from fengkong.storage.sqlite import _LABELS_ONCE, _SCHEMA

    db = tmp_path / "v2.db"
    conn = connect(str(db))
    migrate(conn, "events", [_SCHEMA, _LABELS_ONCE])
    audit_hooks.ensure(conn)
    legacy = orjson.dumps({"facts": {"ip.version": 4}, "features": {"user.events_10m": 2}})
    record = DecisionRecord("e1", "login", "u1", 1.0, "h", b'{"a":1}', "allow", 0.0, b"{}", legacy)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO events (event_id, type, user_id, ts, body) VALUES (?,?,?,?,?)",
        ("e1", "login", "u1", 1.0, b'{"a":1}'),
    )
    conn.execute(
        "INSERT INTO decisions VALUES (?,?,?,?,?,?,?)",
        ("e1", "h", "allow", 0.0, 5.0, b"{}", legacy),
    )
    audit_hooks.chain_decisions(conn, [record], 5.0, [b'{"a":1}'])
    conn.execute("COMMIT")
    conn.close()
    store = SQLiteStore(db)
    assert store.decision("e1") == (b"{}", legacy)
    store.close()
    check = sqlite3.connect(db)
    sql = check.execute("SELECT sql FROM sqlite_master WHERE name = 'decisions'").fetchone()[0]
    assert "WITHOUT ROWID" not in sql
    assert check.execute("SELECT version FROM schema_versions").fetchone()[0] == 5
    assert verify_database(check).ok
    check.close()
