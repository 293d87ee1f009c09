"""Checking a database against its audit chain: any edit, deletion, insertion or
reordering of a covered record, of the chain itself, or of its signed checkpoints.

Problems are reported in chain order; the first one names the first bad entry.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from fengkong.audit import log
from fengkong.audit.canonical import canonical
from fengkong.audit.checkpoint import CheckpointError, Verifier, verify_checkpoint
from fengkong.audit.merkle import leaf_hash, tree_hash
from fengkong.audit.records import (
    APPEND_ONLY,
    FREEZE_COLUMNS,
    KEY_COLUMNS,
    LIST_COLUMNS,
    body_columns,
    ids_digest,
    row_digest,
    row_ref,
)
from fengkong.audit.stored import plain_of

_CHANGE_KINDS = frozenset(
    {
        "list_add",
        "list_remove",
        "freeze",
        "unfreeze",
        "purge",
        "key_create",
        "key_revoke",
        "prune",
    }
)
# Records a retention prune removed: kept as tombstones, covered by "prune" entries.
_PRUNABLE = frozenset({"event", "decision", "late"})
_STATE_TABLES = {
    "lists": ("rules_list_entries", LIST_COLUMNS, 2),
    "freezes": ("rules_freezes", FREEZE_COLUMNS, 2),
    "keys": ("api_keys", KEY_COLUMNS, 1),
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding; ``seq`` is the chain entry it concerns (``None``: a row no entry covers)."""

    seq: int | None
    what: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.what}" if self.seq is not None else self.what


@dataclass
class Report:
    entries: int = 0
    checkpoints: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        """The first bad entry: lowest chain position, then rows nothing covers."""
        if not self.problems:
            return None
        return min(self.problems, key=lambda p: (p.seq is None, p.seq or 0))


def _has_table(conn: log.Connection, name: str) -> bool:
    if isinstance(conn, sqlite3.Connection) or getattr(conn, "dialect", "") == "sqlite":
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    else:  # PostgreSQL
        sql = "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?"
    return conn.execute(sql, (name,)).fetchone() is not None


def _chain(conn: log.Connection, report: Report) -> tuple[list[dict[str, Any]], list[bytes]]:
    """Walk the hash chain; stop at the first break (later entries cannot be trusted)."""
    parsed: list[dict[str, Any]] = []
    leaves: list[bytes] = []
    head = log.GENESIS
    expected = 1
    for stored in log.entries(conn):
        where = f"(seq {stored.seq})"
        try:
            entry = stored.parsed()
        except (orjson.JSONDecodeError, ValueError):
            report.problems.append(Problem(expected, f"{where} is not a JSON object"))
            break
        label = f"{entry.get('kind')} {entry.get('ref')!r}"
        if stored.seq != expected:
            report.problems.append(
                Problem(expected, f"missing: the chain jumps to seq {stored.seq} ({label})")
            )
            break
        if entry.get("seq") != stored.seq or canonical(entry) != stored.entry:
            report.problems.append(Problem(expected, f"{label} was rewritten or moved"))
            break
        head = log.chain_hash(head, stored.entry)
        if head.hex() != stored.hash:
            report.problems.append(
                Problem(expected, f"{label}: chain hash does not match (edited or inserted)")
            )
            break
        # Only what the record checks need: a long chain must fit in memory.
        slim = {k: entry.get(k) for k in ("seq", "kind", "ref", "digest")}
        if entry.get("kind") in _CHANGE_KINDS:
            slim["data"] = entry.get("data")
        parsed.append(slim)
        leaves.append(leaf_hash(stored.entry))
        expected += 1
    report.entries = len(parsed)
    return parsed, leaves


def _checkpoints(
    conn: log.Connection,
    leaves: list[bytes],
    verifier: Verifier | None,
    report: Report,
    published: list[str],
) -> None:
    rows = conn.execute("SELECT size, note FROM audit_checkpoints ORDER BY size").fetchall()
    report.checkpoints = len(rows)
    for note in published:
        try:
            size = int(note.split("\n")[1])
        except (IndexError, ValueError):
            size = 0
        rows.append((size, note))
    for size, note in rows:
        if verifier is None:
            continue
        try:
            cp = verify_checkpoint(str(note), verifier)
        except CheckpointError as exc:
            report.problems.append(Problem(int(size), f"checkpoint of size {size}: {exc}"))
            continue
        if cp.size != size or cp.size > len(leaves):
            report.problems.append(
                Problem(
                    min(cp.size, len(leaves) + 1),
                    f"signed checkpoint covers {cp.size} entries; the chain has {len(leaves)}"
                    " (entries deleted at the end)",
                )
            )
        elif tree_hash(leaves[: cp.size]) != cp.root:
            report.problems.append(
                Problem(1, f"the first {cp.size} entries differ from the signed checkpoint")
            )


def _table_rows(conn: log.Connection, kind: str) -> Iterator[tuple[Any, ...]]:
    table, columns, _, order, _ = APPEND_ONLY[kind]
    if not _has_table(conn, table):
        return iter(())
    sql = f"SELECT {', '.join(columns)} FROM {table}"
    if order:
        sql += f" ORDER BY {order}"
    # Digests cover the plain values: compressed columns are read back first.
    plain, bodies = plain_of(conn), body_columns(kind)
    return (plain.row(tuple(r), bodies) for r in conn.execute(sql))


