"""Embedded store: one SQLite file in WAL mode.

Each thread gets its own connection (SQLite connections are not shared across
threads); writes are serialised by SQLite itself. ``synchronous=FULL`` makes a commit
durable against power loss; ``NORMAL`` only against a crash of the process.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import orjson

from fengkong.audit.stored import Plain
from fengkong.decisions.store import DecisionRecord, LabelRecord, NotAttempted, StoredDecision
from fengkong.storage import audit_hooks, cases_sqlite, retention
from fengkong.storage.compress import Compressor
from fengkong.storage.connect import PerThread, migrate
from fengkong.storage.explain import unpack
from fengkong.storage.retention import PruneReport

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

# A label repeated (a client's retry) is one fact; older files may hold repeats.
# Version 2: a label is stored once (repeats before this version are dropped).
_LABELS_ONCE = """
DELETE FROM labels WHERE id NOT IN (SELECT MIN(id) FROM labels GROUP BY
    IFNULL(event_id, ''), IFNULL(user_id, ''), label, source, at, IFNULL(scenario, ''));
CREATE UNIQUE INDEX IF NOT EXISTS labels_once ON labels (
    IFNULL(event_id, ''), IFNULL(user_id, ''), label, source, at, IFNULL(scenario, ''));
"""

# Version 3: explanations are stored packed (storage.explain: the names once per schema
# in ``meta``); ``decisions`` becomes a rowid table, whose rows of ~1 KB stay on their
# page (a WITHOUT ROWID row over ~1,000 bytes spills into an overflow page of its own,
# 4 KB a row); the values are copied as they are, so the audit chain still covers them.
# Events past the retention can be pruned, each pruned event_id kept as a tombstone
# naming the prune, so the audit chain tells a pruned record from a deleted one.
_PACKED_AND_PRUNABLE = """
CREATE TABLE decisions_v3 (
    event_id TEXT PRIMARY KEY,
    body_hash TEXT NOT NULL,
    outcome TEXT NOT NULL,
    score REAL NOT NULL,
    decided_at REAL NOT NULL,
    body BLOB NOT NULL,
    explain BLOB NOT NULL
);
INSERT INTO decisions_v3 SELECT event_id, body_hash, outcome, score, decided_at, body, explain
    FROM decisions;
