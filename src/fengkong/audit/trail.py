"""The audit chain of one database file: reads recorded, checkpoints signed, verified.

Writes that come with a record (events, decisions, labels, rules, lists, keys) are
chained by the storage layer in the record's own transaction; this object adds the
entries that have no record of their own (an analyst read customer data) and signs
checkpoints over the whole chain. It works on a :class:`~fengkong.audit.log.Database`,
the storage layer's handle (``fengkong.storage.sql.open_db``: a SQLite file on the
one connection factory, or PostgreSQL), which migrates the chain's tables.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fengkong.audit import log
from fengkong.audit.checkpoint import Signer, format_checkpoint
from fengkong.audit.merkle import leaf_hash, tree_hash


class AuditTrail:
    """Reads and checkpoints over the chain in ``db``."""

    def __init__(
        self,
        db: log.Database,
        signer: Signer | None = None,
        *,
        publish_dir: Path | None = None,
    ) -> None:
        self.db = db
        self.path = self.db.target
        self.signer = signer
        self.publish_dir = publish_dir
        self._lock = threading.Lock()
        self.db.ensure_audit()

    @property
    def conn(self) -> log.Connection:
        """Where reads go (one statement each)."""
        return self.db

    @contextmanager
    def reader(self) -> Iterator[log.Connection]:
        """A connection for a long read (``verify``): its own on a file, so writers go on."""
        with self.db.reader() as conn:
            yield conn

    def record(
        self,
        kind: str,
        ref: str,
        *,
        user: str | None = None,
        actor: str | None,
        data: dict[str, Any],
    ) -> None:
        """An entry with no record of its own (``read``, ``tokenise``), in its own commit."""
        with self._lock, self.db.write() as conn:
            log.append(conn, [log.Pending(kind, ref, None, user, actor, data)])

    def record_read(
        self, ref: str, *, user: str | None, actor: str | None, data: dict[str, Any]
    ) -> None:
        """An analyst read customer data: who, what, when."""
        self.record("read", ref, user=user, actor=actor, data=data)

    def user_of_event(self, event_id: str) -> str | None:
        with self._lock:
            row = self.db.execute(
                "SELECT user_id FROM events WHERE event_id = ?", (event_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def leaves(self, upto: int | None = None) -> list[bytes]:
        with self._lock:
            out = [leaf_hash(s.entry) for s in log.entries(self.db)]
        return out if upto is None else out[:upto]

    def checkpoint(self) -> str | None:
        """Sign a checkpoint over the chain as it is, unless one of this size exists."""
        if self.signer is None:
            raise RuntimeError("no signing key: checkpoints need one")
        leaves = self.leaves()
        if not leaves:
            return None
        with self._lock:
            row = self.db.execute(
                "SELECT note FROM audit_checkpoints WHERE size = ?", (len(leaves),)
            ).fetchone()
            if row is not None:
                return str(row[0])
            note = format_checkpoint(self.signer, len(leaves), tree_hash(leaves))
            self.db.execute(
                "INSERT INTO audit_checkpoints VALUES (?,?,?) ON CONFLICT DO NOTHING",
                (len(leaves), time.time(), note),
            )
        if self.publish_dir is not None:
            self.publish_dir.mkdir(parents=True, exist_ok=True)
            (self.publish_dir / f"checkpoint-{len(leaves):012d}.txt").write_text(note)
        return note

    def export(self, user: str) -> dict[str, Any] | None:
        """``user``'s evidence bundle under a fresh checkpoint (``None``: empty chain)."""
        from fengkong.audit.bundle import export_bundle

        note = self.checkpoint()
        if note is None or self.signer is None:
            return None
        with self._lock:
            return export_bundle(self.db, self.signer, note, user)

    def latest_checkpoint(self) -> str | None:
        with self._lock:
            row = self.db.execute(
                "SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1"
            ).fetchone()
        return None if row is None else str(row[0])

    def checkpoints(self) -> list[str]:
        with self._lock:
            rows = self.db.execute("SELECT note FROM audit_checkpoints ORDER BY size").fetchall()
        return [str(r[0]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self.db.close()
