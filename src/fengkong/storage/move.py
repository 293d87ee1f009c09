"""Move an embedded database to PostgreSQL: events, decisions, labels, the audit chain,
and the small stores' tables (rules, lists, freezes, models' metadata, keys, cases,
challenges, voiceprints, consortium lists), so the workers need no file of their own afterwards.

Rows are copied as they are, compressed values made plain (PostgreSQL compresses its
own large values): bodies stay sealed under the same field key, audit entries keep
their fields and chain hashes, so the chain verifies on the copy and goes on from its
head.
The identity sequences are moved past the copied ids, so the next event continues the
log. The target must be empty (a second run refuses rather than doubling the log).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fengkong.audit import log
from fengkong.audit.stored import plain_of
from fengkong.storage.postgres import PostgresStore

AUDIT_FIELDS = tuple(name for name, _ in log.FIELD_COLUMNS)
# Table -> columns, in the order they are copied (the audit log last: it covers the rest).
TABLES: dict[str, tuple[str, ...]] = {
    "events": ("seq", "event_id", "type", "user_id", "ts", "body"),
    "decisions": ("event_id", "body_hash", "outcome", "score", "decided_at", "body", "explain"),
    "late_results": ("event_id", "key", "value", "at"),
    "labels": ("id", "event_id", "user_id", "label", "source", "at", "scenario", "received_at"),
    "meta": ("key", "value"),
    "audit_log": ("seq", "kind", "ref", "user_id", "entry", "hash", *AUDIT_FIELDS),
    "audit_checkpoints": ("size", "at", "note"),
}
# The small stores' tables, parents before children; columns are those both sides have.
STORE_TABLES = (
    "rules_versions", "rules_live_log", "rules_list_entries", "rules_freezes", "rules_meta",
    "models_versions", "models_roles_log", "api_keys",
    "cases", "case_members", "case_events", "case_log", "case_inboxes", "case_meta",
    "challenges", "device_bindings", "totp_secrets", "voiceprints",
    "share_bundles", "share_entries", "share_revoked", "share_version", "share_vault",
)  # fmt: skip
# Rows their migration seeds in a fresh database: the file's replace them.
_SEEDED = {"rules_meta", "case_inboxes", "case_meta", "share_version"}
_IDENTITIES = {"events": "seq", "labels": "id", "rules_live_log": "seq", "models_roles_log": "seq"}
# BYTEA columns: SQLite may hand back TEXT for a BLOB column written as text; the chain
# hashes of older entries are hex text there.
_BINARY = {"body", "explain", "entry"}
_BINARY_OF = {"late_results": {"value"}}  # ``meta.value`` is text
_HEX = {"hash"}
_CHUNK = 2000


class TargetNotEmpty(RuntimeError):
    """The PostgreSQL database already holds events or labels."""


def count_rows(path: Path) -> dict[str, int]:
    """Rows of each table :func:`copy_to_postgres` copies (the file's, 0 when absent)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return {
            t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) if t in have else 0
            for t in (*TABLES, *STORE_TABLES)
        }
    finally:
        conn.close()


