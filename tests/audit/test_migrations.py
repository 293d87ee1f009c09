"""The chain's tables are versioned migrations; files written before that upgrade in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fengkong.audit import log
from fengkong.audit.checkpoint import load_signer
from fengkong.audit.trail import AuditTrail
from fengkong.audit.verify import verify_database
from fengkong.storage.sql import open_db

# The tables exactly as the code before versioning created them (its SCHEMA script,
# then ALTERs adding the field columns): written out here, not taken from log.STEPS,
# so a change of the steps that would not upgrade these files fails the test.
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, ref TEXT NOT NULL, user_id TEXT,
    entry BLOB NOT NULL, hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    size INTEGER PRIMARY KEY, at REAL NOT NULL, note TEXT NOT NULL
);
"""
OLD_COLUMNS = ("actor TEXT", "at REAL", "digest BLOB", "data TEXT")


def _old_file(path: Path, *, columns: bool) -> list[bytes]:
    """A chain of three reads, written the way the old code wrote it; their bytes."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(OLD_SCHEMA)
    if columns:
        for column in OLD_COLUMNS:
            conn.execute(f"ALTER TABLE audit_log ADD COLUMN {column}")
        log.record(
            conn, [log.Pending("read", f"e{n}", None, "u1", "ana", {"n": n}) for n in (1, 2)]
        )
        log.record(conn, [log.Pending("read", "e3", None, "u2", "ana", {"n": 3})])
    else:  # the entry's JSON kept whole, as the first chain stored it
        head = log.GENESIS
        for seq in (1, 2, 3):
            entry = (
                b'{"actor":"ana","at":5.0,"data":null,"digest":null,"kind":"read",'
                b'"ref":"e%d","seq":%d,"user":"u1"}' % (seq, seq)
            )
            head = log.chain_hash(head, entry)
            conn.execute(
                "INSERT INTO audit_log (seq, kind, ref, user_id, entry, hash)"
                " VALUES (?, 'read', ?, 'u1', ?, ?)",
                (seq, f"e{seq}", entry, head.hex()),
            )
    written = [bytes(r[0]) for r in conn.execute("SELECT entry FROM audit_log ORDER BY seq")]
    if columns:
        written = [s.entry for s in log.entries(conn)]
    conn.close()
    return written


def _versions(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT component, version FROM schema_versions").fetchall())
    finally:
        conn.close()


def test_a_new_file_takes_every_step(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    AuditTrail(open_db(db)).close()
    assert _versions(db) == {"audit": len(log.STEPS)}
    conn = sqlite3.connect(db)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(audit_log)")]
    triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
    conn.close()
    assert columns == [
        "seq",
        "kind",
        "ref",
        "user_id",
        "entry",
        "hash",
        "actor",
        "at",
        "digest",
        "data",
    ]
    assert triggers == {"audit_log_no_update", "audit_log_no_delete"}


@pytest.mark.parametrize("columns", [True, False], ids=["field-columns", "json-entries"])
def test_a_file_from_the_old_code_upgrades_and_its_chain_still_verifies(
    tmp_path: Path, columns: bool
) -> None:
    db = tmp_path / "old.db"
    before = _old_file(db, columns=columns)
    signer = load_signer(tmp_path / "audit.key", "test.local/audit")
    trail = AuditTrail(open_db(db), signer)
    trail.record_read("e4", user="u1", actor="ana", data={"n": 4})
    trail.checkpoint()
    trail.close()
    AuditTrail(open_db(db)).close()  # a second open migrates nothing
    assert _versions(db) == {"audit": 2}
    conn = sqlite3.connect(db)
    after = [s.entry for s in log.entries(conn)]
    assert after[:3] == before and len(after) == 4
    report = verify_database(conn, signer.verifier)
    conn.close()
    assert report.ok, [str(p) for p in report.problems]
    assert report.entries == 4 and report.checkpoints == 1


def test_the_upgraded_chain_stays_append_only(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    _old_file(db, columns=True)
    AuditTrail(open_db(db)).close()
    conn = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE seq = 1")
    conn.close()
