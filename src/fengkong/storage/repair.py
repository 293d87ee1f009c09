"""Checking a database file and salvaging what is readable from a damaged one.

:func:`check` runs SQLite's ``quick_check`` (or the slower ``integrity_check``).
:func:`recover` copies every row it can still read into a new file with the same
schema, table by table: a full scan first, and where a damaged page stops the scan,
row-by-row reads by key, which reach every row whose own page is intact. Decisions
whose rows are lost leave their events without an answer: those events are written
to a side file (JSON Lines, to replay or re-send) and left out of the new store, so
re-sending them decides them again instead of failing on the stored event.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from fengkong.audit.stored import plain_of
from fengkong.storage.files import create_private

_CHUNK = 500


class StoreDamaged(RuntimeError):
    """The database file fails SQLite's integrity check; the message says what to do."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.problems = problems
        shown = "; ".join(problems[:3])
        super().__init__(
            f"{path} is damaged ({shown}). Stop writing to it; "
            f"`fengkong db check --db {path}` lists the problems and "
            f"`fengkong db recover --db {path} --out NEW.db` salvages what is readable."
        )


def check(path: str | Path, *, full: bool = False, max_errors: int = 100) -> list[str]:
    """The problems SQLite finds in ``path`` (``[]``: none). Opens the file read-only."""
    pragma = "integrity_check" if full else "quick_check"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return [f"cannot open: {exc}"]
    try:
        rows = conn.execute(f"PRAGMA {pragma}({int(max_errors)})").fetchall()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    finally:
        conn.close()
    problems = [str(r[0]) for r in rows]
    return [] if problems == ["ok"] else problems


class BackgroundCheck:
    """:func:`check` in a thread: SQLite releases the GIL while it reads the file, so a
    start restores its state meanwhile. :meth:`raise_if_damaged` waits for the verdict."""

    def __init__(self, path: str | Path, *, full: bool = False) -> None:
        self.path = str(path)
        self._problems: list[str] = []
        self._thread = threading.Thread(
            target=self._run, args=(full,), name="fengkong-store-check", daemon=True
        )
        self._thread.start()

    def _run(self, full: bool) -> None:
        try:
            self._problems = check(self.path, full=full)
        except Exception as exc:  # an unreadable file is a failed check, not a pass
            self._problems = [f"the check failed: {exc}"]

    def problems(self) -> list[str]:
        self._thread.join()
        return self._problems

    def raise_if_damaged(self) -> None:
        if problems := self.problems():
            raise StoreDamaged(self.path, problems)


@dataclass
class TableReport:
    """Rows recovered from one table, and the rows known to be lost."""

    name: str
    recovered: int = 0
    lost: int | None = None  # None: unknown (the table's extent could not be read)
    damaged: bool = False


@dataclass
class RecoverReport:
    tables: list[TableReport] = field(default_factory=list)
    orphan_events: int = 0
    orphans_path: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "tables": {
                t.name: {"recovered": t.recovered, "lost": t.lost, "damaged": t.damaged}
                for t in self.tables
            },
            "events_without_decision": self.orphan_events,
            "events_without_decision_file": str(self.orphans_path) if self.orphans_path else None,
        }


def recover(src: str | Path, dst: str | Path, *, progress: bool = False) -> RecoverReport:
    """Copy every readable row of ``src`` into the new file ``dst``."""
    if Path(dst).exists():
        raise FileExistsError(f"{dst} exists: recover writes a new file")
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    create_private(Path(dst))  # the salvaged copy holds the same customer data
    target = sqlite3.connect(dst, isolation_level=None)
    report = RecoverReport()
    try:
        schema = source.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL"
        ).fetchall()
        tables = [(n, sql) for kind, n, _, sql in schema if kind == "table"]
        for name, sql in tables:
            if not name.startswith("sqlite_"):
                target.execute(sql)
        for name, _ in tqdm(tables, desc="recover", unit="table", disable=not progress):
            if name.startswith("sqlite_"):
                continue
            report.tables.append(_copy_table(source, target, name))
        if {"events", "decisions"} <= {n for n, _ in tables}:
            _probe_decisions(source, target, report)
            _set_aside_orphans(target, Path(f"{dst}.events-without-decision.jsonl"), report)
        for kind, _name, _, sql in schema:
            if kind in ("index", "trigger", "view"):
                target.execute(sql)
    finally:
        source.close()
        target.close()
    return report


def _columns(conn: sqlite3.Connection, table: str) -> tuple[list[str], list[str], bool]:
    """Column names, primary-key columns, and whether the table has a rowid."""
    info = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
    names = [row[1] for row in info]
    keys = [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]]
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    return names, keys, "WITHOUT ROWID" not in sql.upper()


