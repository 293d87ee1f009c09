"""The append-only, hash-chained audit log in the database file.

Each entry is a JSON object ``{seq, kind, ref, user, actor, at, digest, data}``;
its chain hash is ``SHA-256(previous hash || canonical JSON of the entry)`` (the first
entry chains from 32 zero bytes). An entry is stored as its fields, one column each
(the digest and the chain hash as 32 bytes), and its canonical JSON is rebuilt from
them on read: the same bytes, without the JSON's keys and the copies of ``kind``,
``ref`` and ``user`` the columns already hold. Entries stored before keep their JSON
in ``entry`` and are read as they are. ``digest`` is the SHA-256 of the record the entry
covers (see :mod:`fengkong.audit.records`), so an edit of that record, of the entry or
of the order of entries breaks the chain or a digest. Entries are appended inside the
caller's transaction: a record and the entry that covers it commit together or not at all.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from fengkong.audit.canonical import canonical

GENESIS = bytes(32)

# The chain's tables as versioned migration steps (run by the storage layer's
# ``migrate`` as component ``audit``). Step 1 is the table as first written (kept with
# IF NOT EXISTS: files from before versioning take it as they are); step 2 stores the
# entry's fields as columns (``entry`` then stays empty).
STEPS = (
    """
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    user_id TEXT,
    entry BLOB NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    size INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    note TEXT NOT NULL
);
""",
    """
ALTER TABLE audit_log ADD COLUMN actor TEXT;
ALTER TABLE audit_log ADD COLUMN at REAL;
ALTER TABLE audit_log ADD COLUMN digest BLOB;
ALTER TABLE audit_log ADD COLUMN data TEXT;
""",
)

# The columns step 2 adds (a file that has them all took both steps).
FIELD_COLUMNS = (("actor", "TEXT"), ("at", "REAL"), ("digest", "BLOB"), ("data", "TEXT"))
_SELECT = "SELECT seq, kind, ref, user_id, entry, hash, actor, at, digest, data FROM audit_log"


class Connection(Protocol):
    """A ``sqlite3`` connection, or one of PostgreSQL's taking the same ``?`` statements."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any: ...


class Database(Connection, Protocol):
    """Statements one at a time, write transactions, a connection for long reads, and
    the chain's tables migrated (``fengkong.storage.sql`` implements it)."""

    target: str

    def write(self) -> AbstractContextManager[Connection]: ...
    def reader(self) -> AbstractContextManager[Connection]: ...
    def ensure_audit(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Pending:
    """An entry to append: what it covers, who caused it, and the record's digest."""

    kind: str
    ref: str
    digest: str | None = None
    user: str | None = None
    actor: str | None = None
    data: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    """An entry as read back: its sequence number, exact bytes and chain hash."""

    seq: int
    entry: bytes
    hash: str

    def parsed(self) -> dict[str, Any]:
        value = orjson.loads(self.entry)
        if not isinstance(value, dict):
            raise ValueError("entry is not a JSON object")
        return value


def chain_hash(previous: bytes, entry: bytes) -> bytes:
    return hashlib.sha256(previous + entry).digest()


def _entry(
    seq: int,
    kind: str,
    ref: str,
    user: str | None,
    actor: str | None,
    at: float,
    digest: str | None,
    data: Any,
) -> bytes:
    fields = {"seq": seq, "kind": kind, "ref": ref, "user": user, "actor": actor, "at": at}
    return canonical({**fields, "digest": digest, "data": data})


def _hex(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return bytes(value).hex()


def _stored(row: Sequence[Any]) -> Stored:
    """An entry from its row: the JSON kept whole (older rows) or rebuilt from the fields."""
    seq, kind, ref, user, entry, digest_of, actor, at, digest, data = row
    raw = bytes(entry) if not isinstance(entry, str) else entry.encode()
    if not raw:
        fields = None if data is None else orjson.loads(data)
        raw = _entry(int(seq), kind, ref, user, actor, at, _hex(digest), fields)
    return Stored(int(seq), raw, str(_hex(digest_of)))


def _digest_bytes(digest: str | None) -> bytes | None:
    """A SHA-256 in lower-case hex as its 32 bytes (``None`` for anything else)."""
    if digest is None or len(digest) != 64:
        return None
    try:
        raw = bytes.fromhex(digest)
    except ValueError:
        return None
    return raw if raw.hex() == digest else None


def _rebuilt(seq: int, p: Pending, when: float, data: str) -> bytes:
    return _entry(seq, p.kind, p.ref, p.user, p.actor, when, p.digest, orjson.loads(data))


def _row(seq: int, p: Pending, when: float, entry: bytes, head: bytes) -> tuple[Any, ...]:
    """The stored row of an entry: its fields, or its JSON when they would not rebuild it."""
    digest = _digest_bytes(p.digest)
    data = None if p.data is None else canonical(p.data).decode()
    fields = (p.actor, when, digest, data)
    texts = (p.kind, p.ref, *(v for v in (p.user, p.actor) if v is not None))
    if (
        (digest is None and p.digest is not None)
        or type(when) is not float
        or any(type(v) is not str for v in texts)
        or (data is not None and _rebuilt(seq, p, when, data) != entry)
    ):
        return (seq, p.kind, p.ref, p.user, entry, head, None, None, None, None)
    return (seq, p.kind, p.ref, p.user, b"", head, *fields)


def append(conn: Connection, pending: Sequence[Pending], at: float | None = None) -> int:
    """Append entries in the caller's open write transaction; returns the new head seq."""
    row = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, head = (0, GENESIS) if row is None else (int(row[0]), bytes.fromhex(str(_hex(row[1]))))
    when = time.time() if at is None else at
    rows = []
    for p in pending:
        seq += 1
        entry = _entry(seq, p.kind, p.ref, p.user, p.actor, when, p.digest, p.data)
        head = chain_hash(head, entry)
        rows.append(_row(seq, p, when, entry, head))
    conn.executemany(
        "INSERT INTO audit_log (seq, kind, ref, user_id, entry, hash, actor, at, digest, data)"
        " VALUES (?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    return seq


def entries(conn: Connection, *, user: str | None = None) -> Iterator[Stored]:
    """Stored entries in seq order (only ``user``'s when given), paged."""
    last = 0
    while True:
        if user is None:
            sql = f"{_SELECT} WHERE seq > ? ORDER BY seq LIMIT 5000"
            rows = conn.execute(sql, (last,)).fetchall()
        else:
            sql = f"{_SELECT} WHERE seq > ? AND user_id = ? ORDER BY seq LIMIT 5000"
            rows = conn.execute(sql, (last, user)).fetchall()
        if not rows:
            return
        for row in rows:
            yield _stored(row)
        last = rows[-1][0]


def size(conn: Connection) -> int:
    row = conn.execute("SELECT MAX(seq) FROM audit_log").fetchone()
    return 0 if row[0] is None else int(row[0])


def record(conn: sqlite3.Connection, pending: Sequence[Pending]) -> None:
    """Append entries in a transaction of their own (reads, key changes, ...)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        append(conn, pending)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