DROP TABLE decisions;
ALTER TABLE decisions_v3 RENAME TO decisions;
CREATE TABLE IF NOT EXISTS pruned (
    event_id TEXT NOT NULL,
    prune TEXT NOT NULL,
    PRIMARY KEY (event_id, prune)
) WITHOUT ROWID;
"""

# Version 4: event bodies, decisions and explanations may be stored zstd-compressed with
# a dictionary kept in ``meta`` (storage.compress); an older fengkong cannot read them,
# so it must refuse the file. Rows stored before stay plain and are read as they are.
_COMPRESSED = """
INSERT OR IGNORE INTO meta (key, value) VALUES ('compression', 'zstd-dictionary/1');
"""

# Version 5: results of checks that finished after the answer (a document image's
# forensics) go to their own append-only table, chained as ``late`` entries, so the
# decision row is never edited after its digest was chained.
_LATE = """
CREATE TABLE IF NOT EXISTS late_results (
    event_id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    at REAL NOT NULL
);
"""

# SQLite caps bound parameters per statement; stay well below the oldest default (999).
_LOOKUP_CHUNK = 500


class SQLiteStore:
    """The embedded default :class:`~fengkong.decisions.store.Store`.

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
        compress_after: int = 1000,
    ) -> None:
        self.path = str(path)
        self._protector = protector
        self._synchronous = synchronous
        self._lock = threading.Lock()
        self._memory = self.path == ":memory:"
        self._conns = PerThread(self.path, self._synchronous, _no_foreign_keys)
        conn = self._conn()
        migrate(conn, "events", [_SCHEMA, _LABELS_ONCE, _PACKED_AND_PRUNABLE, _COMPRESSED, _LATE])
        audit_hooks.ensure(conn)
        cases_sqlite.ensure(conn)
        # Stored values made plain again (a compressed one names its dictionary).
        self.plain = Plain(self.get_meta)
        self.compressor = Compressor(self.plain, compress_after)
        self.compressor.load(conn)

    def _conn(self) -> sqlite3.Connection:
        return self._conns.get()

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
                found[event_id] = StoredDecision(event_id, digest, self.plain(bytes(body)))
        return found

    def write(self, records: Sequence[DecisionRecord]) -> None:
        if not records:
            return
        conn = self._conn()
        now = time.time()
        with self._lock if self._memory else _nolock:
            self._install_dictionaries(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._insert(conn, records, now)
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise

    def write_each(self, units: Sequence[Sequence[DecisionRecord]]) -> list[Exception | None]:
        """Store units of records in one transaction, reporting per unit.

        Each unit is stored whole or not at all (a savepoint each). The first unit that
        fails is rolled back alone and reported with its error; the units after it are
        not attempted (:class:`~fengkong.decisions.store.NotAttempted`), because they were
        decided on a state that counted the failed one. The units before it commit.
        A failure of the transaction itself (disk full at commit) fails every unit.
        """
        results: list[Exception | None] = [None] * len(units)
        if not units:
            return results
        conn = self._conn()
        now = time.time()
        with self._lock if self._memory else _nolock:
            self._install_dictionaries(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                if len(units) > 1 and self._insert_together(conn, units, now):
                    conn.execute("COMMIT")
                    return results
                for i, unit in enumerate(units):
                    conn.execute("SAVEPOINT unit")
                    try:
                        self._insert(conn, unit, now)
                    except sqlite3.IntegrityError as exc:
                        conn.execute("ROLLBACK TO unit")
                        conn.execute("RELEASE unit")
                        results[i] = exc
                        for j in range(i + 1, len(units)):
                            results[j] = NotAttempted(str(exc))
                        break
                    conn.execute("RELEASE unit")
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        return results

    def _insert_together(
        self, conn: sqlite3.Connection, units: Sequence[Sequence[DecisionRecord]], now: float
    ) -> bool:
        """Every unit in one set of statements (the same rows, chain and order as unit by
        unit, a fifth of the SQLite calls); False, rolled back, if one of them fails."""
        conn.execute("SAVEPOINT units")
        try:
            self._insert(conn, [r for unit in units for r in unit], now)
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK TO units")
            conn.execute("RELEASE units")
            return False
        conn.execute("RELEASE units")
        return True

    def _install_dictionaries(self, conn: sqlite3.Connection) -> None:
        """Store newly trained compression dictionaries, in a transaction of their own:
        compressing starts only once the file holds the dictionary."""
        if not self.compressor.ready:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            activate = self.compressor.install(conn)
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        activate()

    def _insert(
        self, conn: sqlite3.Connection, records: Sequence[DecisionRecord], now: float
    ) -> None:
        # Protected fields are sealed here, so only sealed bodies reach the file.
        seal = self._protector.seal if self._protector else bytes
        bodies = [seal(r.event_json) for r in records]
        encode = self.compressor.encode
        conn.executemany(
            "INSERT INTO events (event_id, type, user_id, ts, body) VALUES (?,?,?,?,?)",
            [
                (r.event_id, r.event_type, r.user_id, r.ts, encode("event", b, r.event_id))
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
                    encode("decision", r.decision_json, r.event_id),
                    encode("explain", r.explain_json, r.event_id),
                )
                for r in records
            ],
        )
        # The chain covers the plain values: compressing is how they are kept, not what.
        audit_hooks.chain_decisions(conn, records, now, bodies)
        cases_sqlite.on_decisions(conn, records, now)

    def decision(self, event_id: str) -> tuple[bytes, bytes] | None:
        """The decision and its full explanation (a packed one unpacked)."""
        row = (
            self._conn()
            .execute("SELECT body, explain FROM decisions WHERE event_id = ?", (event_id,))
            .fetchone()
        )
        if row is None:
            return None
        explain = unpack(self.plain(bytes(row[1])), self.get_meta)
        late = self._conn().execute(
            "SELECT key, value FROM late_results WHERE event_id = ?", (event_id,)
        )
        return self.plain(bytes(row[0])), with_late(explain, late.fetchall())

    def attach_explain(self, event_id: str, key: str, value_json: bytes) -> bool:
        """Store a check's result that finished after the answer; read back under ``key``
        of the decision's explanation. One per event (a second is ignored), chained as a
        ``late`` audit entry in the same transaction: the decision row is never edited.

        ``False`` when the decision is not stored (yet): the caller may retry.
        """
        conn = self._conn()
        with self._lock if self._memory else _nolock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT 1 FROM decisions WHERE event_id = ?", (event_id,)
                ).fetchone()
                if row is not None:
                    at = time.time()
                    added = conn.execute(
                        "INSERT OR IGNORE INTO late_results VALUES (?, ?, ?, ?)",
                        (event_id, key, value_json, at),
                    )
                    if added.rowcount == 1:
                        audit_hooks.chain_late(conn, event_id, key, value_json, at)
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        return row is not None

    def prune(
        self,
        before: float,
        *,
        archive: Path | None = None,
        progress: Callable[[int], object] = lambda n: None,
    ) -> PruneReport:
        """Remove events before ``before`` (epoch s) and their decisions; see
        :mod:`fengkong.storage.retention`. ``archive``: a Parquet file written first."""
        return retention.prune(
            self._conn(),
            before,
            archive=archive,
            explain=lambda stored: unpack(stored, self.get_meta),
            plain=self.plain,
            progress=progress,
        )

    def add_labels(
        self,
        labels: Sequence[LabelRecord],
        *,
        within: Callable[[sqlite3.Connection, float], None] | None = None,
    ) -> None:
        """Store labels (repeats ignored); ``within(conn, now)`` joins their transaction
        (a case closed with the labels it writes)."""
        now = time.time()
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            # One at a time: a repeated label is ignored, and the chain covers what was stored.
            inserted: list[tuple[int, LabelRecord]] = []
            for x in labels:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO labels"
                    " (event_id, user_id, label, source, at, scenario, received_at)"
                    " VALUES (?,?,?,?,?,?,?)",
                    (x.event_id, x.user_id, x.label, x.source, x.at, x.scenario, now),
                )
                if cur.rowcount == 1 and cur.lastrowid is not None:
                    inserted.append((cur.lastrowid, x))
            audit_hooks.chain_labels(conn, inserted, now)
            if within is not None:
                within(conn, now)
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise

    def labels(self, since: float | None = None) -> Iterator[LabelRecord]:
        rows = self._conn().execute(
            "SELECT event_id, user_id, label, source, at, scenario FROM labels"
            " WHERE at >= ? ORDER BY at, id",
            (float("-inf") if since is None else since,),
        )
        for row in rows:
            yield LabelRecord(*row)

    def events(self, since: float | None = None) -> Iterator[bytes]:
        """Bodies of the stored events with ``ts`` ≥ ``since``, in log order."""
        for _, body in self.events_after(0, since):
            yield body

    def events_after(self, seq: int, since: float | None = None) -> Iterator[tuple[int, bytes]]:
        """``(seq, body)`` of events stored after ``seq`` with ``ts`` ≥ ``since``, in order.

        Read in pages, so a long rebuild holds no lock.
        """
        last = seq
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
            for n, body in rows:
                yield int(n), reveal(self.plain(bytes(body)))
            last = rows[-1][0]

    def events_of_user(self, user_id: str, limit: int = 200) -> list[tuple[str, float, bytes]]:
        """``(event_id, ts, body)`` of one account's newest ``limit`` events, oldest first."""
        rows = (
            self._conn()
            .execute(
                "SELECT event_id, ts, body FROM events WHERE user_id = ? ORDER BY ts DESC LIMIT ?",
                (user_id, limit),
            )
            .fetchall()
        )
        reveal = self._protector.reveal if self._protector else bytes
        return [(str(e), float(t), reveal(self.plain(bytes(b)))) for e, t, b in reversed(rows)]

    def event_ids(self, after: int = 0) -> Iterator[str]:
        """Every ``event_id`` stored after event ``after`` (in no particular order)."""
        rows = self._conn().execute("SELECT event_id FROM events WHERE seq > ?", (after,))
        for (event_id,) in rows:
            yield str(event_id)

    def last_seq(self) -> int:
        """The acceptance number of the newest stored event (0 when none)."""
        row = self._conn().execute("SELECT MAX(seq) FROM events").fetchone()
        return 0 if row[0] is None else int(row[0])

    def labels_after(self, label_id: int) -> Iterator[tuple[int, LabelRecord]]:
        """``(id, label)`` of labels stored after ``label_id``, in storage order."""
        rows = self._conn().execute(
            "SELECT id, event_id, user_id, label, source, at, scenario FROM labels"
            " WHERE id > ? ORDER BY id",
            (label_id,),
        )
        for row in rows.fetchall():
            yield int(row[0]), LabelRecord(*row[1:])

    def last_label_id(self) -> int:
        row = self._conn().execute("SELECT MAX(id) FROM labels").fetchone()
        return 0 if row[0] is None else int(row[0])

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
        # The one in-memory connection is shared: never write inside another's transaction.
        with self._lock if self._memory else _nolock:
            self._set_meta(key, value)

    def _set_meta(self, key: str, value: str) -> None:
        self._conn().execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def close(self) -> None:
        self._conns.close()


def with_late(explain: bytes, late: Sequence[tuple[str, bytes]]) -> bytes:
    """An explanation with the late results (``key``, JSON value) set at their paths."""
    if not late:
        return explain
    full = orjson.loads(explain)
    for key, value in late:
        _set_path(full, key.split("."), orjson.loads(bytes(value)))
    return orjson.dumps(full, option=orjson.OPT_NON_STR_KEYS)


def _set_path(target: dict[str, Any], path: list[str], value: Any) -> None:
    """``target[a][b]... = value`` for the path ``a.b...``, objects made on the way
    (what SQLite's ``json_set`` does with ``$.a.b``)."""
    for name in path[:-1]:
        inner = target.get(name)
        if not isinstance(inner, dict):
            inner = target[name] = {}
        target = inner
    target[path[-1]] = value


def _no_foreign_keys(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA foreign_keys=OFF")


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open (a failed COMMIT may have ended it)."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_nolock = _NoLock()
