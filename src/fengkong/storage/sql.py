"""One database handle for the small stores (rules, models, keys, audit, cases, ...).

:func:`open_db` takes what the stores used to take, a SQLite path, or a
``postgresql://`` URL, and returns a :class:`Database` with the same three calls on
either engine: :meth:`~Database.execute` (one statement, ``?`` placeholders, autocommit),
:meth:`~Database.write` (one transaction; on PostgreSQL it holds the writers' advisory
lock, so the audit chain's head is read and extended by one writer at a time across
workers, as the event store does) and :meth:`~Database.migrate` (the versioned steps
of the dialect). The SQL the stores send is the portable subset both engines take
(``ON CONFLICT``, ``RETURNING``); schemas are kept per dialect.

All stores of one process on one URL share one connection pool (:func:`shared_pool`).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

from psycopg_pool import ConnectionPool

from fengkong.audit import log
from fengkong.storage import pg
from fengkong.storage.connect import connect, migrate

Dialect = Literal["sqlite", "postgres"]


class Rows(Protocol):
    """What a statement returns: rows to fetch and, for writes, how many it changed."""

    rowcount: int

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


# A connection inside an open transaction (``?`` placeholders on both engines).
Conn = log.Connection


class Database(log.Database, Protocol):
    """The audit chain's handle, plus the dialect and its migrations."""

    dialect: Dialect

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Rows: ...
    def migrate(self, component: str, steps: dict[Dialect, Sequence[str]]) -> int: ...


def is_postgres(target: str | Path) -> bool:
    return isinstance(target, str) and pg.is_postgres_url(target)


def open_db(target: str | Path) -> Database:
    """The database at ``target``: a SQLite file (or ``:memory:``) or a PostgreSQL URL."""
    if is_postgres(target):
        return PostgresDB(str(target))
    return SQLiteDB(str(target))


class SQLiteDB:
    """One connection to the file, shared by the threads under a lock."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.target = path
        self.conn = connect(path)
        self._lock = threading.RLock()

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Rows:
        with self._lock:
            cur = self.conn.execute(sql, tuple(params))
            # Fetched under the lock: the cursor shares the connection.
            return _Fetched(cur.fetchall() if cur.description else [], cur.rowcount)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any:
        with self.write() as conn:
            conn.executemany(sql, rows)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            begin_immediate(self.conn)
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def migrate(self, component: str, steps: dict[Dialect, Sequence[str]]) -> int:
        with self._lock:
            return migrate(self.conn, component, steps["sqlite"])

    @contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """A connection of its own for a long read, so writers go on (``:memory:``: this one)."""
        if self.target == ":memory:":
            with self._lock:
                yield self.conn
            return
        conn = connect(self.target)
        try:
            yield conn
        finally:
            conn.close()

    def ensure_audit(self) -> None:
        """The audit chain's tables in the file, migrated (the stores extend it)."""
        from fengkong.storage.audit_hooks import ensure

        with self._lock:
            ensure(self.conn)

    def close(self) -> None:
        with self._lock:
            self.conn.close()


class PostgresDB:
    """Connections from the process's pool on the URL; writes under the writers' lock."""

    dialect: Dialect = "postgres"

    def __init__(self, url: str, *, pool: ConnectionPool | None = None) -> None:
        self.target = url
        self.pool = shared_pool(url) if pool is None else pool
        self._closed = pool is not None  # a pool given is its owner's to close
        # The audit chain the stores extend lives in the event store's schema.
        from fengkong.storage.postgres import STEPS

        self.migrate("events", {"postgres": STEPS, "sqlite": []})

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Rows:
        with self.pool.connection() as conn:
            return _Fetched.of(pg.Qmark(conn).execute(sql, params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any:
        """Rows in one transaction (not under the writers' lock: nothing is chained)."""
        with self.pool.connection() as conn, conn.transaction():
            pg.Qmark(conn).executemany(sql, rows)

    @contextmanager
    def write(self) -> Iterator[pg.Qmark]:
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (pg.WRITE_LOCK,))
            yield pg.Qmark(conn)

    def migrate(self, component: str, steps: dict[Dialect, Sequence[str]]) -> int:
        with self.pool.connection() as conn:
            return pg.migrate(conn, component, steps["postgres"])

    @contextmanager
    def reader(self) -> Iterator[PostgresDB]:
        """Statements one at a time from the pool (a long read holds no lock)."""
        yield self

    def ensure_audit(self) -> None:
        """Nothing to do: the event store's schema, migrated at open, holds the chain."""

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            release_pool(self.target)


class _Fetched:
    """Rows read out before the connection went back (to its pool or its lock)."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    @classmethod
    def of(cls, rows: Any) -> _Fetched:
        return cls(rows.fetchall(), rows.rowcount)

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return list(self._rows)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


_pools: dict[str, tuple[ConnectionPool, int]] = {}
_pools_lock = threading.Lock()


def shared_pool(url: str, max_size: int = 8) -> ConnectionPool:
    """The process's pool on ``url`` (opened on first use; counted, see :func:`release_pool`)."""
    with _pools_lock:
        pool, users = _pools.get(url, (None, 0))
        if pool is None:
            pool = pg.open_pool(url, max_size)
        _pools[url] = (pool, users + 1)
        return pool


def release_pool(url: str) -> None:
    """One user fewer of the pool on ``url``; the last one closes it."""
    with _pools_lock:
        pool, users = _pools.get(url, (None, 0))
        if pool is None:
            return
        if users <= 1:
            del _pools[url]
            pool.close()
        else:
            _pools[url] = (pool, users - 1)


def pg_schema(sqlite_schema: str) -> str:
    """PostgreSQL's text of a schema written in the portable subset of SQLite's."""
    out = sqlite_schema.replace(" WITHOUT ROWID", "")
    return re.sub(r"\bREAL\b", "DOUBLE PRECISION", re.sub(r"\bBLOB\b", "BYTEA", out))


def is_unique_violation(exc: BaseException) -> bool:
    """A unique or primary key constraint refused the row (either engine)."""
    import psycopg

    if isinstance(exc, psycopg.errors.UniqueViolation):
        return True
    return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)


def begin_immediate(conn: sqlite3.Connection, attempts: int = 6) -> None:
    """BEGIN IMMEDIATE, retried: under event load the write lock can stay busy past
    the busy timeout's first wait (a checkpoint, a long group commit)."""
    for attempt in range(attempts):
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * 2**attempt)
