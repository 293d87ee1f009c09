"""Cases in the event store's database: opened by review decisions, worked by analysts.

Portable SQL (plain types, no SQLite-only constructs): the same steps run in the SQLite
file and in PostgreSQL (a ``postgresql://`` URL, :mod:`fengkong.storage.sql`). A case is
*active* (``active = 1``) until closed; one active case per subject (a partial unique
index). The queue reads ``cases_queue`` (active, inbox, due time) with keyset
pagination, so a page costs the same with 100,000 open cases as with ten. Every change
writes a ``case_log`` row and an audit-chain entry in its transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson

from fengkong.audit import log
from fengkong.cases import Case, CaseError, Inbox, check_move, check_outcome, route
from fengkong.cases.model import reason_keys
from fengkong.decisions.store import DecisionRecord
from fengkong.storage import audit_hooks
from fengkong.storage.audit_hooks import chain_change
from fengkong.storage.connect import PerThread, migrate
from fengkong.storage.sql import PostgresDB, is_postgres

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    status TEXT NOT NULL,
    active INTEGER NOT NULL,
    outcome TEXT,
    inbox TEXT NOT NULL,
    assignee TEXT,
    opened_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    due_at DOUBLE PRECISION NOT NULL,
    closed_at DOUBLE PRECISION,
    decisions INTEGER NOT NULL,
    top_score DOUBLE PRECISION NOT NULL,
    last_event_id TEXT,
    escalated INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_queue ON cases (active, inbox, due_at, case_id, assignee);
CREATE INDEX IF NOT EXISTS cases_due ON cases (active, due_at, case_id);
CREATE INDEX IF NOT EXISTS cases_assignee ON cases (assignee, active, due_at);
CREATE UNIQUE INDEX IF NOT EXISTS cases_one_active ON cases (kind, subject) WHERE active = 1;
CREATE TABLE IF NOT EXISTS case_members (
    case_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (case_id, user_id)
);
CREATE INDEX IF NOT EXISTS case_members_user ON case_members (user_id, case_id);
CREATE TABLE IF NOT EXISTS case_events (
    case_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    added_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (case_id, event_id)
);
CREATE TABLE IF NOT EXISTS case_log (
    case_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
);
CREATE TABLE IF NOT EXISTS case_inboxes (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    patterns TEXT NOT NULL,
    sla_s DOUBLE PRECISION NOT NULL,
    title TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS case_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO case_meta (key, value) SELECT 'next_case', '1'
    WHERE NOT EXISTS (SELECT 1 FROM case_meta WHERE key = 'next_case');
INSERT INTO case_inboxes SELECT 'rings', 10, 'rule:*ring*,rule:*cluster*,rule:*merchant*,'
    || 'rule:*cash*,rule:shared_device*', 7200, 'Rings and cash-out'
    WHERE NOT EXISTS (SELECT 1 FROM case_inboxes WHERE name = 'rings');
INSERT INTO case_inboxes SELECT 'takeover', 20, 'rule:login_*,rule:*travel*,rule:*new_device*,'
    || 'rule:money_after_*,rule:*device_switching*,rule:draw_after_*', 3600, 'Account takeover'
    WHERE NOT EXISTS (SELECT 1 FROM case_inboxes WHERE name = 'takeover');
INSERT INTO case_inboxes SELECT 'registration', 30, 'rule:reg_*,rule:opened_on_*,rule:*farm*',
    14400, 'Batch registration'
    WHERE NOT EXISTS (SELECT 1 FROM case_inboxes WHERE name = 'registration');
INSERT INTO case_inboxes SELECT 'money', 40, 'rule:*amount*,rule:*outflow*,rule:*payee*,'
    || 'rule:*transfer*', 7200, 'Money movement'
    WHERE NOT EXISTS (SELECT 1 FROM case_inboxes WHERE name = 'money');
INSERT INTO case_inboxes SELECT 'general', 1000, '*', 86400, 'General review'
    WHERE NOT EXISTS (SELECT 1 FROM case_inboxes WHERE name = 'general');
"""

_COLUMNS = (
    "case_id, kind, subject, status, inbox, opened_at, updated_at, due_at, outcome,"
    " assignee, closed_at, decisions, top_score, last_event_id, escalated"
)


