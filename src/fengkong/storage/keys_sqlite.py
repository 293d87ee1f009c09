"""API keys: only a SHA-256 of each key is stored, with its name and roles.

Keys are long random strings (``fk_`` + 256 bits), so a plain SHA-256 is enough to
keep them from being recovered from the database; the key id is the first hex digits
of that hash, which lets a key be named (list, revoke) without storing it. Every
creation and revocation is appended to the audit chain in the same transaction. On a
``postgresql://`` URL the table lives in PostgreSQL (:mod:`fengkong.storage.sql`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from fengkong.storage.audit_hooks import chain_change
from fengkong.storage.sql import is_unique_violation, open_db, pg_schema

KEY_PREFIX = "fk_"
MIN_KEY_CHARS = 16
# Live keys remembered at most (there are few keys; this only bounds the dict).
_CACHE_MAX = 4096

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    roles TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
);
"""
_PG_SCHEMA = pg_schema(_SCHEMA)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key_id: str
    name: str
    roles: tuple[str, ...]
    created_at: float
    revoked_at: float | None = None

    @property
    def identity(self) -> str:
        """How changes made with this key are attributed: ``name (key_id)``."""
        return f"{self.name} ({self.key_id})"

    def as_dict(self) -> dict[str, object]:
        return {
            "key_id": self.key_id,
            "name": self.name,
            "roles": list(self.roles),
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_of(key: str) -> str:
    return "k_" + key_hash(key)[:10]


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class KeyStore:
    """Keys in the database file (table ``api_keys``).

    ``cache_s``: how long a key found live is trusted before it is looked up again
    (0: every check reads the table). A revocation through this store takes effect at
    once; one made by another process (``fengkong keys revoke``) within ``cache_s``.
    """

    def __init__(self, path: str | Path, cache_s: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._cache_s = cache_s
        # key hash -> (its live record, when to look it up again); live keys only.
        self._cache: dict[str, tuple[KeyInfo, float]] = {}
        self._db = open_db(str(path))
        self._db.migrate("keys", {"sqlite": [_SCHEMA], "postgres": [_PG_SCHEMA]})
        self._db.ensure_audit()

    def create(
        self, name: str, roles: tuple[str, ...], *, key: str | None = None, actor: str | None = None
    ) -> tuple[str, KeyInfo]:
        """A new key (generated unless given); returns it once, with its record."""
        key = new_key() if key is None else key
        if len(key) < MIN_KEY_CHARS:
            raise ValueError(f"a key must be at least {MIN_KEY_CHARS} characters")
        info = KeyInfo(key_id_of(key), name, tuple(sorted(set(roles))), time.time())
        row = (info.key_id, name, json.dumps(list(info.roles)), key_hash(key), info.created_at)
        data = dict(zip(("key_id", "name", "roles", "hash", "created_at"), row, strict=True))
        try:
            with self._lock, self._db.write() as c:
                c.execute("INSERT INTO api_keys VALUES (?,?,?,?,?,NULL)", row)
                chain_change(c, "key_create", info.key_id, data=data, actor=actor)
        except Exception as exc:
            if is_unique_violation(exc):
                raise ValueError("that key already exists") from None
            raise
        return key, info

    def revoke(self, key_id: str, *, actor: str | None = None) -> bool:
        now = time.time()
        with self._lock:
            self._cache.clear()
            with self._db.write() as c:
                n = c.execute(
                    "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                    (now, key_id),
                ).rowcount
                if n:
                    data = {"key_id": key_id, "at": now}
                    chain_change(c, "key_revoke", key_id, data=data, actor=actor)
        return bool(n)

    def check(self, key: str) -> KeyInfo | None:
        """The live key matching ``key``, compared in constant time; ``None`` otherwise."""
        digest = key_hash(key)
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        with self._lock:
            row = self._db.execute(
                "SELECT key_id, name, roles, hash, created_at, revoked_at FROM api_keys"
                " WHERE key_id = ?",
                ("k_" + digest[:10],),
            ).fetchone()
        if row is None or not hmac.compare_digest(row[3], digest) or row[5] is not None:
            self._cache.pop(digest, None)
            return None
        info = KeyInfo(row[0], row[1], tuple(json.loads(row[2])), row[4], row[5])
        if self._cache_s > 0:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[digest] = (info, time.monotonic() + self._cache_s)
        return info

    def listing(self) -> list[KeyInfo]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key_id, name, roles, created_at, revoked_at FROM api_keys"
                " ORDER BY created_at"
            ).fetchall()
        return [KeyInfo(r[0], r[1], tuple(json.loads(r[2])), r[3], r[4]) for r in rows]

    def empty(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM api_keys LIMIT 1").fetchone() is None

    def close(self) -> None:
        with self._lock:
            self._db.close()
