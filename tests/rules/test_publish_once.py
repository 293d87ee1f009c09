"""Workers starting at once on one fresh PostgreSQL database publish the pack once.

``fengkong serve --workers 2`` once published the default pack twice (r1 and r2): each
worker read "nothing live" and published. Here two threads open the rule store as a
start does, held together until both have read the live version, so they always race.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fengkong.rules.ruleset import DEFAULT_PACK
from fengkong.runtime import open_rule_store
from fengkong.settings import Settings
from fengkong.storage.rules_sqlite import SQLiteRuleStore
from tests.servers import pg_server, pg_url

__all__ = ["pg_server", "pg_url"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("rules_path", [None, DEFAULT_PACK], ids=["default", "rules_path"])
def test_two_workers_starting_at_once_publish_once(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rules_path: Path | None
) -> None:
    settings = Settings(
        db_path=tmp_path / "fk.db",
        storage={"backend": "postgres", "url": pg_url},  # type: ignore[arg-type]
        rules_path=rules_path,
    )
    both_read = threading.Barrier(2, timeout=60)
    read = SQLiteRuleStore.live_version

    def live_version_then_wait(self: SQLiteRuleStore) -> object:
        live = read(self)
        both_read.wait()  # the other worker has read it too: both decide to publish
        return live

    monkeypatch.setattr(SQLiteRuleStore, "live_version", live_version_then_wait)
    with ThreadPoolExecutor(2) as pool:
        stores = list(pool.map(lambda _: open_rule_store(settings), range(2)))
    monkeypatch.undo()
    try:
        for store in stores:
            assert [v.label for v in store.versions()] == ["r1"]
            assert [h["action"] for h in store.history()] == ["publish"]
            snapshot = store.snapshot()
            assert snapshot.ruleset is not None and snapshot.ruleset.version == "r1"
        # A later start (a restart) publishes nothing either.
        again = open_rule_store(settings)
        assert [v.label for v in again.versions()] == ["r1"]
        again.close()
    finally:
        for store in stores:
            store.close()


def test_publish_if_live_refuses_a_stale_expectation(tmp_path: Path) -> None:
    from fengkong.rules import default_ruleset
    from fengkong.runtime import default_rule_names

    store = SQLiteRuleStore(tmp_path / "fk.db", default_rule_names())
    first = store.publish_if_live(None, default_ruleset(), author="a")
    assert first is not None and first.label == "r1" and first.live
    assert store.publish_if_live(None, default_ruleset(), author="b") is None  # r1 is live
    second = store.publish_if_live(1, default_ruleset(), author="c")
    assert second is not None and second.label == "r2" and second.live
    assert [h["author"] for h in store.history()] == ["c", "a"]
    store.close()
