"""One connection factory and versioned migrations for every embedded store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fengkong.storage import SQLiteStore
from fengkong.storage.connect import SchemaTooNew, connect, migrate, statements
from fengkong.storage.models_sqlite import SQLiteModelStore
from fengkong.storage.rules_sqlite import SQLiteRuleStore


def _versions(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT component, version FROM schema_versions").fetchall()
    conn.close()
    return dict(rows)


def test_every_store_records_its_schema_version(tmp_path: Path) -> None:
    db = tmp_path / "fk.db"
    SQLiteStore(db).close()
    SQLiteRuleStore(db, []).close()
    SQLiteModelStore(db).close()
    assert _versions(db) == {"events": 5, "audit": 2, "cases": 1, "rules": 1, "models": 1}
    SQLiteStore(db).close()  # a second open migrates nothing
    assert _versions(db)["events"] == 5


def test_a_file_from_before_versioning_is_adopted(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    store = SQLiteStore(db)
    conn = store._conn()
    conn.execute("DROP TABLE schema_versions")
    store.close()
    SQLiteStore(db).close()
    assert _versions(db) == {"events": 5, "audit": 2, "cases": 1}


def test_steps_run_once_in_order_and_a_failed_step_changes_nothing(tmp_path: Path) -> None:
    conn = connect(str(tmp_path / "m.db"))
    steps = ["CREATE TABLE t (a INTEGER);", "ALTER TABLE t ADD COLUMN b TEXT;"]
    assert migrate(conn, "demo", steps[:1]) == 1
    assert migrate(conn, "demo", steps) == 2
    assert migrate(conn, "demo", steps) == 2
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, "demo", [*steps, "CREATE TABLE u (x);\nSELECT nonsense FROM nowhere;"])
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'u'").fetchone() is None
    with pytest.raises(SchemaTooNew):
        migrate(conn, "demo", steps[:1])
    conn.close()


def test_statements_keep_trigger_bodies_whole() -> None:
    script = (
        "CREATE TABLE a (x);\n"
        "CREATE TRIGGER t BEFORE DELETE ON a\nBEGIN SELECT RAISE(ABORT, 'no'); END;\n"
    )
    assert len(list(statements(script))) == 2
    with pytest.raises(ValueError, match="incomplete"):
        list(statements("CREATE TABLE a (x"))
