"""Adopting a database written before the chain existed: every record it holds is
chained once, attributed to the operator who adopts it, so later changes are caught.

Only an empty chain can adopt (afterwards every write is chained as it happens); the
adoption attests the records as they are at that moment, no more.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from fengkong.audit import log
from fengkong.audit.records import (
    APPEND_ONLY,
    FREEZE_COLUMNS,
    KEY_COLUMNS,
    LIST_COLUMNS,
    body_columns,
    row_digest,
    row_ref,
)
from fengkong.audit.stored import plain_of


class AdoptionRefused(RuntimeError):
    """The chain already has entries: records are chained as they are written."""


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return found is not None


def _users(conn: sqlite3.Connection) -> dict[str, str]:
    if not _has_table(conn, "events"):
        return {}
    return {str(e): str(u) for e, u in conn.execute("SELECT event_id, user_id FROM events")}


def _pending(conn: sqlite3.Connection, actor: str) -> list[log.Pending]:
    users = _users(conn)
    out: list[log.Pending] = []
    for kind, (table, columns, _, order, _) in APPEND_ONLY.items():
        if not _has_table(conn, table):
            continue
        sql = f"SELECT {', '.join(columns)} FROM {table}" + (f" ORDER BY {order}" if order else "")
        plain, bodies = plain_of(conn), body_columns(kind)
        for stored in conn.execute(sql):
            row = plain.row(tuple(stored), bodies)
            fields = dict(zip(columns, row, strict=True))
            user = fields.get("user_id") or users.get(str(fields.get("event_id")))
            out.append(log.Pending(kind, row_ref(kind, row), row_digest(kind, row), user, actor))
    out.extend(_state(conn, actor))
    return out


def _state(conn: sqlite3.Connection, actor: str) -> list[log.Pending]:
    out: list[log.Pending] = []
    if _has_table(conn, "rules_list_entries"):
        for row in conn.execute(f"SELECT {', '.join(LIST_COLUMNS)} FROM rules_list_entries"):
            name, value, added_at, expires_at, note = row
            data: dict[str, Any] = {
                "values": [value],
                "added_at": added_at,
                "expires_at": expires_at,
                "note": note,
            }
            out.append(log.Pending("list_add", name, None, None, actor, data))
    if _has_table(conn, "rules_freezes"):
        for row in conn.execute(f"SELECT {', '.join(FREEZE_COLUMNS)} FROM rules_freezes"):
            data = dict(zip(FREEZE_COLUMNS, row, strict=True))
            out.append(log.Pending("freeze", f"{row[0]}:{row[1]}", None, None, actor, data))
    if _has_table(conn, "api_keys"):
        for row in conn.execute(f"SELECT {', '.join(KEY_COLUMNS)} FROM api_keys"):
            data = dict(zip(KEY_COLUMNS[:5], row[:5], strict=True))
            out.append(log.Pending("key_create", row[0], None, None, actor, data))
            if row[5] is not None:
                revoke = {"key_id": row[0], "at": row[5]}
                out.append(log.Pending("key_revoke", row[0], None, None, actor, revoke))
    return out


def adopt(conn: sqlite3.Connection, actor: str) -> int:
    """Chain every record of a database whose chain is empty; returns the entries added.

    The chain's tables must be there (the storage layer migrates them when it opens).
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        if log.size(conn):
            raise AdoptionRefused("the chain already has entries: nothing to adopt")
        pending = _pending(conn, actor)
        if pending:
            log.append(conn, pending)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return len(pending)