# outcome, assignee, closed_at, decisions, top_score, last_event_id, escalated, active
_FRESH = (None, None, None, 0, 0.0, None, 0, 1)


def ensure(conn: sqlite3.Connection) -> None:
    migrate(conn, "cases", [_SCHEMA])


STEPS = [_SCHEMA]  # the same text on PostgreSQL


def _case(row: Sequence[Any]) -> Case:
    names = [c.strip() for c in _COLUMNS.split(",")]
    values = dict(zip(names, row, strict=True))
    values["escalated"] = bool(values["escalated"])
    return Case(**values)


def inboxes(conn: log.Connection) -> list[Inbox]:
    rows = conn.execute(
        "SELECT name, patterns, sla_s, title FROM case_inboxes ORDER BY position, name"
    ).fetchall()
    return [Inbox(n, tuple(p.split(",")), float(s), t) for n, p, s, t in rows]


def _next_id(conn: log.Connection) -> str:
    row = conn.execute("SELECT value FROM case_meta WHERE key = 'next_case'").fetchone()
    n = int(row[0])
    conn.execute("UPDATE case_meta SET value = ? WHERE key = 'next_case'", (str(n + 1),))
    return f"C{n:07d}"


def _log(
    conn: log.Connection, case_id: str, at: float, actor: str | None, action: str, detail: Any
) -> None:
    row = conn.execute("SELECT MAX(seq) FROM case_log WHERE case_id = ?", (case_id,)).fetchone()
    seq = 1 if row[0] is None else int(row[0]) + 1
    text = orjson.dumps(detail).decode()
    conn.execute(
        "INSERT INTO case_log VALUES (?,?,?,?,?,?)", (case_id, seq, at, actor, action, text)
    )
    chain_change(conn, f"case_{action}", case_id, data={"detail": detail}, actor=actor)


def _active_for(conn: log.Connection, user_id: str) -> str | None:
    """The active case a review of ``user_id`` joins: its ring's, else its own."""
    row = conn.execute(
        "SELECT c.case_id FROM case_members m JOIN cases c ON c.case_id = m.case_id"
        " WHERE m.user_id = ? AND c.active = 1 ORDER BY c.kind DESC LIMIT 1",
        (user_id,),
    ).fetchone()
    return None if row is None else str(row[0])


def open_case(
    conn: log.Connection,
    *,
    kind: str,
    subject: str,
    members: Sequence[str],
    inbox: Inbox,
    now: float,
    actor: str | None,
    detail: dict[str, Any],
) -> str:
    """Insert a new active case (in the caller's transaction); returns its id."""
    case_id = _next_id(conn)
    conn.execute(
        f"INSERT INTO cases ({_COLUMNS}, active) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (case_id, kind, subject, "open", inbox.name, now, now, now + inbox.sla_s, *_FRESH),
    )
    conn.executemany(
        "INSERT INTO case_members VALUES (?, ?)", [(case_id, m) for m in dict.fromkeys(members)]
    )
    _log(conn, case_id, now, actor, "open", {"kind": kind, "inbox": inbox.name, **detail})
    return case_id


def on_decisions(conn: log.Connection, records: Sequence[DecisionRecord], now: float) -> None:
    """Every ``review`` opens or joins its account's case, in the decisions' transaction."""
    reviews = [r for r in records if r.outcome == "review"]
    if not reviews:
        return
    boxes = inboxes(conn)
    for r in reviews:
        case_id = _active_for(conn, r.user_id)
        if case_id is None:
            reasons = reason_keys(orjson.loads(r.decision_json))
            case_id = open_case(
                conn,
                kind="account",
                subject=r.user_id,
                members=[r.user_id],
                inbox=route(boxes, reasons),
                now=now,
                actor=None,
                detail={"event_id": r.event_id, "reasons": reasons[:8]},
            )
        conn.execute(
            "UPDATE cases SET decisions = decisions + 1, updated_at = ?, last_event_id = ?,"
            " top_score = CASE WHEN top_score < ? THEN ? ELSE top_score END WHERE case_id = ?",
            (now, r.event_id, r.score, r.score, case_id),
        )
        conn.execute(
            "INSERT INTO case_events VALUES (?,?,?,?) ON CONFLICT (case_id, event_id) DO NOTHING",
            (case_id, r.event_id, r.user_id, now),
        )