def _copy_table(source: sqlite3.Connection, target: sqlite3.Connection, table: str) -> TableReport:
    names, keys, has_rowid = _columns(source, table)
    cols = ", ".join(f'"{c}"' for c in names)
    insert = f'INSERT OR IGNORE INTO "{table}" ({cols}) VALUES ({", ".join("?" * len(names))})'
    report = TableReport(table)
    key = "rowid" if has_rowid else f'"{keys[0]}"' if len(keys) == 1 else None
    select = f'SELECT {cols} FROM "{table}"'
    if key is None:  # no single key to resume on: one scan, as far as it goes
        rows = _scan_all(source, select, report)
        report.recovered = _insert(target, insert, rows)
        return report
    target.execute("BEGIN")
    for rows in _scan_by_key(source, select, key, has_rowid, report):
        target.executemany(insert, rows)
        report.recovered += len(rows)
    target.execute("COMMIT")
    return report


def _scan_all(source: sqlite3.Connection, select: str, report: TableReport) -> list[tuple[Any]]:
    rows: list[tuple[Any]] = []
    try:
        for row in source.execute(select):
            rows.append(row)
    except sqlite3.DatabaseError:
        report.damaged = True
    return rows


def _insert(target: sqlite3.Connection, insert: str, rows: list[tuple[Any]]) -> int:
    target.execute("BEGIN")
    target.executemany(insert, rows)
    target.execute("COMMIT")
    return len(rows)


def _scan_by_key(
    source: sqlite3.Connection, select: str, key: str, has_rowid: bool, report: TableReport
) -> Iterator[list[tuple[Any]]]:
    """Pages of rows in key order; past a damaged page, rowid probes row by row."""
    last: Any = None
    while True:
        where = "" if last is None else f" WHERE {key} > ?"
        sql = f"{select}{where} ORDER BY {key} LIMIT {_CHUNK}"
        try:
            page = source.execute(
                sql.replace("SELECT ", f"SELECT {key}, ", 1), () if last is None else (last,)
            ).fetchall()
        except sqlite3.DatabaseError:
            report.damaged = True
            if not has_rowid:
                return  # keyed by text: the rest is reached through the events (below)
            yield from _probe_rowids(source, select, last or 0, report)
            return
        if not page:
            return
        last = page[-1][0]
        yield [tuple(row[1:]) for row in page]


def _probe_rowids(
    source: sqlite3.Connection, select: str, after: int, report: TableReport
) -> Iterator[list[tuple[Any]]]:
    """Read rows one rowid at a time up to the largest rowid the table ever had."""
    top = _max_rowid(source, select)
    if top is None:
        report.lost = None
        return
    found: list[tuple[Any]] = []
    report.lost = 0
    for rowid in range(after + 1, top + 1):
        try:
            row = source.execute(f"{select} WHERE rowid = ?", (rowid,)).fetchone()
        except sqlite3.DatabaseError:
            report.lost += 1  # unreadable (or a rowid never used: an upper bound)
            continue
        if row is not None:
            found.append(row)
        if len(found) >= _CHUNK:
            yield found
            found = []
    if found:
        yield found


def _max_rowid(source: sqlite3.Connection, select: str) -> int | None:
    table = select.rsplit(" FROM ", 1)[1].strip('"')
    for sql in (
        "SELECT seq FROM sqlite_sequence WHERE name = ?",
        f'SELECT MAX(rowid) FROM "{table}"',
    ):
        try:
            row = source.execute(sql, (table,) if "?" in sql else ()).fetchone()
        except sqlite3.DatabaseError:
            continue
        if row is not None and row[0] is not None:
            return int(row[0])
    return None


def _probe_decisions(
    source: sqlite3.Connection, target: sqlite3.Connection, report: RecoverReport
) -> None:
    """Past a damaged page of the decisions table, look each recovered event's up by key."""
    decisions = next(t for t in report.tables if t.name == "decisions")
    if not decisions.damaged:
        return
    names, _, _ = _columns(source, "decisions")
    cols = ", ".join(f'"{c}"' for c in names)
    missing = target.execute(
        "SELECT event_id FROM events WHERE event_id NOT IN (SELECT event_id FROM decisions)"
    ).fetchall()
    insert = f"INSERT OR IGNORE INTO decisions ({cols}) VALUES ({', '.join('?' * len(names))})"
    target.execute("BEGIN")
    for (event_id,) in missing:
        try:
            row = source.execute(
                f"SELECT {cols} FROM decisions WHERE event_id = ?", (event_id,)
            ).fetchone()
        except sqlite3.DatabaseError:
            continue
        if row is not None:
            target.execute(insert, row)
            decisions.recovered += 1
    target.execute("COMMIT")


def _set_aside_orphans(target: sqlite3.Connection, side: Path, report: RecoverReport) -> None:
    """Events whose decision is lost: to a side file, and out of the new store."""
    rows = target.execute(
        "SELECT seq, body FROM events WHERE event_id NOT IN (SELECT event_id FROM decisions)"
        " ORDER BY seq"
    ).fetchall()
    report.orphan_events = len(rows)
    if not rows:
        return
    plain = plain_of(target)
    with side.open("wb") as out:
        for _, body in rows:
            out.write(plain(bytes(body)).rstrip(b"\n") + b"\n")
    target.execute("BEGIN")
    target.executemany("DELETE FROM events WHERE seq = ?", [(seq,) for seq, _ in rows])
    target.execute("COMMIT")
    report.orphans_path = side
    decisions = next(t for t in report.tables if t.name == "decisions")
    decisions.lost = len(rows)
