"""Retention: remove events (and their decisions) older than a date, archived first if asked.

A prune runs in one write transaction: the Parquet archive (when asked) is written and
closed before anything is deleted; then every pruned ``event_id`` is kept as a
tombstone in ``pruned`` and one ``prune`` entry is appended to the audit chain, naming
the cut-off, the count and a SHA-256 of the pruned ids. The chain's verifier accepts a
missing record only when its tombstone is covered by such an entry.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fengkong.audit import log
from fengkong.audit.actor import current_actor
from fengkong.audit.records import ids_digest

_PAGE = 5000
_COLUMNS = (
    "seq",
    "event_id",
    "type",
    "user_id",
    "ts",
    "body",
    "body_hash",
    "outcome",
    "score",
    "decided_at",
    "decision",
    "explain",
)


@dataclass(frozen=True)
class PruneReport:
    before: float
    events: int
    archive: str | None
    prune: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "before": self.before,
            "events": self.events,
            "archive": self.archive,
            "prune": self.prune,
        }


def _rows(conn: sqlite3.Connection, before: float) -> Iterator[list[tuple[Any, ...]]]:
    last = 0
    while True:
        page = conn.execute(
            "SELECT e.seq, e.event_id, e.type, e.user_id, e.ts, e.body, d.body_hash, d.outcome,"
            " d.score, d.decided_at, d.body, d.explain FROM events e"
            " LEFT JOIN decisions d ON d.event_id = e.event_id"
            " WHERE e.ts < ? AND e.seq > ? ORDER BY e.seq LIMIT ?",
            (before, last, _PAGE),
        ).fetchall()
        if not page:
            return
        yield page
        last = page[-1][0]


def _archive(
    conn: sqlite3.Connection,
    before: float,
    path: Path,
    explain: Callable[[bytes], bytes],
    plain: Callable[[bytes], bytes],
    progress: Callable[[int], object],
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("seq", pa.int64()),
            ("event_id", pa.string()),
            ("type", pa.string()),
            ("user_id", pa.string()),
            ("ts", pa.float64()),
            ("body", pa.binary()),
            ("body_hash", pa.string()),
            ("outcome", pa.string()),
            ("score", pa.float64()),
            ("decided_at", pa.float64()),
            ("decision", pa.string()),
            ("explain", pa.string()),
        ]
    )
    partial = path.with_name(path.name + ".partial")
    with pq.ParquetWriter(partial, schema, compression="zstd") as writer:
        for page in _rows(conn, before):
            columns: list[list[Any]] = [[] for _ in _COLUMNS]
            for stored in page:
                row = list(stored)
                row[5] = plain(bytes(row[5]))
                row[10] = None if row[10] is None else plain(bytes(row[10])).decode()
                row[11] = None if row[11] is None else explain(plain(bytes(row[11]))).decode()
                for i, v in enumerate(row):
                    columns[i].append(v)
            writer.write_table(pa.table(dict(zip(_COLUMNS, columns, strict=True)), schema=schema))
            progress(len(page))
    partial.replace(path)  # the archive is whole before anything is deleted


def prune(
    conn: sqlite3.Connection,
    before: float,
    *,
    archive: Path | None = None,
    explain: Callable[[bytes], bytes] = bytes,
    plain: Callable[[bytes], bytes] = bytes,
    progress: Callable[[int], object] = lambda n: None,
) -> PruneReport:
    """Remove the events with ``occurred_at`` before ``before`` and their decisions.

    ``explain`` unpacks a stored explanation and ``plain`` decompresses a stored value,
    for the archive."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        ids = [
            str(r[0]) for r in conn.execute("SELECT event_id FROM events WHERE ts < ?", (before,))
        ]
        if not ids:
            conn.execute("ROLLBACK")
            return PruneReport(before, 0, None, None)
        if archive is not None:
            _archive(conn, before, archive, explain, plain, progress)
        now = time.time()
        ref = f"prune-{now:.6f}"
        conn.executemany("INSERT INTO pruned VALUES (?, ?)", [(i, ref) for i in ids])
        for table in ("decisions", "late_results"):
            conn.execute(
                f"DELETE FROM {table} WHERE event_id IN (SELECT event_id FROM events WHERE ts < ?)",
                (before,),
            )
        conn.execute("DELETE FROM events WHERE ts < ?", (before,))
        data = {"before": before, "events": len(ids), "ids_sha256": ids_digest(ids)}
        log.append(conn, [log.Pending("prune", ref, None, None, current_actor.get(), data)], now)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return PruneReport(before, len(ids), None if archive is None else str(archive), ref)


def storage_size(path: str | Path) -> dict[str, Any]:
    """What the file holds per stored event: in all, and per table with its indexes.

    Counted from SQLite's pages in use (``dbstat``), so free pages and the WAL are left
    out; run after a checkpoint for the whole picture.
    """
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        events = int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        page = int(conn.execute("PRAGMA page_size").fetchone()[0])
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        owners = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master").fetchall())
        tables: dict[str, int] = {}
        for name, used in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            table = str(owners.get(name, name))
            tables[table] = tables.get(table, 0) + int(used)
    finally:
        conn.close()
    per = max(events, 1)
    in_use = (pages - free) * page
    return {
        "events": events,
        "bytes_in_use": in_use,
        "bytes_per_event": round(in_use / per),
        "tables_bytes_per_event": {
            t: round(n / per)
            for t, n in sorted(tables.items(), key=lambda kv: -kv[1])
            if round(n / per)
        },
    }
