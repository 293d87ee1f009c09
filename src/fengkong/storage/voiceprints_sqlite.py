"""Embedded store of voiceprint enrolment embeddings (one row per enrolling event).

Rows are keyed by ``event_id``, so a retried or replayed event never enrols twice;
embeddings are float32 blobs tagged with the model that made them (embeddings of
different models are not comparable and are never mixed). On a ``postgresql://`` URL the
table lives in PostgreSQL, shared by every worker.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fengkong.storage.connect import PerThread, migrate
from fengkong.storage.sql import PostgresDB, is_postgres, pg_schema

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
        self._lock = threading.Lock()
        self._memory = self.path == ":memory:"
        self._pg = PostgresDB(self.path) if is_postgres(self.path) else None
        if self._pg is not None:
            self._pg.migrate("voiceprints", {"postgres": [pg_schema(_SCHEMA)], "sqlite": []})
            return
        self._conns = PerThread(self.path, None)
        migrate(self._conn(), "voiceprints", [_SCHEMA])

    def _conn(self) -> sqlite3.Connection:
        return self._conns.get()

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if self._pg is not None:
            return self._pg.execute(sql, params)
        return self._conn().execute(sql, params)

    def add(
        self, event_id: str, user_id: str, model: str, embedding: np.ndarray, at: float
    ) -> bool:
        """Store one enrolment; ``False`` if this event enrolled before."""
        blob = np.asarray(embedding, dtype=np.float32).tobytes()
        cur = self._exec(
            "INSERT INTO voiceprints VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING",
            (event_id, user_id, model, blob, at),
        )
        return bool(cur.rowcount == 1)

    def load(self, model: str) -> Iterator[tuple[str, str, np.ndarray]]:
        """``(user_id, event_id, embedding)`` of every enrolment made with ``model``."""
        rows = self._exec(
            "SELECT user_id, event_id, embedding FROM voiceprints WHERE model = ? ORDER BY at",
            (model,),
        )
        for user_id, event_id, blob in rows.fetchall():
            yield str(user_id), str(event_id), np.frombuffer(bytes(blob), dtype=np.float32)

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()
        else:
            self._conns.close()
