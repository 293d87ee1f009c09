"""Embedded store: one SQLite file in WAL mode.

Each thread gets its own connection (SQLite connections are not shared across
threads); writes are serialised by SQLite itself. ``synchronous=FULL`` makes a commit
durable against power loss; ``NORMAL`` only against a crash of the process.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal, Protocol

from fengkong.storage import audit_hooks
from fengkong.storage.base import DecisionRecord, LabelRecord, StoredDecision

Synchronous = Literal["FULL", "NORMAL", "OFF"]


class BodyProtector(Protocol):
    """Field-level protection of stored event bodies (``events.protect.FieldProtector``)."""

    def seal(self, event_json: bytes) -> bytes: ...

    def reveal(self, stored: bytes) -> bytes: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    user_id TEXT NOT NULL,
    ts REAL NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
CREATE INDEX IF NOT EXISTS events_user ON events (user_id, ts);
CREATE TABLE IF NOT EXISTS decisions (
    event_id TEXT PRIMARY KEY,
    body_hash TEXT NOT NULL,
    outcome TEXT NOT NULL,
    score REAL NOT NULL,
    decided_at REAL NOT NULL,
    body BLOB NOT NULL,
    explain BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS labels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT,
    user_id TEXT,
    label TEXT NOT NULL,
    source TEXT NOT NULL,
    at REAL NOT NULL,
    scenario TEXT,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS labels_at ON labels (at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# SQLite caps bound parameters per statement; stay well below the oldest default (999).
_LOOKUP_CHUNK = 500


class SQLiteStore:
    """The embedded default :class:`~fengkong.storage.base.Store`.

    >>> store = SQLiteStore(":memory:")
    >>> store.count_events()
    0
    """

    def __init__(
        self,
        path: str | Path,
        synchronous: Synchronous = "FULL",
        *,
        protector: BodyProtector | None = None,
    ) -> None:
        self.path = str(path)
        self._protector = protector
        self._synchronous = synchronous
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._memory = self.path == ":memory:"
        if self._memory:
            # One shared connection: an in-memory database is private to its connection.
            self._shared = self._connect()
        self._conn().executescript(_SCHEMA)
        audit_hooks.ensure(self._conn())

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA foreign_keys=OFF")
        with self._lock:
            self._all.append(conn)
        return conn

    def _conn(self) -> sqlite3.Connection:
        if self._memory:
            return self._shared
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def lookup(self, event_ids: Sequence[str]) -> dict[str, StoredDecision]:
        conn = self._conn()
        found: dict[str, StoredDecision] = {}
        ids = list(dict.fromkeys(event_ids))
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            chunk = ids[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT event_id, body_hash, body FROM decisions WHERE event_id IN ({marks})",
                chunk,
            )
            for event_id, digest, body in rows:
                found[event_id] = StoredDecision(event_id, digest, bytes(body))
        return found

    def write(self, records: Sequence[DecisionRecord]) -> None:
        if not records:
            return
        conn = self._conn()
        now = time.time()
        with self._lock if self._memory else _nolock:
            # Protected fields are sealed here, so only sealed bodies reach the file.
            seal = self._protector.seal if self._protector else bytes
            bodies = [seal(r.event_json) for r in records]
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT INTO events (event_id, type, user_id, ts, body) VALUES (?,?,?,?,?)",
                    [
                        (r.event_id, r.event_type, r.user_id, r.ts, b)
                        for r, b in zip(records, bodies, strict=True)
                    ],
                )
                conn.executemany(
                    "INSERT INTO decisions VALUES (?,?,?,?,?,?,?)",
                    [
                        (
                            r.event_id,
                            r.body_hash,
                            r.outcome,
                            r.score,
                            now,
                            r.decision_json,
                            r.explain_json,
                        )
                        for r in records
                    ],
                )
                audit_hooks.chain_decisions(conn, records, now, bodies)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def decision(self, event_id: str) -> tuple[bytes, bytes] | None:
        row = (
            self._conn()
            .execute("SELECT body, explain FROM decisions WHERE event_id = ?", (event_id,))
            .fetchone()
        )
        return None if row is None else (bytes(row[0]), bytes(row[1]))

    def add_labels(self, labels: Sequence[LabelRecord]) -> None:
        now = time.time()
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT INTO labels (event_id, user_id, label, source, at, scenario, received_at)"
                " VALUES (?,?,?,?,?,?,?)",
                [(x.event_id, x.user_id, x.label, x.source, x.at, x.scenario, now) for x in labels],
            )
            audit_hooks.chain_labels(conn, labels, now)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def labels(self, since: float | None = None) -> Iterator[LabelRecord]:
        rows = self._conn().execute(
            "SELECT event_id, user_id, label, source, at, scenario FROM labels"
            " WHERE at >= ? ORDER BY at, id",
            (float("-inf") if since is None else since,),
        )
        for row in rows:
            yield LabelRecord(*row)

    def events(self, since: float | None = None) -> Iterator[bytes]:
        # A separate cursor walks the table in pages so a long rebuild holds no lock.
        last = 0
        lower = float("-inf") if since is None else since
        while True:
            rows = (
                self._conn()
                .execute(
                    "SELECT seq, body FROM events WHERE seq > ? AND ts >= ?"
                    " ORDER BY seq LIMIT 5000",
                    (last, lower),
                )
                .fetchall()
            )
            if not rows:
                return
            reveal = self._protector.reveal if self._protector else bytes
            for _, body in rows:
                yield reveal(bytes(body))
            last = rows[-1][0]

    def count_events(self) -> int:
        row = self._conn().execute("SELECT COUNT(*) FROM events").fetchone()
        return int(row[0])

    def newest_ts(self) -> float | None:
        row = self._conn().execute("SELECT MAX(ts) FROM events").fetchone()
        return None if row[0] is None else float(row[0])

    def get_meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._conn().execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_nolock = _NoLock()
