"""PostgreSQL: one connection pool per process, and the same versioned migrations.

:func:`open_pool` opens a psycopg 3 pool on a ``postgresql://`` URL. :func:`migrate`
is :func:`fengkong.storage.connect.migrate` for PostgreSQL: a component's schema is an
ordered list of steps, ``schema_versions`` records how many the database has taken,
and a step runs once, in one transaction, under an advisory lock, whichever worker
gets there first. A component keeps one list per dialect with the same length (the
same step text when it is portable SQL), so a later migration is one more entry in
each.

:class:`Qmark` lets code written for ``sqlite3`` (``?`` placeholders, ``execute`` on
the connection) run on a psycopg connection inside its open transaction: the audit
chain is written that way on both backends.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from fengkong.storage.connect import SchemaTooNew

# Advisory lock keys: one for migrations, one serialising the writers of the event log
# (the audit chain's head and the log's order are one sequence across workers).
MIGRATE_LOCK = 0x666B0001
WRITE_LOCK = 0x666B0002


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def open_pool(url: str, max_size: int = 8, *, timeout: float = 30.0) -> ConnectionPool:
    """A pool of connections on ``url`` (opened and checked now).

    Autocommit: a read is one round trip and leaves nothing to roll back when the
    connection returns to the pool; writes open their transaction explicitly.
    """
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        timeout=timeout,
        open=False,
        name="fengkong",
        kwargs={"autocommit": True},
    )
    pool.open(wait=True, timeout=timeout)
    return pool


def migrate(conn: psycopg.Connection[Any], component: str, steps: Sequence[str]) -> int:
    """Apply the steps of ``component`` the database has not taken; returns its version."""
    with conn.transaction():  # BEGIN ... COMMIT whether or not the connection autocommits
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_versions"
            " (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        row = conn.execute(
            "SELECT version FROM schema_versions WHERE component = %s", (component,)
        ).fetchone()
        current = 0 if row is None else int(row[0])
        if current > len(steps):
            raise SchemaTooNew(
                f"{component} schema is at version {current}; this fengkong knows "
                f"{len(steps)}: upgrade fengkong"
            )
        for version in range(current, len(steps)):
            # Several statements in one simple query: psycopg sends it as it is.
            conn.execute(steps[version].encode())
        if current < len(steps):
            conn.execute(
                "INSERT INTO schema_versions (component, version) VALUES (%s, %s)"
                " ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                (component, len(steps)),
            )
    return len(steps)


class _Rows:
    """A psycopg cursor's results, as ``sqlite3`` code reads them."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    # In pipeline mode a result (and its description) arrives only when fetched.
    def fetchone(self) -> Any:
        try:
            return self._cursor.fetchone()
        except psycopg.ProgrammingError:  # the statement returns no rows
            return None

    def fetchall(self) -> list[Any]:
        try:
            return self._cursor.fetchall()
        except psycopg.ProgrammingError:
            return []

    def __iter__(self) -> Any:
        return iter(self.fetchall())

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


class Qmark:
    """A psycopg connection that takes ``sqlite3``-style ``?`` placeholders."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Rows:
        cur = self.conn.cursor()
        cur.execute(_pg(sql), tuple(params))
        return _Rows(cur)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(_pg(sql), rows)


def _pg(sql: str) -> str:
    # The statements passed here hold no literal '?' or '%'.
    return sql.replace("%", "%%").replace("?", "%s")
