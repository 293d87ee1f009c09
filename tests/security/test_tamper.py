"""Tampering with the database directly: ``fengkong audit verify`` names the first bad entry.

A database with every kind of audited record is built through the real code paths
(engine, labels, rule store, keys, audited reads); each case then edits, deletes,
inserts or reorders one kind of record with plain SQL (dropping the append-only
triggers first, as an attacker with the file would) and runs the command.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fengkong.api.secure import open_signer
from fengkong.audit.trail import AuditTrail
from fengkong.cli.main import main
from fengkong.rules import default_ruleset
from fengkong.runtime import build_runtime
from fengkong.settings import Settings
from fengkong.storage.keys_sqlite import KeyStore
from fengkong.storage.sql import open_db

ENV = {"FENGKONG_TOKEN_SECRET": "tamper-test-secret-0123456789"}


def _event(i: int) -> dict[str, object]:
    return {
        "event_id": f"e{i}",
        "type": "payment",
        "user_id": f"u{i % 2}",
        "occurred_at": f"2026-11-20T12:3{i}:00+08:00",
        "amount": str(10 + i),
        "phone": "13912345678",
    }


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("tamper")
    settings = Settings(db_path=d / "t.db", token_secret=ENV["FENGKONG_TOKEN_SECRET"])
    rt = build_runtime(settings)
    for i in range(1, 5):
        rt.engine.decide(_event(i))
    from fengkong.events import parse_label

    rt.engine.add_labels(
        [
            parse_label(
                {
                    "event_id": f"e{i}",
                    "label": "fraud",
                    "source": "chargeback",
                    "at": "2026-11-21T00:00:00Z",
                }
            )
            for i in (1, 2, 3)
        ]
    )
    store = rt.rule_store
    store.publish(default_ruleset(), author="ana", comment="second")
    store.rollback(author="ana")
    store.add_to_list("bad_ips", ["1.1.1.1", "2.2.2.2", "3.3.3.3"], note="n")
    store.remove_from_list("bad_ips", ["3.3.3.3"])
    store.freeze("user", "u1", "block", "fraud ring", created_by="ana")
    store.freeze("user", "u2", "review", "check", created_by="ana")
    rt.close()
    keys = KeyStore(settings.db_path)
    _, one = keys.create("app", ("ingest",))
    keys.create("ana", ("analyst",))
    keys.revoke(one.key_id)
    keys.close()
    trail = AuditTrail(open_db(settings.db_path), open_signer(settings))
    trail.record_read("e1", user="u1", actor="ana (k_1)", data={"explain": True})
    trail.checkpoint()
    trail.record_read("e2", user="u0", actor="ana (k_1)", data={"explain": False})
    trail.close()
    return settings.db_path


@pytest.fixture()
def db(pristine: Path, tmp_path: Path) -> Iterator[Path]:
    for f in pristine.parent.iterdir():
        shutil.copy(f, tmp_path / f.name)
    yield tmp_path / pristine.name


def _verify(db: Path) -> Result:
    return CliRunner().invoke(main, ["audit", "verify", "--db", str(db)], env=ENV)


def _sql(db: Path, *statements: str) -> None:
    conn = sqlite3.connect(db)
    for name in (
        "audit_log_no_update",
        "audit_log_no_delete",
        "rules_versions_no_update",
        "rules_versions_no_delete",
    ):
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    for s in statements:
        conn.execute(s)
    conn.commit()
    conn.close()


def _seq(db: Path, kind: str, ref: str) -> int:
    row = (
        sqlite3.connect(db)
        .execute(
            "SELECT seq FROM audit_log WHERE kind = ? AND ref = ? ORDER BY seq DESC", (kind, ref)
        )
        .fetchone()
    )
    return int(row[0])


def test_an_untouched_database_verifies(db: Path) -> None:
    r = _verify(db)
    assert r.exit_code == 0, r.output
    assert re.search(r"OK: \d+ entries, 1 signed checkpoints", r.output)


# (case, statements, the chain entry named first: (kind, ref) or None for an inserted row)
CASES: list[tuple[str, tuple[str, ...], tuple[str, str] | int | None]] = [
    (
        "event-edit",
        ("UPDATE events SET body = replace(body, '12', '99') WHERE event_id = 'e2'",),
        ("event", "e2"),
    ),
    ("event-delete", ("DELETE FROM events WHERE event_id = 'e3'",), ("event", "e3")),
    (
        "event-insert",
        (
            "INSERT INTO events (event_id, type, user_id, ts, body) "
            "VALUES ('e99', 'payment', 'u1', 1.0, '{}')",
        ),
        None,
    ),
    (
        "event-reorder",
        (
            "UPDATE events SET seq = 100 WHERE event_id = 'e1'",
            "UPDATE events SET seq = 1 WHERE event_id = 'e2'",
            "UPDATE events SET seq = 2 WHERE event_id = 'e1'",
        ),
        ("event", "e1"),
    ),
    (
        "decision-edit",
        (
            "UPDATE decisions SET outcome = 'allow', body = replace(body, "
            "'\"score\"', '\"score\" ') WHERE event_id = 'e4'",
        ),
        ("decision", "e4"),
    ),
    ("decision-delete", ("DELETE FROM decisions WHERE event_id = 'e1'",), ("decision", "e1")),
    (
        "decision-insert",
        ("INSERT INTO decisions VALUES ('e77', 'h', 'allow', 0, 1, '{}', '{}')",),
        None,
    ),
    (
        "decision-reorder",
        (
            "UPDATE decisions SET event_id = 'tmp' WHERE event_id = 'e1'",
            "UPDATE decisions SET event_id = 'e1' WHERE event_id = 'e2'",
            "UPDATE decisions SET event_id = 'e2' WHERE event_id = 'tmp'",
        ),
        ("decision", "e1"),
    ),
    ("label-edit", ("UPDATE labels SET label = 'legit' WHERE id = 2",), ("label", "2")),
    ("label-delete", ("DELETE FROM labels WHERE id = 1",), ("label", "1")),
    (
        "label-insert",
        (
            "INSERT INTO labels (event_id, user_id, label, source, at, received_at) "
            "VALUES ('e4', NULL, 'fraud', 'manual', 1, 1)",
        ),
        None,
    ),
    (
        "label-reorder",
        (
            "UPDATE labels SET id = 100 WHERE id = 1",
            "UPDATE labels SET id = 1 WHERE id = 2",
            "UPDATE labels SET id = 2 WHERE id = 100",
        ),
        ("label", "1"),
    ),
    (
        "rules-edit",
        ("UPDATE rules_versions SET body = replace(body, 'block', 'allow') WHERE version = 2",),
        ("rules", "2"),
    ),
    ("rules-delete", ("DELETE FROM rules_versions WHERE version = 2",), ("rules", "2")),
    ("rules-insert", ("INSERT INTO rules_versions VALUES (3, 'x', 'd', '{}', 1, 'm', '')",), None),
    (
        "rules-reorder",
        (
            "UPDATE rules_versions SET version = 9 WHERE version = 1",
            "UPDATE rules_versions SET version = 1 WHERE version = 2",
            "UPDATE rules_versions SET version = 2 WHERE version = 9",
        ),
        ("rules", "1"),
    ),
    ("live-edit", ("UPDATE rules_live_log SET version = 2 WHERE seq = 3",), ("live", "3")),
    ("live-delete", ("DELETE FROM rules_live_log WHERE seq = 3",), ("live", "3")),
    (
        "live-insert",
        (
            "INSERT INTO rules_live_log (version, at, author, action) "
            "VALUES (2, 1, 'm', 'activate')",
        ),
        None,
    ),
    (
        "live-reorder",
        (
            "UPDATE rules_live_log SET seq = 9 WHERE seq = 2",
            "UPDATE rules_live_log SET seq = 2 WHERE seq = 3",
            "UPDATE rules_live_log SET seq = 3 WHERE seq = 9",
        ),
        ("live", "2"),
    ),
    (
        "list-edit",
        ("UPDATE rules_list_entries SET expires_at = 1 WHERE value = '1.1.1.1'",),
        ("list_add", "bad_ips"),
    ),
    (
        "list-delete",
        ("DELETE FROM rules_list_entries WHERE value = '2.2.2.2'",),
        ("list_add", "bad_ips"),
    ),
    (
        "list-insert",
        ("INSERT INTO rules_list_entries VALUES ('bad_ips', '9.9.9.9', 1, NULL, '')",),
        None,
    ),
    (
        "list-move",
        ("UPDATE rules_list_entries SET list_name = 'good_ips' WHERE value = '1.1.1.1'",),
        ("list_add", "bad_ips"),
    ),
    (
        "freeze-edit",
        ("UPDATE rules_freezes SET action = 'review' WHERE value = 'u1'",),
        ("freeze", "user:u1"),
    ),
    ("freeze-delete", ("DELETE FROM rules_freezes WHERE value = 'u2'",), ("freeze", "user:u2")),
    (
        "freeze-insert",
        ("INSERT INTO rules_freezes VALUES ('user', 'u5', 'block', 'r', 1, NULL, 'x')",),
        None,
    ),
    (
        "freeze-reorder",
        (
            "UPDATE rules_freezes SET value = 'x' WHERE value = 'u1'",
            "UPDATE rules_freezes SET value = 'u1' WHERE value = 'u2'",
            "UPDATE rules_freezes SET value = 'u2' WHERE value = 'x'",
        ),
        ("freeze", "user:u1"),
    ),
    ("key-edit", ("UPDATE api_keys SET roles = '[\"admin\"]' WHERE name = 'ana'",), ("key", "ana")),
    ("key-unrevoke", ("UPDATE api_keys SET revoked_at = NULL WHERE name = 'app'",), ("key", "app")),
    ("key-delete", ("DELETE FROM api_keys WHERE name = 'ana'",), ("key", "ana")),
    (
        "key-insert",
        ("INSERT INTO api_keys VALUES ('k_x', 'evil', '[\"admin\"]', '00', 1, NULL)",),
        None,
    ),
    (
        "chain-edit",
        ("UPDATE audit_log SET kind = 'libel' WHERE kind = 'label' AND ref = '2'",),
        ("label", "2"),
    ),
    (
        "chain-delete",
        ("DELETE FROM audit_log WHERE kind = 'decision' AND ref = 'e2'",),
        ("decision", "e2"),
    ),
    (
        "chain-insert",
        (
            "UPDATE audit_log SET seq = -seq WHERE seq >= 5",
            "UPDATE audit_log SET seq = 1 - seq WHERE seq < 0",
            "INSERT INTO audit_log SELECT 5, kind, ref, user_id, entry, hash, actor, at, digest,"
            " data FROM audit_log WHERE seq = 8",
        ),
        5,
    ),
    (
        "chain-reorder",
        (
            "UPDATE audit_log SET seq = -5 WHERE seq = 5",
            "UPDATE audit_log SET seq = 5 WHERE seq = 6",
            "UPDATE audit_log SET seq = 6 WHERE seq = -5",
        ),
        5,
    ),
    (
        "chain-truncate",
        (
            "DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)",
            "DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)",
        ),
        None,
    ),
]


def _expected_seq(db: Path, kind: str, ref: str) -> int:
    if kind == "key":
        (key_id,) = (
            sqlite3.connect(db)
            .execute("SELECT key_id FROM api_keys WHERE name = ?", (ref,))
            .fetchone()
        )
        return _seq_any(db, ("key_create", "key_revoke"), key_id)
    return _seq(db, kind, ref)


def _seq_any(db: Path, kinds: tuple[str, ...], ref: str) -> int:
    return max(_seq(db, k, ref) for k in kinds if _has(db, k, ref))


def _has(db: Path, kind: str, ref: str) -> bool:
    conn = sqlite3.connect(db)
    return (
        conn.execute("SELECT 1 FROM audit_log WHERE kind = ? AND ref = ?", (kind, ref)).fetchone()
        is not None
    )


@pytest.mark.parametrize(("case", "statements", "named"), CASES, ids=[c[0] for c in CASES])
def test_any_tampering_fails_and_names_the_first_bad_entry(
    db: Path, case: str, statements: tuple[str, ...], named: tuple[str, str] | int | None
) -> None:
    expected = named if not isinstance(named, tuple) else _expected_seq(db, *named)
    _sql(db, *statements)
    r = _verify(db)
    assert r.exit_code == 1, r.output
    first = r.output.splitlines()[0]
    assert "audit chain FAILED: first bad entry:" in first
    if expected is not None:
        assert f"entry {expected}:" in first, (case, expected, r.output)


def test_an_operator_rewrite_is_caught_by_a_published_checkpoint(db: Path) -> None:
    """The operator holds the database and the signing key: they edit a decision, rebuild
    the whole chain and re-sign it. Only a checkpoint published before gives it away."""

    from fengkong.audit import log
    from fengkong.audit.canonical import canonical
    from fengkong.audit.records import row_digest

    runner = CliRunner()
    key = runner.invoke(main, ["audit", "public-key", "--db", str(db)], env=ENV).output.strip()
    published = db.parent / "published.txt"
    out = runner.invoke(
        main, ["audit", "checkpoint", "--db", str(db), "--out", str(published)], env=ENV
    )
    assert out.exit_code == 0, out.output

    conn = sqlite3.connect(db)
    conn.execute("UPDATE decisions SET outcome = 'block', score = 0.99 WHERE event_id = 'e4'")
    row = conn.execute(
        "SELECT event_id, body_hash, outcome, score, decided_at, body, explain FROM decisions "
        "WHERE event_id = 'e4'"
    ).fetchone()
    rows = [(s.seq, s.parsed()) for s in log.entries(conn)]
    for name in ("audit_log_no_update", "audit_log_no_delete"):
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("DELETE FROM audit_log")
    conn.execute("DELETE FROM audit_checkpoints")
    head = log.GENESIS
    for seq, parsed in rows:
        if parsed["kind"] == "decision" and parsed["ref"] == "e4":
            parsed["digest"] = row_digest("decision", tuple(row))
        raw = canonical(parsed)
        head = log.chain_hash(head, raw)
        conn.execute(
            "INSERT INTO audit_log (seq, kind, ref, user_id, entry, hash) VALUES (?,?,?,?,?,?)",
            (seq, parsed["kind"], parsed["ref"], parsed["user"], raw, head.hex()),
        )
    conn.commit()
    conn.close()
    assert runner.invoke(main, ["audit", "checkpoint", "--db", str(db)], env=ENV).exit_code == 0

    assert _verify(db).exit_code == 0  # the local check alone is fooled
    r = runner.invoke(
        main,
        ["audit", "verify", "--db", str(db), "--key", key, "--checkpoint", str(published)],
        env=ENV,
    )
    assert r.exit_code == 1
    assert "differ from the signed checkpoint" in r.output


def test_a_database_from_before_the_chain_is_adopted_once(db: Path) -> None:
    _sql(db, "DELETE FROM audit_log", "DELETE FROM audit_checkpoints")
    first = _verify(db)
    assert first.exit_code == 1 and "covered by no chain entry" in first.output
    runner = CliRunner()
    adopted = runner.invoke(main, ["audit", "adopt", "--db", str(db)], env=ENV)
    assert adopted.exit_code == 0, adopted.output
    assert _verify(db).exit_code == 0
    assert runner.invoke(main, ["audit", "adopt", "--db", str(db)], env=ENV).exit_code == 1
    _sql(db, "UPDATE labels SET label = 'legit' WHERE id = 3")
    assert "label '3': record edited" in _verify(db).output
