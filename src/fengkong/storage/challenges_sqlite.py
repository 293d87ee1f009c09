"""Embedded store of step-up challenges, device bindings and TOTP enrolments.

It lives in the same SQLite file as the events and decisions, in its own tables.
Every state change of a challenge is one conditional ``UPDATE`` inside an immediate
transaction, so two concurrent answers cannot both pass (or both be counted once).
On a ``postgresql://`` URL the tables live in PostgreSQL, where each such change is one
statement (row locks order concurrent answers), shared by every worker.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from fengkong.identity.challenges import ChallengeRow
from fengkong.storage.connect import PerThread, migrate
from fengkong.storage.sql import PostgresDB, is_postgres, pg_schema

_SCHEMA = """
CREATE TABLE IF NOT EXISTS challenges (
    challenge_id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    device_key TEXT,
    ip TEXT,
    kind TEXT NOT NULL,
    method TEXT NOT NULL,
    code_hash TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    status TEXT NOT NULL,
    final_decision TEXT,
    resolved_at REAL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS challenges_pending ON challenges (status, expires_at);
CREATE INDEX IF NOT EXISTS challenges_resolved ON challenges (resolved_at);
CREATE TABLE IF NOT EXISTS device_bindings (
    user_id TEXT NOT NULL,
    device_key TEXT NOT NULL,
    bound_at REAL NOT NULL,
    PRIMARY KEY (user_id, device_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS totp_secrets (
    user_id TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    last_step INTEGER NOT NULL DEFAULT -1,
    enrolled_at REAL NOT NULL
) WITHOUT ROWID;
"""

_ATTEMPT = (
    "UPDATE challenges SET attempts = attempts + 1"
    " WHERE challenge_id = ? AND status = 'pending' AND attempts < ? RETURNING attempts"
)
_COLUMNS = (
    "challenge_id, event_id, user_id, device_key, ip, kind, method, code_hash, attempts,"
    " max_attempts, created_at, expires_at, status, final_decision, resolved_at"
)


class SQLiteChallengeStore:
    """Challenges, device bindings and TOTP secrets in the embedded SQLite file (the
    :class:`~fengkong.identity.challenges.ChallengeStore` of a server)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._memory = self.path == ":memory:"
        self._pg = PostgresDB(self.path) if is_postgres(self.path) else None
        if self._pg is not None:
            self._pg.migrate("challenges", {"postgres": [pg_schema(_SCHEMA)], "sqlite": []})
            return
        self._conns = PerThread(self.path, "FULL")
        migrate(self._conn(), "challenges", [_SCHEMA])

    def _conn(self) -> sqlite3.Connection:
        return self._conns.get()

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """One statement, committed (on this thread's file connection, or PostgreSQL)."""
        if self._pg is not None:
            return self._pg.execute(sql, params)
        return self._conn().execute(sql, params)

    # -- challenges -----------------------------------------------------------
    def put(self, row: ChallengeRow) -> None:
        """Store a new challenge; a re-issue for the same event replaces a pending one."""
        self._exec(
            f"INSERT INTO challenges ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(challenge_id) DO UPDATE SET code_hash = excluded.code_hash,"
            " method = excluded.method, attempts = 0, created_at = excluded.created_at,"
            " expires_at = excluded.expires_at WHERE challenges.status = 'pending'",
            (
                row.challenge_id,
                row.event_id,
                row.user_id,
                row.device_key,
                row.ip,
                row.kind,
                row.method,
                row.code_hash,
                row.attempts,
                row.max_attempts,
                row.created_at,
                row.expires_at,
                row.status,
                row.final_decision,
                row.resolved_at,
            ),
        )

    def get(self, challenge_id: str) -> ChallengeRow | None:
        row = self._exec(
            f"SELECT {_COLUMNS} FROM challenges WHERE challenge_id = ?", (challenge_id,)
        ).fetchone()
        return None if row is None else ChallengeRow(*row)

    def count_attempt(self, challenge_id: str, max_attempts: int) -> int | None:
        """Use up one attempt of a pending challenge; the attempt number, or ``None``."""
        if self._pg is not None:
            found = self._pg.execute(_ATTEMPT, (challenge_id, max_attempts)).fetchone()
            return None if found is None else int(found[0])
        conn = self._conn()
        with self._lock if self._memory else _nolock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                cur = conn.execute(_ATTEMPT, (challenge_id, max_attempts))
                found = cur.fetchone()
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return None if found is None else int(found[0])

    def resolve(self, challenge_id: str, status: str, final_decision: str, at: float) -> bool:
        """Move a pending challenge to its final status; ``False`` if it was not pending."""
        cur = self._exec(
            "UPDATE challenges SET status = ?, final_decision = ?, resolved_at = ?"
            " WHERE challenge_id = ? AND status = 'pending'",
            (status, final_decision, at, challenge_id),
        )
        return bool(cur.rowcount == 1)

    def due(self, now: float, limit: int = 1000) -> list[ChallengeRow]:
        """Pending challenges whose time ran out at ``now``."""
        rows = self._exec(
            f"SELECT {_COLUMNS} FROM challenges WHERE status = 'pending' AND expires_at <= ?"
            " ORDER BY expires_at LIMIT ?",
            (now, limit),
        )
        return [ChallengeRow(*r) for r in rows]

    def resolved_since(self, since: float) -> Iterator[ChallengeRow]:
        """Challenges resolved at or after ``since``, oldest first."""
        rows = self._exec(
            f"SELECT {_COLUMNS} FROM challenges WHERE resolved_at >= ? ORDER BY resolved_at",
            (since,),
        )
        for r in rows.fetchall():
            yield ChallengeRow(*r)

    # -- device bindings ------------------------------------------------------
    def bind(self, user_id: str, device_key: str, at: float) -> None:
        self._exec(
            "INSERT INTO device_bindings VALUES (?,?,?) ON CONFLICT DO NOTHING",
            (user_id, device_key, at),
        )

    def bindings(self) -> Iterator[tuple[str, str, float]]:
        rows = self._exec("SELECT user_id, device_key, bound_at FROM device_bindings")
        for user_id, device_key, at in rows.fetchall():
            yield str(user_id), str(device_key), float(at)

    # -- TOTP -----------------------------------------------------------------
    def set_totp(self, user_id: str, secret: str, at: float) -> None:
        self._exec(
            "INSERT INTO totp_secrets VALUES (?,?,-1,?) ON CONFLICT(user_id) DO UPDATE"
            " SET secret = excluded.secret, last_step = -1, enrolled_at = excluded.enrolled_at",
            (user_id, secret, at),
        )

    def totp(self, user_id: str) -> tuple[str, int] | None:
        """The user's TOTP secret and the last time step accepted."""
        row = self._exec(
            "SELECT secret, last_step FROM totp_secrets WHERE user_id = ?", (user_id,)
        ).fetchone()
        return None if row is None else (str(row[0]), int(row[1]))

    def use_totp_step(self, user_id: str, step: int) -> bool:
        """Record ``step`` as used; ``False`` if it (or a later one) was used before."""
        cur = self._exec(
            "UPDATE totp_secrets SET last_step = ? WHERE user_id = ? AND last_step < ?",
            (step, user_id, step),
        )
        return bool(cur.rowcount == 1)

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()
        else:
            self._conns.close()


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_nolock = _NoLock()
