"""Consortium risk lists in the database: imported entries, bundles, the vault.

Portable SQL (TEXT, BIGINT, DOUBLE PRECISION, ``ON CONFLICT``; no AUTOINCREMENT, no
WITHOUT ROWID): the same steps run on PostgreSQL (a ``postgresql://`` URL). A member's
newer bundle replaces its entries (a bundle is its whole current list, so withdrawn
entries go); an older one than the last imported is refused (no resurrecting withdrawn
entries by replay). Each import and revocation is chained in its own transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fengkong.audit import log
from fengkong.sharing.bundle import Bundle, no_gc
from fengkong.storage.audit_hooks import chain_change, ensure
from fengkong.storage.connect import PerThread, migrate
from fengkong.storage.sql import PostgresDB, is_postgres

_SCHEMA = """
CREATE TABLE IF NOT EXISTS share_bundles (
    digest TEXT PRIMARY KEY,
    member TEXT NOT NULL,
    member_key TEXT NOT NULL,
    consortium_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    imported_at DOUBLE PRECISION NOT NULL,
    entries BIGINT NOT NULL,
    expired BIGINT NOT NULL,
    via TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS share_bundles_member ON share_bundles (member, created_at);
CREATE TABLE IF NOT EXISTS share_entries (
    member TEXT NOT NULL,
    consortium_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    digest TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    confidence DOUBLE PRECISION NOT NULL,
    source TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    bundle TEXT NOT NULL,
    imported_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (member, consortium_key, kind, digest)
);
CREATE TABLE IF NOT EXISTS share_revoked (
    member TEXT PRIMARY KEY,
    revoked_at DOUBLE PRECISION NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS share_version (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO share_version VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS share_vault (
    token TEXT NOT NULL,
    key_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (token, key_id)
);
"""
_CHUNK = 500
_BUMP = "UPDATE share_version SET version = version + 1"


class ImportRefused(ValueError):
    """A verified bundle the store will not take (revoked member, older than the last)."""


@dataclass(frozen=True, slots=True)
class StoredEntry:
    member: str
    consortium_key: str
    kind: str
    digest: str
    first_seen: int
    last_seen: int
    confidence: float
    source: str
    expires_at: int
    imported_at: float


class SharingStore:
    """Tables ``share_bundles``, ``share_entries``, ``share_revoked``, ``share_vault``."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._pg = PostgresDB(self.path) if is_postgres(self.path) else None
        if self._pg is not None:
            self._pg.migrate("sharing", {"postgres": [_SCHEMA], "sqlite": [_SCHEMA]})
            return
        self._conns = PerThread(self.path, "NORMAL")
        conn = self._conns.get()
        migrate(conn, "sharing", [_SCHEMA])
        ensure(conn)

    def _conn(self) -> log.Connection:
        return self._pg if self._pg is not None else self._conns.get()

    @contextmanager
    def _tx(self) -> Iterator[log.Connection]:
        """One write transaction (on PostgreSQL under the writers' lock: it is chained)."""
        if self._pg is not None:
            with self._pg.write() as c:
                yield c
            return
        conn = self._conns.get()
        with self._lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def import_bundle(self, bundle: Bundle, *, via: str, now: float | None = None) -> bool:
        """Store a verified bundle in place of the member's entries; ``False`` if already in."""
        at = time.time() if now is None else now
        with no_gc(), self._tx() as conn:
            return self._import(conn, bundle, via, at)

    def _import(self, conn: log.Connection, bundle: Bundle, via: str, at: float) -> bool:
        if conn.execute(
            "SELECT 1 FROM share_revoked WHERE member = ?", (bundle.member,)
        ).fetchone():
            raise ImportRefused(f"member {bundle.member!r} is revoked here")
        if conn.execute(
            "SELECT 1 FROM share_bundles WHERE digest = ?", (bundle.digest,)
        ).fetchone():
            return False
        last = conn.execute(
            "SELECT MAX(created_at) FROM share_bundles WHERE member = ?", (bundle.member,)
        ).fetchone()[0]
        if last is not None and bundle.created_at <= int(last):
            raise ImportRefused(
                f"bundle of {bundle.member!r} made at {bundle.created_at} is not newer than "
                f"the one imported (made at {last})"
            )
        conn.execute("DELETE FROM share_entries WHERE member = ?", (bundle.member,))
        conn.execute(_BUMP)
        conn.executemany(
            "INSERT INTO share_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (member, consortium_key, kind, digest) DO NOTHING",
            (
                (bundle.member, bundle.consortium_key, e.kind, e.digest, e.first_seen,
                 e.last_seen, e.confidence, e.source, e.expires_at, bundle.digest, at)
                for e in bundle.entries
            ),
        )  # fmt: skip
        conn.execute(
            "INSERT INTO share_bundles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (bundle.digest, bundle.member, bundle.member_key, bundle.consortium_key,
             bundle.created_at, at, len(bundle.entries), bundle.expired, via),
        )  # fmt: skip
        chain_change(
            conn,
            "share_import",
            bundle.digest[:16],
            data={
                "member": bundle.member,
                "member_key": bundle.member_key,
                "consortium_key": bundle.consortium_key,
                "created_at": bundle.created_at,
                "entries": len(bundle.entries),
                "expired": bundle.expired,
                "via": via,
            },
        )
        return True

    def revoke(self, member: str, reason: str, *, now: float | None = None) -> int:
        """Drop a member's entries and refuse its bundles from now on; entries dropped."""
        at = time.time() if now is None else now
        with self._tx() as conn:
            n = conn.execute("DELETE FROM share_entries WHERE member = ?", (member,)).rowcount
            conn.execute(
                "INSERT INTO share_revoked VALUES (?, ?, ?) ON CONFLICT (member) DO NOTHING",
                (member, at, reason),
            )
            conn.execute(_BUMP)
            chain_change(conn, "share_revoke", member, data={"entries": n, "reason": reason})
        return int(n)

    def reinstate(self, member: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM share_revoked WHERE member = ?", (member,))
            conn.execute(_BUMP)
            chain_change(conn, "share_reinstate", member, data={})

    def purge_expired(self, now: float) -> int:
        with self._tx() as conn:
            gone = conn.execute("DELETE FROM share_entries WHERE expires_at <= ?", (int(now),))
            n = int(gone.rowcount)
            if n:
                conn.execute(_BUMP)
        return n

    def entries(self) -> Iterator[StoredEntry]:
        """Every stored entry (the matching index loads these)."""
        cur = self._conn().execute(
            "SELECT member, consortium_key, kind, digest, first_seen, last_seen, confidence,"
            " source, expires_at, imported_at FROM share_entries"
        )
        for row in cur:
            yield StoredEntry(*row)

    def rows(self) -> Iterator[tuple[str, str, str, str, int, float, int, float]]:
        """Entries as plain rows, as the matching stage indexes them."""
        cur = self._conn().execute(
            "SELECT member, consortium_key, kind, digest, last_seen, confidence, expires_at,"
            " imported_at FROM share_entries"
        )
        yield from cur

    def version(self) -> int:
        """Moves when entries come or go (the stage reloads its index then): one row read."""
        row = self._conn().execute("SELECT version FROM share_version").fetchone()
        return int(row[0])

    def bundles(self) -> list[dict[str, object]]:
        cols = (
            "digest", "member", "member_key", "consortium_key", "created_at", "imported_at",
            "entries", "expired", "via",
        )  # fmt: skip
        cur = self._conn().execute(
            f"SELECT {', '.join(cols)} FROM share_bundles ORDER BY imported_at"
        )
        return [dict(zip(cols, row, strict=True)) for row in cur]

    def revoked(self) -> list[str]:
        return [r[0] for r in self._conn().execute("SELECT member FROM share_revoked")]

    # The vault (see fengkong.sharing.vault).
    def remember(self, rows: Sequence[tuple[str, str, str]]) -> None:
        if not rows:
            return
        sql = "INSERT INTO share_vault VALUES (?, ?, ?) ON CONFLICT (token, key_id) DO NOTHING"
        if self._pg is not None:
            self._pg.executemany(sql, rows)
            return
        conn = self._conns.get()
        with self._lock:
            conn.executemany(sql, rows)

    def hashes(self, tokens: Iterable[str]) -> dict[str, dict[str, str]]:
        wanted = list(dict.fromkeys(tokens))
        out: dict[str, dict[str, str]] = {}
        conn = self._conn()
        for i in range(0, len(wanted), _CHUNK):
            part = wanted[i : i + _CHUNK]
            marks = ",".join("?" * len(part))
            for token, key_id, digest in conn.execute(
                f"SELECT token, key_id, digest FROM share_vault WHERE token IN ({marks})", part
            ):
                out.setdefault(token, {})[key_id] = digest
        return out

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()
        else:
            self._conns.close()
