"""What each kind of audited record is, and its digest.

The storage layer calls these functions with the values it writes, in the same
transaction; :mod:`fengkong.audit.verify` calls them with the values it reads back.
A record's digest is the SHA-256 of the canonical JSON of its columns, large bodies
replaced by their own SHA-256, so an evidence bundle can carry the bodies and a
verifier recompute every digest from them.

Append-only kinds (one entry per row, ``ref`` is the row's key):

========== ==================== ============================================
kind       table                key (ref)
========== ==================== ============================================
event      events               event_id (chain order = ``seq`` order)
decision   decisions            event_id
label      labels               id (chain order = ``id`` order)
rules      rules_versions       version
live       rules_live_log       seq (chain order = ``seq`` order)
late       late_results         event_id (a check that finished after the answer)
========== ==================== ============================================

Changed-state kinds (the entry's ``data`` holds the change; replaying them must give
the table as it is): ``list_add``, ``list_remove``, ``freeze``, ``unfreeze``,
``purge`` (lists and freezes) and ``key_create``, ``key_revoke`` (API keys).
``read`` (an analyst read customer data), ``tokenise`` (raw values were tokenised) and
``export`` (an evidence bundle was exported) entries exist only in the chain.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fengkong.audit.canonical import digest

EVENT_COLUMNS = ("event_id", "type", "user_id", "ts", "body")
DECISION_COLUMNS = ("event_id", "body_hash", "outcome", "score", "decided_at", "body", "explain")
LABEL_COLUMNS = (
    "id",
    "event_id",
    "user_id",
    "label",
    "source",
    "at",
    "scenario",
    "received_at",
)
RULES_COLUMNS = ("version", "name", "digest", "body", "created_at", "author", "comment")
LIVE_COLUMNS = ("seq", "version", "at", "author", "action")
LATE_COLUMNS = ("event_id", "key", "value", "at")
LIST_COLUMNS = ("list_name", "value", "added_at", "expires_at", "note")
FREEZE_COLUMNS = ("kind", "value", "action", "reason", "created_at", "expires_at", "created_by")
KEY_COLUMNS = ("key_id", "name", "roles", "hash", "created_at", "revoked_at")

# kind -> (table, columns, key column, ordered by, columns whose bytes are hashed first)
APPEND_ONLY: dict[str, tuple[str, tuple[str, ...], str, str | None, frozenset[str]]] = {
    "event": ("events", EVENT_COLUMNS, "event_id", "seq", frozenset({"body"})),
    "decision": ("decisions", DECISION_COLUMNS, "event_id", None, frozenset({"body", "explain"})),
    "label": ("labels", LABEL_COLUMNS, "id", "id", frozenset()),
    "rules": ("rules_versions", RULES_COLUMNS, "version", "version", frozenset({"body"})),
    "live": ("rules_live_log", LIVE_COLUMNS, "seq", "seq", frozenset()),
    "late": ("late_results", LATE_COLUMNS, "event_id", None, frozenset({"value"})),
}


def row_digest(kind: str, row: tuple[Any, ...]) -> str:
    """The digest of one row of an append-only kind, columns as in :data:`APPEND_ONLY`."""
    # On the write path of every event: plain loops, no per-value helper calls.
    _, columns, _, _, hashed = APPEND_ONLY[kind]
    fields: dict[str, Any] = {"kind": kind}
    for name, v in zip(columns, row, strict=True):
        if type(v) is bytes:
            v = {"sha256": hashlib.sha256(v).hexdigest()}
        elif name in hashed and type(v) is str:
            v = {"sha256": hashlib.sha256(v.encode()).hexdigest()}
        elif isinstance(v, bytearray | memoryview):
            v = {"sha256": hashlib.sha256(bytes(v)).hexdigest()}
        fields[name] = v
    return digest(fields)


def ids_digest(event_ids: list[str]) -> str:
    """The SHA-256 of pruned event ids, sorted, one a line (what a ``prune`` entry names)."""
    return hashlib.sha256("\n".join(sorted(event_ids)).encode()).hexdigest()


def body_columns(kind: str) -> frozenset[int]:
    """Positions of the columns hashed by their bytes (the ones that may be compressed)."""
    _, columns, _, _, hashed = APPEND_ONLY[kind]
    return frozenset(i for i, name in enumerate(columns) if name in hashed)


def row_ref(kind: str, row: tuple[Any, ...]) -> str:
    _, columns, key, _, _ = APPEND_ONLY[kind]
    return str(row[columns.index(key)])


def record_fields(kind: str, row: tuple[Any, ...]) -> dict[str, Any]:
    """A row as JSON for an evidence bundle: bodies as UTF-8 text when they are text."""
    _, columns, _, _, _ = APPEND_ONLY[kind]
    out: dict[str, Any] = {}
    for name, v in zip(columns, row, strict=True):
        if isinstance(v, bytes | bytearray | memoryview):
            v = bytes(v).decode("utf-8")
        out[name] = v
    return out


def fields_digest(kind: str, fields: dict[str, Any]) -> str:
    """The digest of a record given as :func:`record_fields` gave it (offline check)."""
    _, columns, _, _, _ = APPEND_ONLY[kind]
    if set(fields) != set(columns):
        raise ValueError(f"a {kind} record has the fields {', '.join(columns)}")
    return row_digest(kind, tuple(fields[c] for c in columns))
