"""The change-feed contract, run against every backend: the embedded file (ChangeFeed,
one query per interval) and PostgreSQL (PgChangeFeed, LISTEN/NOTIFY): a topic's version
moves when a store of that topic writes, whoever writes, and only then."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import pytest

from fengkong.decisions.store import LabelRecord
from fengkong.rules import default_ruleset
from fengkong.runtime import default_rule_names
from fengkong.storage import SQLiteStore
from fengkong.storage.changes import ChangeFeed, PgChangeFeed
from fengkong.storage.models_sqlite import SQLiteModelStore
from fengkong.storage.rules_sqlite import SQLiteRuleStore
from fengkong.storage.sql import is_postgres
from tests.contract.backends import BACKENDS, target
from tests.servers import pg_server

__all__ = ["pg_server"]  # the session fixture, used by name


class Feed(Protocol):
    reads: int

    def version(self, topic: str) -> int: ...
    def close(self) -> None: ...


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(params=BACKENDS)
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return target(request, tmp_path, "fk.db")


def _open(where: str, clock: Callable[[], float]) -> Feed:
    if is_postgres(where):
        return PgChangeFeed(where, interval_s=1.0, clock=clock)
    return ChangeFeed(where, interval_s=1.0, clock=clock)


@pytest.fixture()
def stores(where: str, tmp_path: Path) -> Iterator[tuple[SQLiteRuleStore, SQLiteModelStore]]:
    # The tables the triggers watch (on PostgreSQL the labels live in the event schema).
    events = None if is_postgres(where) else SQLiteStore(where)
    rules = SQLiteRuleStore(where, default_rule_names())
    models = SQLiteModelStore(where, tmp_path / "models")
    yield rules, models
    rules.close()
    models.close()
    if events is not None:
        events.close()


def _eventually(feed: Feed, topic: str, above: int) -> int:
    """The version once it passed ``above`` (a notification is delivered at commit)."""
    deadline = time.monotonic() + 5
    while (v := feed.version(topic)) <= above and time.monotonic() < deadline:
        time.sleep(0.02)
    return v


def test_rules_and_model_roles_move_their_topic_only(
    where: str, stores: tuple[SQLiteRuleStore, SQLiteModelStore]
) -> None:
    clock = Clock()
    feed = _open(where, clock)
    try:
        before = {t: feed.version(t) for t in ("labels", "models", "rules")}
        other_rules, models = stores  # writers other than the feed's connection
        other_rules.publish(default_ruleset(), author="t")
        clock.t = 1.0
        assert _eventually(feed, "rules", before["rules"]) > before["rules"]
        assert feed.version("models") == before["models"]
        models.add(1, "fraud", "d1", {})
        models.set_role("champion", 1, author="t", action="promote")
        clock.t = 2.0
        assert _eventually(feed, "models", before["models"]) > before["models"]
        assert feed.version("labels") == before["labels"]
    finally:
        feed.close()


def test_nothing_written_nothing_read_within_the_interval(
    where: str, stores: tuple[SQLiteRuleStore, SQLiteModelStore]
) -> None:
    clock = Clock()
    feed = _open(where, clock)
    try:
        if isinstance(feed, PgChangeFeed):
            time.sleep(0.6)  # let the listener's first wake-up pass
        first = feed.version("rules")
        reads = feed.reads
        for _ in range(20):
            assert feed.version("rules") == first
        assert feed.reads - reads <= 1
    finally:
        feed.close()


def test_labels_move_their_topic_on_the_file(tmp_path: Path) -> None:
    """On the file the feed watches labels; on PostgreSQL workers read them with the events
    (decisions.follow.LogFollower), so this is the embedded backend's part of the contract."""
    db = str(tmp_path / "fk.db")
    store, rules, models = SQLiteStore(db), SQLiteRuleStore(db, []), SQLiteModelStore(db)
    clock = Clock()
    feed = ChangeFeed(db, interval_s=1.0, clock=clock)
    try:
        before = feed.version("labels")
        store.add_labels([LabelRecord(f"e{i}", None, "fraud", "chargeback", 1.0) for i in range(2)])
        assert feed.version("labels") == before  # not re-read within the interval
        clock.t = 1.0
        assert feed.version("labels") == before + 2
    finally:
        for s in (feed, store, rules, models):
            s.close()
