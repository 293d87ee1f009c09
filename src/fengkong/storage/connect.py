"""One way to open the embedded database, and versioned schema migrations.

Every SQLite-backed store opens its connection with :func:`connect` (WAL, a busy
timeout, the durability asked for) and brings its tables up to date with
:func:`migrate`: each component (``events``, ``rules``, ``models``, ...) keeps its
schema as an ordered list of steps, and ``schema_versions`` records how many of them
the file has taken. A step runs once, in one transaction, whoever opens the file first.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal

from fengkong.storage.files import create_private

Synchronous = Literal["FULL", "NORMAL", "OFF"]


# The sqlite3 module binds only exact int, float, str and bytearray parameters without
# an adapter lookup; for bytes and None (about 30 of them per stored decision) the
# failed lookup raises and formats two AttributeErrors each time (~1,500 instructions a
# parameter). Adapters that return the value as it is make that one dict hit; what is
# stored does not change (still a BLOB, a NULL). Both are C calls, cheaper than a
# Python function: ``b"" + value`` is ``value`` itself, and an empty dict's ``get``
# answers ``None``.
_NOTHING: dict[None, None] = {}
sqlite3.register_adapter(bytes, b"".__add__)
sqlite3.register_adapter(type(None), _NOTHING.get)


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


def migrate(
    conn: sqlite3.Connection,
    component: str,
    steps: Sequence[str],
    unversioned: Callable[[sqlite3.Connection], int] | None = None,
) -> int:
    """Apply the steps of ``component`` the file has not taken; returns its version.

    ``unversioned``: the version of a file whose tables predate their record in
    ``schema_versions`` (called in the migration's transaction; default 0)."""
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
            if row is not None:
                current = int(row[0])
            else:
                current = 0 if unversioned is None else unversioned(conn)
                if current:  # recorded: later opens need not ask again
                    conn.execute(
                        "INSERT INTO schema_versions (component, version) VALUES (?, ?)",
                        (component, current),
                    )
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


class PerThread:
    """One :func:`connect` connection per thread (one shared for ``:memory:``, which is
    private to its connection); ``setup`` runs on each new one."""

    def __init__(
        self,
        path: str,
        synchronous: Synchronous | None = None,
        setup: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        self.path = path
        self._synchronous = synchronous
        self._setup = setup
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._shared = self._open() if path == ":memory:" else None

    def _open(self) -> sqlite3.Connection:
        conn = connect(self.path, self._synchronous)
        if self._setup is not None:
            self._setup(conn)
        with self._lock:
            self._all.append(conn)
        return conn

    def get(self) -> sqlite3.Connection:
        """This thread's connection."""
        if self._shared is not None:
            return self._shared
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
