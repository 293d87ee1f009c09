"""One change feed for what the hot path must notice: labels, model roles, rule sets.

Triggers on the tables that hold them (installed by this component's migration, so the
writers need not know) bump one counter per topic in ``changes``, in the writer's own
transaction, whichever process writes. :class:`ChangeFeed` reads every counter in one
query at most every ``interval_s``; the stages ask it for a topic's version and reload
only when it moved, instead of each polling its own table.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from fengkong.storage.connect import connect, migrate

TOPICS = ("labels", "models", "rules")

_STEPS = [
    """
CREATE TABLE IF NOT EXISTS changes (topic TEXT PRIMARY KEY, seq INTEGER NOT NULL);
INSERT OR IGNORE INTO changes (topic, seq) VALUES ('labels', 0), ('models', 0), ('rules', 0);
CREATE TRIGGER IF NOT EXISTS changes_labels AFTER INSERT ON labels
BEGIN UPDATE changes SET seq = seq + 1 WHERE topic = 'labels'; END;
CREATE TRIGGER IF NOT EXISTS changes_models AFTER INSERT ON models_roles_log
BEGIN UPDATE changes SET seq = seq + 1 WHERE topic = 'models'; END;
CREATE TRIGGER IF NOT EXISTS changes_rules AFTER UPDATE ON rules_meta
BEGIN UPDATE changes SET seq = seq + 1 WHERE topic = 'rules'; END;
"""
]


class ChangeFeed:
    """Versions of the topics, read in one query at most every ``interval_s``.

    The tables the triggers watch (``labels``, ``models_roles_log``, ``rules_meta``)
    must exist: open the feed after the stores.
    """

    def __init__(
        self, path: str, interval_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = str(path)
        self.interval_s = interval_s
        self.clock = clock
        self._conn = connect(self.path)
        self._lock = threading.Lock()
        migrate(self._conn, "changes", _STEPS)
        self._checked = float("-inf")
        self._versions: dict[str, int] = dict.fromkeys(TOPICS, 0)
        self.reads = 0

    def version(self, topic: str) -> int:
        """The topic's version: it moves whenever something of that topic was written."""
        now = self.clock()
        if now - self._checked >= self.interval_s:
            self._checked = now
            with self._lock:
                rows = self._conn.execute("SELECT topic, seq FROM changes").fetchall()
            self._versions.update({str(t): int(s) for t, s in rows})
            self.reads += 1
        return self._versions[topic]

    def close(self) -> None:
        self._conn.close()
