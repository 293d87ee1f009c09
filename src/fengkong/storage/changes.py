"""One change feed for what the hot path must notice: labels, model roles, rule sets.

Triggers on the tables that hold them (installed by this component's migration, so the
writers need not know) bump one counter per topic in ``changes``, in the writer's own
transaction, whichever process writes. :class:`ChangeFeed` reads every counter in one
query at most every ``interval_s``; the stages ask it for a topic's version and reload
only when it moved, instead of each polling its own table. On PostgreSQL,
:class:`PgChangeFeed` does the same for every worker of every host, woken by
``LISTEN``/``NOTIFY`` instead of waiting for the interval.
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


_PG_STEPS = [
    """
CREATE TABLE IF NOT EXISTS changes (topic TEXT PRIMARY KEY, seq BIGINT NOT NULL);
INSERT INTO changes (topic, seq) VALUES ('labels', 0), ('models', 0), ('rules', 0)
ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION changes_bump() RETURNS trigger AS $$
BEGIN
    UPDATE changes SET seq = seq + 1 WHERE topic = TG_ARGV[0];
    PERFORM pg_notify('fengkong_changes', TG_ARGV[0]);
    RETURN NULL;
END; $$ LANGUAGE plpgsql;
CREATE OR REPLACE TRIGGER changes_models AFTER INSERT ON models_roles_log
FOR EACH STATEMENT EXECUTE FUNCTION changes_bump('models');
CREATE OR REPLACE TRIGGER changes_rules AFTER UPDATE ON rules_meta
FOR EACH STATEMENT EXECUTE FUNCTION changes_bump('rules');
"""
]

CHANNEL = "fengkong_changes"


class PgChangeFeed:
    """The change feed on PostgreSQL, told of each change by ``LISTEN``/``NOTIFY``.

    Triggers on ``models_roles_log`` and ``rules_meta`` bump the topic's counter and
    notify :data:`CHANNEL` in the writer's transaction (delivered at its commit); a
    listener thread marks the feed stale, and the next :meth:`version` re-reads the
    counters. Without a notification (the listening connection lost) the counters are
    still re-read every ``interval_s``. Labels are not watched here: workers read them
    with the events (:class:`~fengkong.decisions.follow.LogFollower`).
    """

    def __init__(
        self,
        url: str,
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        listen: bool = True,
    ) -> None:
        from fengkong.storage.sql import PostgresDB

        self.path = url
        self.interval_s = interval_s
        self.clock = clock
        self._db = PostgresDB(url)
        self._db.migrate("changes", {"postgres": _PG_STEPS, "sqlite": []})
        self._checked = float("-inf")
        self._stale = threading.Event()
        self._stop = threading.Event()
        self._versions: dict[str, int] = dict.fromkeys(TOPICS, 0)
        self.reads = 0
        self.notified = 0
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="fk-changes", daemon=True)
        if listen:  # off: the interval's poll alone (the floor the notifications improve on)
            self._thread.start()
            self._listening.wait(10)

    def _listen(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.path, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._stale.set()  # anything written before LISTEN: read again
                    self._listening.set()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5):
                            self.notified += 1
                            self._stale.set()
            except psycopg.Error:
                self._listening.set()
                self._stop.wait(self.interval_s)  # the poll covers the gap

    def version(self, topic: str) -> int:
        """The topic's version: it moves whenever something of that topic was written."""
        now = self.clock()
        if self._stale.is_set() or now - self._checked >= self.interval_s:
            self._stale.clear()
            self._checked = now
            rows = self._db.execute("SELECT topic, seq FROM changes").fetchall()
            self._versions.update({str(t): int(s) for t, s in rows})
            self.reads += 1
        return self._versions[topic]

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._db.close()