def _pruned(conn: log.Connection, entries: list[dict[str, Any]], report: Report) -> set[str]:
    """The event ids pruned under the chain's ``prune`` entries (tombstones checked)."""
    if not _has_table(conn, "pruned"):
        return set()
    by_prune: dict[str, list[str]] = {}
    for event_id, prune in conn.execute("SELECT event_id, prune FROM pruned"):
        by_prune.setdefault(str(prune), []).append(str(event_id))
    covered: set[str] = set()
    for e in entries:
        if e["kind"] != "prune":
            continue
        ids = by_prune.pop(str(e["ref"]), [])
        data = e.get("data") or {}
        if len(ids) != data.get("events") or ids_digest(ids) != data.get("ids_sha256"):
            report.problems.append(Problem(e["seq"], f"prune {e['ref']!r}: tombstones edited"))
        covered.update(ids)
    for prune in by_prune:
        report.problems.append(Problem(None, f"pruned rows of {prune!r} have no prune entry"))
    return covered


def _records(conn: log.Connection, entries: list[dict[str, Any]], report: Report) -> None:
    pruned = _pruned(conn, entries, report)
    for kind, (table, _, _, order, _) in APPEND_ONLY.items():
        table_order = [row_ref(kind, r) for r in _table_rows(conn, kind)] if order else []
        rows = {row_ref(kind, r): row_digest(kind, r) for r in _table_rows(conn, kind)}
        seen: dict[str, int] = {}
        for e in entries:
            if e["kind"] != kind:
                continue
            ref = str(e["ref"])
            seen[ref] = e["seq"]
            found = rows.get(ref)
            if found is None and kind in _PRUNABLE and ref in pruned:
                continue
            if found is None:
                report.problems.append(Problem(e["seq"], f"{kind} {ref!r}: record deleted"))
            elif found != e["digest"]:
                report.problems.append(Problem(e["seq"], f"{kind} {ref!r}: record edited"))
        if order:
            # The table's order must be the chain's: name the first chain entry out of place.
            in_table = [ref for ref in table_order if ref in seen]
            in_chain = [ref for ref in seen if ref in rows]
            for a, b in zip(in_chain, in_table, strict=True):
                if a != b:
                    report.problems.append(
                        Problem(seen[a], f"{kind} {a!r}: records reordered in {table}")
                    )
                    break
        for ref in rows.keys() - seen.keys():
            report.problems.append(
                Problem(None, f"{table} row {ref!r} is covered by no chain entry (inserted)")
            )


def _replay(entries: list[dict[str, Any]]) -> dict[str, dict[tuple[Any, ...], tuple[Any, int]]]:
    """Lists, freezes and keys as the chain says they should be: key -> (row, last seq)."""
    state: dict[str, dict[tuple[Any, ...], tuple[Any, int]]] = {k: {} for k in _STATE_TABLES}
    row: tuple[Any, ...]
    for e in entries:
        kind, data, seq = e["kind"], e.get("data") or {}, e["seq"]
        if kind == "list_add":
            for v in data["values"]:
                row = (e["ref"], v, data["added_at"], data["expires_at"], data["note"])
                state["lists"][(e["ref"], v)] = (row, seq)
        elif kind == "list_remove":
            for v in data["values"]:
                state["lists"].pop((e["ref"], v), None)
        elif kind == "freeze":
            row = tuple(data[c] for c in FREEZE_COLUMNS)
            state["freezes"][(data["kind"], data["value"])] = (row, seq)
        elif kind == "unfreeze":
            state["freezes"].pop((data["kind"], data["value"]), None)
        elif kind == "purge":
            for table in ("lists", "freezes"):
                expiring = [
                    k for k, (row, _) in state[table].items() if _expired(table, row, data["at"])
                ]
                for k in expiring:
                    del state[table][k]
        elif kind == "key_create":
            row = (
                data["key_id"],
                data["name"],
                data["roles"],
                data["hash"],
                data["created_at"],
                None,
            )
            state["keys"][(data["key_id"],)] = (row, seq)
        elif kind == "key_revoke" and (data["key_id"],) in state["keys"]:
            row, _ = state["keys"][(data["key_id"],)]
            state["keys"][(data["key_id"],)] = ((*row[:5], data["at"]), seq)
    return state


def _expired(table: str, row: tuple[Any, ...], at: float) -> bool:
    expires = row[3] if table == "lists" else row[5]
    return expires is not None and expires <= at


def _state(conn: log.Connection, entries: list[dict[str, Any]], report: Report) -> None:
    expected = _replay(entries)
    for name, (table, columns, width) in _STATE_TABLES.items():
        if not _has_table(conn, table):
            continue
        actual = {
            tuple(r[:width]): tuple(r)
            for r in conn.execute(f"SELECT {', '.join(columns)} FROM {table}")
        }
        for key, (row, seq) in expected[name].items():
            got = actual.get(key)
            if got is None:
                report.problems.append(Problem(seq, f"{table} {key!r}: row deleted"))
            elif got != row:
                report.problems.append(Problem(seq, f"{table} {key!r}: row edited"))
        for key in actual.keys() - expected[name].keys():
            report.problems.append(
                Problem(None, f"{table} row {key!r} is covered by no chain entry (inserted)")
            )


def verify_database(
    conn: log.Connection,
    verifier: Verifier | None = None,
    published: list[str] | None = None,
) -> Report:
    """Check the chain, its checkpoints (when ``verifier`` is given) and every record.

    ``published`` are checkpoints kept outside the database (signed by ``verifier``):
    the chain must still hold what they cover.
    """
    report = Report()
    if not _has_table(conn, "audit_log"):
        report.problems.append(Problem(None, "this database has no audit chain"))
        return report
    entries, leaves = _chain(conn, report)
    _checkpoints(conn, leaves, verifier, report, published or [])
    _records(conn, entries, report)
    _state(conn, entries, report)
    return report
