"""Rule set versions, the live pointer, lists and freezes in the embedded SQLite file.

Tables are prefixed ``rules_`` and live beside the other stores' tables in the same
database file. Versions are immutable (triggers refuse UPDATE and DELETE); the live
pointer is the last row of an append-only log, so every switch is kept with its time
and author. Each write bumps a generation counter in the same transaction; readers keep
a compiled snapshot in memory and reload it when the counter moves, checking at most
every ``refresh_s`` seconds, so changes made by another process (the CLI while a server
runs) arrive within that delay and the hot path never touches the database.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from fengkong.audit.records import FREEZE_COLUMNS
from fengkong.rules.lists import (
    Freeze,
    FreezeTable,
    ListEntry,
    ListSnapshot,
    check_freeze,
    check_list_name,
    check_list_value,
)
from fengkong.rules.ruleset import CompiledRuleSet, RuleSet, compile_ruleset
from fengkong.rules.schema import Type
from fengkong.rules.store import RulesSnapshot, VersionInfo
from fengkong.storage.audit_hooks import chain_change, ensure
from fengkong.storage.connect import connect, migrate

log = logging.getLogger(__name__)
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rules_versions (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    author TEXT NOT NULL,
    comment TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS rules_versions_no_update BEFORE UPDATE ON rules_versions
BEGIN SELECT RAISE(ABORT, 'rule set versions are immutable'); END;
CREATE TRIGGER IF NOT EXISTS rules_versions_no_delete BEFORE DELETE ON rules_versions
BEGIN SELECT RAISE(ABORT, 'rule set versions are immutable'); END;
CREATE TABLE IF NOT EXISTS rules_live_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    version INTEGER NOT NULL REFERENCES rules_versions(version),
    at REAL NOT NULL,
    author TEXT NOT NULL,
    action TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rules_list_entries (
    list_name TEXT NOT NULL,
    value TEXT NOT NULL,
    added_at REAL NOT NULL,
    expires_at REAL,
    note TEXT NOT NULL,
    PRIMARY KEY (list_name, value)
);
CREATE TABLE IF NOT EXISTS rules_freezes (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (kind, value)
);
CREATE TABLE IF NOT EXISTS rules_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO rules_meta (key, value) VALUES ('generation', 0);
"""