def copy_to_postgres(
    path: Path, url: str, progress: Callable[[int], object] | None = None
) -> dict[str, int]:
    """Copy the tables of :data:`TABLES` from the file at ``path`` into ``url``.

    One transaction: a failure leaves the target as it was. ``progress`` is called with
    the rows of each chunk copied. Returns the rows copied per table.
    """
    PostgresStore(url, pool_size=1).close()  # the schema, migrated
    _migrate_stores(url)
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    plain = plain_of(src)
    copied: dict[str, int] = {}
    try:
        import psycopg

        have = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        with psycopg.connect(url) as dst, dst.transaction():
            busy = dst.execute(
                "SELECT (SELECT COUNT(*) FROM events) + (SELECT COUNT(*) FROM labels)"
                " + (SELECT COUNT(*) FROM audit_log)"
            ).fetchone()
            if busy is not None and int(busy[0]) > 0:
                raise TargetNotEmpty("the PostgreSQL database already holds events or labels")
            for table, columns in TABLES.items():
                if table not in have:
                    copied[table] = 0
                    continue
                cols = ", ".join(columns)
                marks = ", ".join(["%s"] * len(columns))
                rows = src.execute(f"SELECT {cols} FROM {table} ORDER BY {columns[0]}")
                wide = _BINARY | _BINARY_OF.get(table, set())
                binary = [i for i, c in enumerate(columns) if c in wide]
                hexed = [i for i, c in enumerate(columns) if c in _HEX]
                # Only these may be compressed (a chain hash may start with any byte).
                bodies = {i for i, c in enumerate(columns) if c in ("body", "explain")}
                n = 0
                with dst.cursor() as cur:
                    while chunk := rows.fetchmany(_CHUNK):
                        cur.executemany(
                            f"INSERT INTO {table} ({cols}) VALUES ({marks})".encode(),
                            [_bytes(plain.row(r, bodies), binary, hexed) for r in chunk],
                        )
                        n += len(chunk)
                        if progress is not None:
                            progress(len(chunk))
                copied[table] = n
            for table in STORE_TABLES:
                copied[table] = _copy_store_table(src, dst, table, have, progress)
            for table, column in _IDENTITIES.items():
                dst.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                    f" COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)".encode()
                )
    finally:
        src.close()
    return copied


def _migrate_stores(url: str) -> None:
    """Create the small stores' tables in ``url`` (each store migrates its own)."""
    from fengkong.storage.cases_sqlite import CaseStore
    from fengkong.storage.challenges_sqlite import SQLiteChallengeStore
    from fengkong.storage.keys_sqlite import KeyStore
    from fengkong.storage.models_sqlite import SQLiteModelStore
    from fengkong.storage.rules_sqlite import SQLiteRuleStore
    from fengkong.storage.sharing_sqlite import SharingStore
    from fengkong.storage.voiceprints_sqlite import SQLiteVoiceprintStore

    for store in (
        SQLiteRuleStore(url, []),
        SQLiteModelStore(url, Path("models")),
        KeyStore(url),
        CaseStore(url),
        SQLiteChallengeStore(url),
        SQLiteVoiceprintStore(url),
        SharingStore(url),
    ):
        store.close()


def _copy_store_table(
    src: sqlite3.Connection,
    dst: Any,
    table: str,
    have: set[str],
    progress: Callable[[int], object] | None,
) -> int:
    """Copy one small store's table (the columns both sides have); returns its rows."""
    if table not in have:
        return 0
    theirs = {str(r[1]) for r in src.execute(f"PRAGMA table_info({table})")}
    ours = dst.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    columns = [str(c) for c, _ in ours if c in theirs]
    bytea = {str(c) for c, kind in ours if kind == "bytea"}
    cols = ", ".join(columns)
    busy = dst.execute(f"SELECT COUNT(*) FROM {table}".encode()).fetchone()
    if table in _SEEDED:
        dst.execute(f"DELETE FROM {table}".encode())
    elif busy is not None and int(busy[0]) > 0:
        raise TargetNotEmpty(f"the PostgreSQL database already holds {table}")
    rows = src.execute(f"SELECT {cols} FROM {table} ORDER BY {columns[0]}")
    binary = [i for i, c in enumerate(columns) if c in bytea]
    marks = ", ".join(["%s"] * len(columns))
    n = 0
    with dst.cursor() as cur:
        while chunk := rows.fetchmany(_CHUNK):
            cur.executemany(
                f"INSERT INTO {table} ({cols}) VALUES ({marks})".encode(),
                [_bytes(r, binary, []) for r in chunk],
            )
            n += len(chunk)
            if progress is not None:
                progress(len(chunk))
    return n


def _bytes(row: tuple[object, ...], binary: list[int], hexed: list[int]) -> tuple[object, ...]:
    if not binary and not hexed:
        return row
    out = list(row)
    for i in binary:
        if isinstance(out[i], str):
            out[i] = str(out[i]).encode()
    for i in hexed:
        if isinstance(out[i], str):
            out[i] = bytes.fromhex(str(out[i]))
    return tuple(out)
