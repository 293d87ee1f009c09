"""Embedded store of voiceprint enrolment embeddings (one row per enrolling event).

Rows are keyed by ``event_id``, so a retried or replayed event never enrols twice;
embeddings are float32 blobs tagged with the model that made them (embeddings of
different models are not comparable and are never mixed).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

_SCHEMA = """
CREATE TABLE IF NOT EXISTS voiceprints (
    event_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    model TEXT NOT NULL,
    embedding BLOB NOT NULL,
    at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS voiceprints_user ON voiceprints (model, user_id);
"""


class SQLiteVoiceprintStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._memory = self.path == ":memory:"
        if self._memory:
            self._shared = self._connect()
        self._conn().executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        conn.execute("PRAGMA journal_mode=WAL")
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

    def add(
        self, event_id: str, user_id: str, model: str, embedding: np.ndarray, at: float
    ) -> bool:
        """Store one enrolment; ``False`` if this event enrolled before."""
        blob = np.asarray(embedding, dtype=np.float32).tobytes()
        cur = self._conn().execute(
            "INSERT INTO voiceprints VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING",
            (event_id, user_id, model, blob, at),
        )
        return cur.rowcount == 1

    def load(self, model: str) -> Iterator[tuple[str, str, np.ndarray]]:
        """``(user_id, event_id, embedding)`` of every enrolment made with ``model``."""
        rows = self._conn().execute(
            "SELECT user_id, event_id, embedding FROM voiceprints WHERE model = ? ORDER BY at",
            (model,),
        )
        for user_id, event_id, blob in rows.fetchall():
            yield str(user_id), str(event_id), np.frombuffer(blob, dtype=np.float32)

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
