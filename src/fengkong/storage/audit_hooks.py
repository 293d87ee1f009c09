"""The storage side of the audit chain: entries for what each commit writes.

Every function runs inside the caller's open write transaction, so a record and the
chain entry that covers it commit together (see :mod:`fengkong.audit.log`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from fengkong.audit import log
from fengkong.audit.actor import current_actor
from fengkong.audit.records import row_digest
from fengkong.decisions.store import DecisionRecord, LabelRecord
from fengkong.storage.connect import migrate, statements


def ensure(conn: sqlite3.Connection) -> None:
    """The chain's tables in the file, at the version of :data:`fengkong.audit.log.STEPS`."""
    migrate(conn, "audit", log.STEPS, unversioned=_unversioned_version)


def _unversioned_version(conn: sqlite3.Connection) -> int:
    """The version of a chain written before its tables were versioned.

    Such a file took step 1 (the table) and, if it has the field columns, step 2; step 1
    is all ``IF NOT EXISTS``, so only the second case needs saying: its ``ALTER``s would
    fail. Its step 1 is run again (idempotent) in case the triggers were never made.
    """
    have = {str(r[1]) for r in conn.execute("PRAGMA table_info(audit_log)")}
    if not have.issuperset(name for name, _ in log.FIELD_COLUMNS):
        return 0
    for statement in statements(log.STEPS[0]):
        conn.execute(statement)
    return 2


def chain_decisions(
    conn: log.Connection,
    records: Sequence[DecisionRecord],
    decided_at: float,
    bodies: Sequence[bytes],
) -> None:
    """One ``event`` and one ``decision`` entry per record, in commit order.

    ``bodies`` are the event bodies as stored (protected fields sealed).
    """
    actor = current_actor.get()
    pending: list[log.Pending] = []
    for r, body in zip(records, bodies, strict=True):
        event = (r.event_id, r.event_type, r.user_id, r.ts, body)
        decision = (
            r.event_id,
            r.body_hash,
            r.outcome,
            r.score,
            decided_at,
            r.decision_json,
            r.explain_json,
        )
        pending.append(
            log.Pending("event", r.event_id, row_digest("event", event), r.user_id, actor)
        )
        pending.append(
            log.Pending("decision", r.event_id, row_digest("decision", decision), r.user_id, actor)
        )
    log.append(conn, pending, at=decided_at)


def chain_late(conn: log.Connection, event_id: str, key: str, value: bytes, at: float) -> None:
    """The ``late`` entry of a result attached to a stored decision after its answer."""
    row = (event_id, key, value, at)
    user = _user_of(conn, event_id)
    pending = log.Pending("late", event_id, row_digest("late", row), user, current_actor.get())
    log.append(conn, [pending], at=at)


def chain_labels(
    conn: log.Connection, inserted: Sequence[tuple[int, LabelRecord]], received_at: float
) -> None:
    """One ``label`` entry per label just inserted, given with its row id."""
    if not inserted:
        return
    actor = current_actor.get()
    pending = []
    for label_id, x in inserted:
        row = (label_id, x.event_id, x.user_id, x.label, x.source, x.at, x.scenario, received_at)
        user = x.user_id or _user_of(conn, x.event_id)
        pending.append(log.Pending("label", str(label_id), row_digest("label", row), user, actor))
    log.append(conn, pending, at=received_at)


def chain_change(
    conn: log.Connection,
    kind: str,
    ref: str,
    *,
    row: tuple[Any, ...] | None = None,
    data: dict[str, Any] | None = None,
    actor: str | None = None,
) -> None:
    """One entry for a rule, list, freeze or key change (``row`` for append-only kinds)."""
    digest = row_digest(kind, row) if row is not None else None
    log.append(conn, [log.Pending(kind, ref, digest, None, actor or current_actor.get(), data)])


def _user_of(conn: log.Connection, event_id: str | None) -> str | None:
    if event_id is None:
        return None
    found = conn.execute("SELECT user_id FROM events WHERE event_id = ?", (event_id,)).fetchone()
    return None if found is None else str(found[0])
