"""Model registry metadata in the embedded SQLite file (tables prefixed ``models_``).

Versions are immutable rows (triggers refuse UPDATE and DELETE). Which version is the
champion (acts) or the challenger (shadow: scored and logged, not acting) is the last
row per role of an append-only log, so every promotion and rollback is kept with its
time and author. Artefacts are files in a directory beside the database; this table
holds their digest so a changed file is noticed.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from fengkong.models.store import ModelVersion
from fengkong.storage.connect import connect, migrate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models_versions (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    path TEXT NOT NULL,
    created_at REAL NOT NULL,
    meta TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS models_versions_no_update BEFORE UPDATE ON models_versions
BEGIN SELECT RAISE(ABORT, 'model versions are immutable'); END;
CREATE TRIGGER IF NOT EXISTS models_versions_no_delete BEFORE DELETE ON models_versions
BEGIN SELECT RAISE(ABORT, 'model versions are immutable'); END;
CREATE TABLE IF NOT EXISTS models_roles_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    role TEXT NOT NULL,
    version INTEGER REFERENCES models_versions(version),
    at REAL NOT NULL,
    author TEXT NOT NULL,
    action TEXT NOT NULL
);
"""

ROLES = ("champion", "challenger")


class SQLiteModelStore:
    """The :class:`~fengkong.models.store.ModelStore` in the embedded database."""

    def __init__(self, db_path: str | Path, artefacts: Path | None = None) -> None:
        self.path = str(db_path)
        if artefacts is None:
            artefacts = Path(f"{db_path}.models") if self.path != ":memory:" else Path("models")
        self.artefacts = artefacts
        self._lock = threading.Lock()
        self._conn = connect(self.path)
        migrate(self._conn, "models", [_SCHEMA])

    def next_version(self) -> int:
        row = self._conn.execute("SELECT COALESCE(MAX(version), 0) FROM models_versions")
        return int(row.fetchone()[0]) + 1

    def artefact_dir(self, version: int) -> Path:
        return self.artefacts / f"v{version}"

    def add(self, version: int, name: str, digest: str, meta: dict[str, Any]) -> ModelVersion:
        path = str(self.artefact_dir(version))
        now = time.time()
        with self._lock:
            self._conn.execute(
                "INSERT INTO models_versions VALUES (?,?,?,?,?,?)",
                (version, name, digest, path, now, json.dumps(meta, sort_keys=True)),
            )
        return ModelVersion(version, name, digest, path, now, meta)

    def get(self, version: int) -> ModelVersion:
        row = self._conn.execute(
            "SELECT version, name, digest, path, created_at, meta FROM models_versions"
            " WHERE version = ?",
            (version,),
        ).fetchone()
        if row is None:
            raise KeyError(f"no model version {version}")
        return ModelVersion(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]))

    def versions(self) -> list[ModelVersion]:
        rows = self._conn.execute(
            "SELECT version, name, digest, path, created_at, meta FROM models_versions"
            " ORDER BY version"
        ).fetchall()
        return [ModelVersion(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def set_role(self, role: str, version: int | None, *, author: str, action: str) -> None:
        # Other kinds of model (``credit.champion``) keep their roles under a prefix.
        if role.rpartition(".")[2] not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, optionally prefixed `kind.`")
        with self._lock:
            self._conn.execute(
                "INSERT INTO models_roles_log (role, version, at, author, action)"
                " VALUES (?,?,?,?,?)",
                (role, version, time.time(), author, action),
            )

    def role(self, role: str) -> int | None:
        row = self._conn.execute(
            "SELECT version FROM models_roles_log WHERE role = ? ORDER BY seq DESC LIMIT 1",
            (role,),
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def history(self, role: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT seq, role, version, at, author, action FROM models_roles_log"
        args: tuple[Any, ...] = ()
        if role is not None:
            sql += " WHERE role = ?"
            args = (role,)
        rows = self._conn.execute(sql + " ORDER BY seq", args).fetchall()
        keys = ("seq", "role", "version", "at", "author", "action")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def close(self) -> None:
        self._conn.close()
