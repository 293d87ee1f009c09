"""One way to open the embedded database, and versioned schema migrations.

Every SQLite-backed store opens its connection with :func:`connect` (WAL, a busy
timeout, the durability asked for) and brings its tables up to date with
:func:`migrate`: each component (``events``, ``rules``, ``models``, ...) keeps its
schema as an ordered list of steps, and ``schema_versions`` records how many of them
the file has taken. A step runs once, in one transaction, whoever opens the file first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

from fengkong.storage.files import create_private

Synchronous = Literal["FULL", "NORMAL", "OFF"]


class SchemaTooNew(RuntimeError):
    """The file was migrated by a newer fengkong than this one."""


def connect(
    path: str, synchronous: Synchronous | None = None, timeout: float = 30.0
) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL on files.

    A database file this creates is private (0600) from the start.
    """
    create_private(Path(path))
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=timeout)
    if path != ":memory:":
        conn.execute("PRAGMA journal_mode=WAL")
    if synchronous is not None:
        conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn


def statements(script: str) -> Iterator[str]:
    """The statements of an SQL script (triggers' bodies kept whole)."""
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                yield buf.strip()
            buf = ""
    if buf.strip():
        raise ValueError(f"incomplete SQL statement: {buf.strip()[:60]!r}")


def migrate(conn: sqlite3.Connection, component: str, steps: Sequence[str]) -> int:
    """Apply the steps of ``component`` the file has not taken; returns its version."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_versions"
        " (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "SELECT version FROM schema_versions WHERE component = ?", (component,)
            ).fetchone()
            current = 0 if row is None else int(row[0])
            if current > len(steps):
                raise SchemaTooNew(
                    f"{component} schema is at version {current}; this fengkong knows "
                    f"{len(steps)}: upgrade fengkong"
                )
            if current == len(steps):
                conn.execute("COMMIT")
                return current
            for statement in statements(steps[current]):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_versions (component, version) VALUES (?, ?)"
                " ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                (component, current + 1),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
