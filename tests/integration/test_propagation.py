"""Changes made on one worker reach the next decision of another (PostgreSQL backend).

Two server runtimes on one PostgreSQL database, each with its own ``db_path`` (two
hosts). Worker B's change feed is made to never poll, so only a NOTIFY can tell it:
a freeze and a list entry made on A decide B's next events; a label stored on A
reaches B's stages before its next decision. The figures (milliseconds against the
1 s poll) are in docs/deployment.md, from benchmarks/bench_propagation.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fengkong.decisions.store import LabelRecord
from fengkong.rules import parse_ruleset
from fengkong.runtime import Runtime, build_runtime
from fengkong.settings import Settings
from fengkong.storage.changes import PgChangeFeed
from tests.servers import pg_server, pg_url

__all__ = ["pg_server", "pg_url"]


def _worker(url: str, root: Path) -> Runtime:
    root.mkdir()
    settings = Settings(
        db_path=root / "fk.db",
        token_secret="propagation-test-secret",
        field_key="propagation-test-field-key",
        bootstrap_key=None,
        storage={"backend": "postgres", "url": url},  # type: ignore[arg-type]
        image_workers=0,
    )
    return build_runtime(settings, server=True)


def _event(i: int, user: str, ip: str = "1.2.3.4") -> dict[str, Any]:
    return {
        "event_id": f"p{i}",
        "type": "payment",
        "user_id": user,
        "amount": "10.00",
        "currency": "CNY",
        "ip": ip,
        "occurred_at": f"2026-11-20T09:00:{i % 60:02d}+08:00",
    }


def _until(done: Callable[[], bool], timeout: float = 20.0) -> float:
    start = time.monotonic()
    while not done():
        assert time.monotonic() - start < timeout, "the change did not arrive"
        time.sleep(0.01)
    return time.monotonic() - start


@pytest.mark.timeout(300)
def test_rules_lists_and_labels_reach_the_other_worker_by_notify(
    tmp_path: Path, pg_url: str
) -> None:
    a, b = _worker(pg_url, tmp_path / "a"), _worker(pg_url, tmp_path / "b")
    feed = b.changes
    assert isinstance(feed, PgChangeFeed)
    feed.version("rules")
    feed.clock = lambda: 0.0  # the interval never passes: only notifications count
    n = iter(range(1000))

    def decision(user: str, ip: str = "1.2.3.4") -> str:
        return str(b.engine.decide(_event(next(n), user, ip))["decision"])

    assert decision("u1") == "allow"
    a.rule_store.freeze("user", "u1", "block", "stolen phone")
    _until(lambda: decision("u1") == "block")
    a.rule_store.publish(
        parse_ruleset(
            {"rules": [{"name": "bad_ip", "when": 'ip in list("bad_ips")', "action": "review"}]}
        ),  # type: ignore[arg-type]
        author="t",
    )
    a.rule_store.add_to_list("bad_ips", ["6.6.6.6"])
    _until(lambda: decision("u2", "6.6.6.6") == "review")
    assert feed.notified >= 3
    follower = b.engine.follower
    assert follower is not None
    before = follower.followed_labels
    a.store.add_labels([LabelRecord(None, "u2", "fraud", "analyst", time.time())])
    decision("u3")  # the follower reads before deciding
    assert follower.followed_labels == before + 1
    a.close()
    b.close()