def close_in(
    conn: log.Connection, case_id: str, outcome: str, actor: str | None, now: float
) -> None:
    """Close an active case with ``outcome`` in the caller's transaction (with its labels)."""
    check_outcome(outcome)
    row = conn.execute("SELECT status FROM cases WHERE case_id = ?", (case_id,)).fetchone()
    if row is None:
        raise CaseError(f"no case {case_id}")
    check_move(str(row[0]), "closed")
    conn.execute(
        "UPDATE cases SET status = 'closed', active = 0, outcome = ?, closed_at = ?,"
        " updated_at = ? WHERE case_id = ?",
        (outcome, now, now, case_id),
    )
    _log(conn, case_id, now, actor, "close", {"outcome": outcome})


class CaseStore:
    """Reading and working cases in the database at ``path`` (a file or a URL)."""

    def __init__(self, path: str | Path, clock: Callable[[], float] | None = None) -> None:
        import time

        self.path = str(path)
        self.clock = clock or time.time
        self._lock = threading.Lock()
        self._counted: tuple[float, dict[str, dict[str, int]]] | None = None
        self._pg = PostgresDB(self.path) if is_postgres(self.path) else None
        if self._pg is not None:
            self._pg.migrate("cases", {"postgres": STEPS, "sqlite": STEPS})
            return
        self._conns = PerThread(self.path)
        audit_hooks.ensure(self._conns.get())  # its changes are chained
        ensure(self._conns.get())

    def _conn(self) -> log.Connection:
        return self._pg if self._pg is not None else self._conns.get()

    @contextmanager
    def _write(self) -> Iterator[log.Connection]:
        if self._pg is not None:
            # The writers' lock: case changes extend the audit chain.
            with self._pg.write() as c:
                yield c
            self._counted = None
            return
        conn = self._conns.get()
        with self._lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            self._counted = None

    # -- reading ------------------------------------------------------------------------
    def inboxes(self) -> list[Inbox]:
        return inboxes(self._conn())

    def set_inbox(self, inbox: Inbox, position: int, actor: str) -> None:
        """Add or change an inbox (its patterns, SLA, title); cases opened later use it."""
        if not inbox.name or not inbox.patterns or inbox.sla_s <= 0:
            raise CaseError(
                "an inbox needs a name, at least one pattern and a positive SLA", "inbox"
            )
        with self._write() as conn:
            conn.execute("DELETE FROM case_inboxes WHERE name = ?", (inbox.name,))
            conn.execute(
                "INSERT INTO case_inboxes VALUES (?,?,?,?,?)",
                (inbox.name, position, ",".join(inbox.patterns), inbox.sla_s, inbox.title),
            )
            data = {"patterns": list(inbox.patterns), "sla_s": inbox.sla_s, "position": position}
            chain_change(conn, "case_inbox", inbox.name, data=data, actor=actor)

    def get(self, case_id: str) -> Case | None:
        conn = self._conn()
        row = conn.execute(f"SELECT {_COLUMNS} FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        if row is None:
            return None
        case = _case(row)
        members = conn.execute(
            "SELECT user_id FROM case_members WHERE case_id = ? ORDER BY user_id", (case_id,)
        )
        case.members = [str(m[0]) for m in members]
        return case

    def queue(
        self,
        *,
        inbox: str | None = None,
        assignee: str | None = None,
        unassigned: bool = False,
        after: tuple[float, str] | None = None,
        limit: int = 50,
        active: bool = True,
    ) -> list[Case]:
        """Cases by due time (most urgent first), a page after ``after`` (due_at, case_id)."""
        where, args = ["active = ?"], [1 if active else 0]
        if inbox is not None:
            where.append("inbox = ?")
            args.append(inbox)  # type: ignore[arg-type]
        if assignee is not None:
            where.append("assignee = ?")
            args.append(assignee)  # type: ignore[arg-type]
        elif unassigned:
            where.append("assignee IS NULL")
        if after is not None:
            where.append("(due_at, case_id) > (?, ?)")  # row values: an index range
            args += [after[0], after[1]]  # type: ignore[list-item]
        order = "due_at, case_id" if active else "due_at DESC, case_id DESC"
        sql = f"SELECT {_COLUMNS} FROM cases WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?"
        rows = self._conn().execute(sql, [*args, limit]).fetchall()
        return [_case(r) for r in rows]

    def counts(
        self, now: float | None = None, *, max_age_s: float = 0.0
    ) -> dict[str, dict[str, int]]:
        """Per inbox: active cases, those past their SLA, those nobody holds.

        ``max_age_s``: a count at most that old may be reused (counting 100,000 active
        cases reads their whole index; a queue page need not do it on every view).
        """
        at = self.clock() if now is None else now
        cached = self._counted
        if cached is not None and max_age_s > 0 and at - cached[0] <= max_age_s:
            return cached[1]
        rows = self._conn().execute(
            "SELECT inbox, COUNT(*), SUM(CASE WHEN due_at < ? THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN assignee IS NULL THEN 1 ELSE 0 END)"
            " FROM cases WHERE active = 1 GROUP BY inbox",
            (at,),
        )
        counted = {
            str(i): {"active": int(n), "breached": int(b or 0), "unassigned": int(u or 0)}
            for i, n, b, u in rows
        }
        self._counted = (at, counted)
        return counted

    def events(self, case_id: str, limit: int = 500) -> list[tuple[str, str]]:
        """``(event_id, user_id)`` of the reviews the case holds, oldest first."""
        rows = self._conn().execute(
            "SELECT event_id, user_id FROM case_events WHERE case_id = ?"
            " ORDER BY added_at, event_id LIMIT ?",
            (case_id, limit),
        )
        return [(str(e), str(u)) for e, u in rows]

    def history(self, case_id: str) -> list[dict[str, Any]]:
        rows = self._conn().execute(
            "SELECT seq, at, actor, action, detail FROM case_log WHERE case_id = ? ORDER BY seq",
            (case_id,),
        )
        return [
            {"seq": s, "at": a, "actor": w, "action": x, "detail": orjson.loads(d)}
            for s, a, w, x, d in rows
        ]

    def cases_of(self, user_id: str) -> list[str]:
        rows = self._conn().execute(
            "SELECT case_id FROM case_members WHERE user_id = ? ORDER BY case_id", (user_id,)
        )
        return [str(r[0]) for r in rows]

    # -- working ------------------------------------------------------------------------
    def _require(self, conn: log.Connection, case_id: str) -> tuple[str, str | None]:
        row = conn.execute(
            "SELECT status, assignee FROM cases WHERE case_id = ?", (case_id,)
        ).fetchone()
        if row is None:
            raise CaseError(f"no case {case_id}")
        return str(row[0]), row[1]

    def assign(self, case_ids: Sequence[str], assignee: str | None, actor: str) -> int:
        """Give cases to ``assignee`` (``None``: release them); a bulk action, one commit."""
        now = self.clock()
        with self._write() as conn:
            for case_id in case_ids:
                status, _ = self._require(conn, case_id)
                if status == "closed":
                    raise CaseError(f"case {case_id} is closed")
                conn.execute(
                    "UPDATE cases SET assignee = ?, updated_at = ? WHERE case_id = ?",
                    (assignee, now, case_id),
                )
                _log(conn, case_id, now, actor, "assign", {"assignee": assignee})
        return len(case_ids)

    def next_unassigned(self, analyst: str, inbox: str | None = None) -> str | None:
        """Take the most urgent active case nobody holds; ``None`` when none is left."""
        found = self.queue(inbox=inbox, unassigned=True, limit=1)
        if not found:
            return None
        case_id = found[0].case_id
        now = self.clock()
        with self._write() as conn:
            taken = conn.execute(
                "UPDATE cases SET assignee = ?, status = 'investigating', updated_at = ?"
                " WHERE case_id = ? AND assignee IS NULL AND active = 1",
                (analyst, now, case_id),
            ).rowcount
            if taken:
                _log(conn, case_id, now, analyst, "take", {"assignee": analyst})
        return case_id if taken else self.next_unassigned(analyst, inbox)

    def round_robin(self, analysts: Sequence[str], actor: str, inbox: str | None = None) -> int:
        """Deal the unassigned active cases of ``inbox`` to ``analysts`` in turn."""
        from fengkong.cases import round_robin

        if not analysts:
            raise CaseError("give at least one analyst", "analysts")
        now = self.clock()
        dealt = 0
        with self._write() as conn:
            row = conn.execute("SELECT value FROM case_meta WHERE key = 'last_dealt'").fetchone()
            last = None if row is None else str(row[0])
            where = "active = 1 AND assignee IS NULL" + (" AND inbox = ?" if inbox else "")
            ids = conn.execute(
                f"SELECT case_id FROM cases WHERE {where} ORDER BY due_at, case_id",
                (inbox,) if inbox else (),
            ).fetchall()
            for (case_id,) in ids:
                last = round_robin(analysts, last)
                conn.execute("UPDATE cases SET assignee = ? WHERE case_id = ?", (last, case_id))
                _log(conn, case_id, now, actor, "assign", {"assignee": last, "by": "round_robin"})
                dealt += 1
            if last is not None:
                conn.execute("DELETE FROM case_meta WHERE key = 'last_dealt'")
                conn.execute("INSERT INTO case_meta VALUES ('last_dealt', ?)", (last,))
        return dealt

    def move(self, case_id: str, status: str, actor: str) -> None:
        """Start investigating or reopen (closing goes through :func:`close_in`)."""
        if status == "closed":
            raise CaseError("close a case with an outcome", "outcome")
        now = self.clock()
        with self._write() as conn:
            current, _ = self._require(conn, case_id)
            check_move(current, status)
            conn.execute(
                "UPDATE cases SET status = ?, active = 1, outcome = NULL, closed_at = NULL,"
                " updated_at = ? WHERE case_id = ?",
                (status, now, case_id),
            )
            _log(conn, case_id, now, actor, "status", {"from": current, "to": status})

    def note(self, case_id: str, text: str, actor: str) -> None:
        body = text.strip()
        if not body:
            raise CaseError("a note needs text", "note")
        if len(body) > 4000:
            raise CaseError("a note holds at most 4000 characters", "note")
        now = self.clock()
        with self._write() as conn:
            self._require(conn, case_id)
            conn.execute("UPDATE cases SET updated_at = ? WHERE case_id = ?", (now, case_id))
            _log(conn, case_id, now, actor, "note", {"text": body})

    def escalate(self, case_id: str, actor: str, why: str = "") -> None:
        """Flag the case for a senior analyst: it jumps to the top of its inbox."""
        now = self.clock()
        with self._write() as conn:
            status, _ = self._require(conn, case_id)
            if status == "closed":
                raise CaseError(f"case {case_id} is closed")
            conn.execute(
                "UPDATE cases SET escalated = 1, due_at = ?, updated_at = ? WHERE case_id = ?",
                (now, now, case_id),
            )
            _log(conn, case_id, now, actor, "escalate", {"why": why[:1000]})

    def record(self, case_id: str, action: str, actor: str, detail: dict[str, Any]) -> None:
        """Log an action taken from the case (a freeze, a list entry) on its history."""
        now = self.clock()
        with self._write() as conn:
            self._require(conn, case_id)
            _log(conn, case_id, now, actor, action, detail)

    def open_ring(
        self, members: Sequence[str], actor: str, *, ring: str, detail: dict[str, Any]
    ) -> str:
        """A case for a mined ring; its members' later reviews join it."""
        if len(members) < 2:
            raise CaseError("a ring has at least two accounts", "members")
        now = self.clock()
        by_name = {i.name: i for i in self.inboxes()}
        box = by_name.get("rings") or route(list(by_name.values()), ["rule:ring"])
        with self._write() as conn:
            exists = conn.execute(
                "SELECT case_id FROM cases WHERE kind = 'ring' AND subject = ? AND active = 1",
                (ring,),
            ).fetchone()
            if exists is not None:
                return str(exists[0])
            return open_case(
                conn,
                kind="ring",
                subject=ring,
                members=members,
                inbox=box,
                now=now,
                actor=actor,
                detail=detail,
            )

    def close_in(
        self, conn: log.Connection, case_id: str, outcome: str, actor: str | None, now: float
    ) -> None:
        """:func:`close_in`, in the caller's transaction (the labels' commit)."""
        close_in(conn, case_id, outcome, actor, now)

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()
        else:
            self._conns.close()