class SQLiteRuleStore:
    """The embedded :class:`~fengkong.rules.store.RuleStore`.

    ``known_names`` (features and facts, with types when known) are what published rule
    sets are validated and compiled against.

    >>> store = SQLiteRuleStore(":memory:", known_names={"user.events_10m": "num"})
    >>> store.snapshot().ruleset is None
    True
    """

    def __init__(
        self,
        path: str | Path,
        known_names: Mapping[str, Type] | Iterable[str],
        *,
        refresh_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = str(path)
        self.known_names: dict[str, Type] | list[str] = (
            dict(known_names) if isinstance(known_names, Mapping) else list(known_names)
        )
        self.refresh_s = refresh_s
        self.clock = clock
        self._lock = threading.RLock()
        self._conn = connect(self.path)
        migrate(self._conn, "rules", [_SCHEMA])
        ensure(self._conn)
        self._generation = -1
        self._checked = 0.0
        # ``topic -> version`` of a change feed; without one, poll every ``refresh_s``.
        self.changes: Callable[[str], int] | None = None
        self._changes_seen = -1
        self._snapshot = RulesSnapshot(None, ListSnapshot(), FreezeTable())
        self._compiled: dict[int, CompiledRuleSet] = {}
        self._reload()

    # -- snapshot ---------------------------------------------------------------------
    def snapshot(self) -> RulesSnapshot:
        """The cached snapshot, reloaded when another writer moved the generation."""
        now = time.monotonic()
        if self.changes is not None:  # the change feed says when to look
            version = self.changes("rules")
            due, self._changes_seen = version != self._changes_seen, version
        else:
            due = now - self._checked >= self.refresh_s
        if due:
            self._checked = now
            row = self._conn.execute(
                "SELECT value FROM rules_meta WHERE key = 'generation'"
            ).fetchone()
            if row is not None and row[0] != self._generation:
                self._reload()
        return self._snapshot

    def _reload(self) -> None:
        with self._lock:
            c = self._conn
            gen = c.execute("SELECT value FROM rules_meta WHERE key = 'generation'").fetchone()[0]
            live = self._live_row()
            ruleset = self._snapshot.ruleset
            if live is None:
                ruleset = None
            elif ruleset is None or ruleset.version != f"r{live}":
                try:
                    ruleset = self._compile(live)
                except ValueError:
                    # Keep deciding with what we had rather than with nothing.
                    log.exception(
                        "live rule set r%s no longer compiles; keeping %s",
                        live,
                        ruleset.version if ruleset else "none",
                    )
            entries = [
                ListEntry(*r)
                for r in c.execute(
                    "SELECT list_name, value, added_at, expires_at, note FROM rules_list_entries"
                )
            ]
            freezes = [
                Freeze(*r)
                for r in c.execute(
                    "SELECT kind, value, action, reason, created_at, expires_at, created_by "
                    "FROM rules_freezes"
                )
            ]
            self._snapshot = RulesSnapshot(ruleset, ListSnapshot(entries), FreezeTable(freezes))
            self._generation = gen

    def _compile(self, version: int) -> CompiledRuleSet:
        cached = self._compiled.get(version)
        if cached is None:
            cached = compile_ruleset(
                self.get_version(version), self.known_names, version=f"r{version}"
            )
            self._compiled[version] = cached
        return cached

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in one IMMEDIATE transaction that also bumps the generation."""
        with self._lock:
            c = self._conn
            _begin_immediate(c)
            try:
                out = fn(c)
                c.execute("UPDATE rules_meta SET value = value + 1 WHERE key = 'generation'")
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
            self._reload()
            return out

    # -- versions ---------------------------------------------------------------------
    def publish(
        self, ruleset: RuleSet, *, author: str = "", comment: str = "", activate: bool = True
    ) -> VersionInfo:
        compiled = compile_ruleset(ruleset, self.known_names)  # raises RuleSetInvalid
        body = json.dumps(ruleset.model_dump(mode="json"), ensure_ascii=False)
        now = self.clock()

        def tx(c: sqlite3.Connection) -> int:
            (n,) = c.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM rules_versions").fetchone()
            c.execute(
                "INSERT INTO rules_versions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (n, ruleset.name, ruleset.digest(), body, now, author, comment),
            )
            row = (n, ruleset.name, ruleset.digest(), body, now, author, comment)
            chain_change(c, "rules", str(n), row=row, actor=author or None)
            if activate:
                _switch_live(c, n, now, author, "publish")
            return int(n)

        n = self._write(tx)
        compiled.version = f"r{n}"
        self._compiled[n] = compiled
        return self._info(n)

    def versions(self) -> list[VersionInfo]:
        rows = self._conn.execute("SELECT version FROM rules_versions ORDER BY version").fetchall()
        return [self._info(r[0]) for r in rows]

    def get_version(self, version: int) -> RuleSet:
        row = self._conn.execute(
            "SELECT body FROM rules_versions WHERE version = ?", (version,)
        ).fetchone()
        if row is None:
            raise KeyError(f"no rule set version {version}")
        return RuleSet.model_validate_json(row[0])

    def live_version(self) -> VersionInfo | None:
        live = self._live_row()
        return None if live is None else self._info(live)

    def activate(self, version: int, *, author: str = "", action: str = "activate") -> VersionInfo:
        self._compile(version)  # validate against today's names before switching

        def tx(c: sqlite3.Connection) -> None:
            _switch_live(c, version, self.clock(), author, action)

        self._write(tx)
        return self._info(version)

    def rollback(self, to: int | None = None, *, author: str = "") -> VersionInfo:
        live = self._live_row()
        if to is None:
            if live is None:
                raise LookupError("nothing is live: nothing to roll back")
            row = self._conn.execute(
                "SELECT MAX(version) FROM rules_versions WHERE version < ?", (live,)
            ).fetchone()
            if row is None or row[0] is None:
                raise LookupError(f"r{live} is the first version: nothing to roll back to")
            to = int(row[0])
        return self.activate(to, author=author, action="rollback")

    def history(self) -> list[dict[str, object]]:
        """Every switch of the live pointer, newest first."""
        rows = self._conn.execute(
            "SELECT seq, version, at, author, action FROM rules_live_log ORDER BY seq DESC"
        ).fetchall()
        return [
            dict(zip(("seq", "version", "at", "author", "action"), r, strict=True)) for r in rows
        ]

    def _live_row(self) -> int | None:
        row = self._conn.execute(
            "SELECT version FROM rules_live_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return None if row is None else int(row[0])

    def _info(self, version: int) -> VersionInfo:
        row = self._conn.execute(
            "SELECT version, name, digest, created_at, author, comment, body "
            "FROM rules_versions WHERE version = ?",
            (version,),
        ).fetchone()
        if row is None:
            raise KeyError(f"no rule set version {version}")
        n_rules = len(json.loads(row[6]).get("rules", []))
        return VersionInfo(
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            n_rules,
            live=self._live_row() == version,
        )

    # -- lists ------------------------------------------------------------------------
    def add_to_list(
        self, name: str, values: Iterable[str], *, expires_at: float | None = None, note: str = ""
    ) -> int:
        check_list_name(name)
        vals = [check_list_value(v) for v in values]
        now = self.clock()

        def tx(c: sqlite3.Connection) -> None:
            c.executemany(
                "INSERT INTO rules_list_entries VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (list_name, value) DO UPDATE SET added_at = excluded.added_at, "
                "expires_at = excluded.expires_at, note = excluded.note",
                [(name, v, now, expires_at, note) for v in vals],
            )
            data = {"values": vals, "added_at": now, "expires_at": expires_at, "note": note}
            chain_change(c, "list_add", name, data=data)

        self._write(tx)
        return len(vals)

    def remove_from_list(self, name: str, values: Iterable[str]) -> int:
        vals = list(values)

        def tx(c: sqlite3.Connection) -> int:
            cur = c.executemany(
                "DELETE FROM rules_list_entries WHERE list_name = ? AND value = ?",
                [(name, v) for v in vals],
            )
            chain_change(c, "list_remove", name, data={"values": vals})
            return cur.rowcount

        return self._write(tx)

    def list_entries(self, name: str, *, include_expired: bool = False) -> list[ListEntry]:
        rows = self._conn.execute(
            "SELECT list_name, value, added_at, expires_at, note FROM rules_list_entries "
            "WHERE list_name = ? ORDER BY value",
            (name,),
        ).fetchall()
        now = self.clock()
        entries = [ListEntry(*r) for r in rows]
        return entries if include_expired else [e for e in entries if e.live_at(now)]

    def list_names(self) -> dict[str, int]:
        now = self.clock()
        rows = self._conn.execute(
            "SELECT list_name, COUNT(*) FROM rules_list_entries "
            "WHERE expires_at IS NULL OR expires_at > ? GROUP BY list_name ORDER BY list_name",
            (now,),
        ).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    # -- freezes ----------------------------------------------------------------------
    def freeze(
        self,
        kind: str,
        value: str,
        action: str,
        reason: str,
        *,
        expires_at: float | None = None,
        created_by: str = "",
    ) -> Freeze:
        check_freeze(kind, value, action)
        if not reason.strip():
            raise ValueError("give a reason: it is shown in the decision and kept for audit")
        f = Freeze(kind, value, action, reason, self.clock(), expires_at, created_by)  # type: ignore[arg-type]

        def tx(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT OR REPLACE INTO rules_freezes VALUES (?, ?, ?, ?, ?, ?, ?)",
                (f.kind, f.value, f.action, f.reason, f.created_at, f.expires_at, f.created_by),
            )
            row = (f.kind, f.value, f.action, f.reason, f.created_at, f.expires_at, f.created_by)
            data = dict(zip(FREEZE_COLUMNS, row, strict=True))
            chain_change(c, "freeze", f"{f.kind}:{f.value}", data=data, actor=created_by or None)

        self._write(tx)
        return f

    def unfreeze(self, kind: str, value: str) -> bool:
        def tx(c: sqlite3.Connection) -> int:
            gone = c.execute(
                "DELETE FROM rules_freezes WHERE kind = ? AND value = ?", (kind, value)
            ).rowcount
            if gone:
                chain_change(c, "unfreeze", f"{kind}:{value}", data={"kind": kind, "value": value})
            return int(gone)

        return bool(self._write(tx))

    def freezes(self, *, include_expired: bool = False) -> list[Freeze]:
        rows = self._conn.execute(
            "SELECT kind, value, action, reason, created_at, expires_at, created_by "
            "FROM rules_freezes ORDER BY created_at"
        ).fetchall()
        now = self.clock()
        out = [Freeze(*r) for r in rows]
        return out if include_expired else [f for f in out if f.live_at(now)]

    def purge_expired(self) -> int:
        """Delete expired list entries and freezes; returns how many rows went."""
        now = self.clock()

        def tx(c: sqlite3.Connection) -> int:
            a = c.execute(
                "DELETE FROM rules_list_entries WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (now,),
            ).rowcount
            b = c.execute(
                "DELETE FROM rules_freezes WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (now,),
            ).rowcount
            if a + b:
                chain_change(c, "purge", "expired", data={"at": now})
            return int(a + b)

        return self._write(tx)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _begin_immediate(conn: sqlite3.Connection, attempts: int = 6) -> None:
    """BEGIN IMMEDIATE, retried: under event load the write lock can stay busy past
    the busy timeout's first wait (a checkpoint, a long group commit)."""
    for attempt in range(attempts):
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * 2**attempt)


def _switch_live(c: sqlite3.Connection, version: int, at: float, author: str, action: str) -> None:
    """Append to the live pointer's log, with its chain entry."""
    cur = c.execute(
        "INSERT INTO rules_live_log (version, at, author, action) VALUES (?,?,?,?)",
        (version, at, author, action),
    )
    seq = int(cur.lastrowid or 0)
    row = (seq, version, at, author, action)
    chain_change(c, "live", str(seq), row=row, actor=author or None)
