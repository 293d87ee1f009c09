"""The rule-store repository contract (rules.store.RuleStore): publish, immutability,
rollback, lists with expiry, freezes, a second process seeing changes, run against
every backend: the embedded file and PostgreSQL. (The CLI over it: tests/rules.)"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from fengkong.decisions.types import Action, DecisionContext
from fengkong.rules import RuleSetInvalid, parse_ruleset
from fengkong.rules.stage import RulesStage
from fengkong.storage.rules_sqlite import SQLiteRuleStore
from fengkong.storage.sql import is_postgres
from tests.rules.helpers import KNOWN, make_event
from tests.servers import new_database, pg_server

__all__ = ["pg_server"]  # the session fixture, used by name


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


def _rs(threshold: int, name: str = "t") -> object:
    return parse_ruleset(
        {
            "name": name,
            "rules": [
                {"name": "big", "when": f"amount > {threshold}", "action": "review", "score": 10},
                {"name": "bad_ip", "when": 'ip in list("bad_ips")', "action": "block"},
            ],
        }
    )


@pytest.fixture(params=["sqlite-file", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the store lives: a file, or a fresh PostgreSQL database."""
    if request.param == "postgres":
        return new_database(request.getfixturevalue("pg_server"))
    return str(tmp_path / "r.db")


@pytest.fixture
def store(db: str) -> Iterator[SQLiteRuleStore]:
    s = SQLiteRuleStore(db, KNOWN, refresh_s=0.0, clock=Clock())
    yield s
    s.close()


def test_publish_rollback_and_stage_follow_the_live_pointer(store: SQLiteRuleStore) -> None:
    stage = RulesStage(store)
    v1 = store.publish(_rs(10_000), author="ana", comment="first")  # type: ignore[arg-type]
    v2 = store.publish(_rs(1_000))  # type: ignore[arg-type]
    assert (v1.label, v2.label) == ("r1", "r2") and store.live_version() == store._info(2)
    ctx = DecisionContext(make_event(amount="5000"))
    stage.run(ctx)
    assert ctx.versions["rules"] == "r2" and ctx.proposals[0].action is Action.REVIEW
    back = store.rollback()
    assert back.label == "r1" and back.live
    ctx = DecisionContext(make_event(amount="5000"))
    stage.run(ctx)
    assert ctx.versions["rules"] == "r1" and ctx.proposals == []
    with pytest.raises(LookupError):
        store.rollback()  # r1 is the first
    assert store.rollback(to=2).label == "r2"
    assert [h["action"] for h in store.history()] == ["rollback", "rollback", "publish", "publish"]


def test_invalid_rule_set_is_not_stored(store: SQLiteRuleStore) -> None:
    bad = parse_ruleset({"rules": [{"name": "x", "when": "amout > 1", "action": "block"}]})
    with pytest.raises(RuleSetInvalid):
        store.publish(bad)
    assert store.versions() == [] and store.live_version() is None


def test_versions_are_immutable(store: SQLiteRuleStore, db: str) -> None:
    store.publish(_rs(10))  # type: ignore[arg-type]
    if is_postgres(db):
        with psycopg.connect(db, autocommit=True) as pg:
            with pytest.raises(psycopg.errors.RaiseException, match="immutable"):
                pg.execute("UPDATE rules_versions SET body = '{}' WHERE version = 1")
            with pytest.raises(psycopg.errors.RaiseException, match="immutable"):
                pg.execute("DELETE FROM rules_versions")
        return
    conn = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        conn.execute("UPDATE rules_versions SET body = '{}' WHERE version = 1")
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        conn.execute("DELETE FROM rules_versions")


def test_publish_without_activation(store: SQLiteRuleStore) -> None:
    store.publish(_rs(10))  # type: ignore[arg-type]
    v2 = store.publish(_rs(20), activate=False)  # type: ignore[arg-type]
    assert not v2.live and store.live_version().version == 1  # type: ignore[union-attr]
    assert store.activate(2).live


def test_lists_expire_and_reach_the_stage(store: SQLiteRuleStore) -> None:
    clock = store.clock
    assert isinstance(clock, Clock)
    store.publish(_rs(10**9))  # type: ignore[arg-type]
    store.add_to_list("bad_ips", ["6.6.6.6"], expires_at=clock.t + 60, note="scanner")
    stage = RulesStage(store, clock=clock)
    ctx = DecisionContext(make_event(ip="6.6.6.6"))
    stage.run(ctx)
    assert ctx.proposals[0].action is Action.BLOCK
    assert store.list_names() == {"bad_ips": 1}
    clock.t += 61
    ctx = DecisionContext(make_event(ip="6.6.6.6"))
    stage.run(ctx)
    assert ctx.proposals == []
    assert store.list_entries("bad_ips") == []
    assert len(store.list_entries("bad_ips", include_expired=True)) == 1
    assert store.purge_expired() == 1
    with pytest.raises(ValueError):
        store.add_to_list("bad name", ["x"])


def test_freeze_and_unfreeze(store: SQLiteRuleStore) -> None:
    clock = store.clock
    assert isinstance(clock, Clock)
    stage = RulesStage(store, clock=clock)
    store.freeze("event_type", "transfer", "challenge:otp", "incident 42", expires_at=clock.t + 10)
    ctx = DecisionContext(make_event())
    stage.run(ctx)  # freezes apply even with no live rule set
    assert ctx.proposals[0].action is Action.CHALLENGE and ctx.proposals[0].challenge == "otp"
    assert ctx.proposals[0].reason.name == "freeze:event_type"
    assert store.unfreeze("event_type", "transfer") and not store.freezes()
    with pytest.raises(ValueError):
        store.freeze("planet", "x", "block", "why")
    with pytest.raises(ValueError):
        store.freeze("user", "u1", "allow", "why")


def test_second_process_sees_changes(db: str) -> None:
    a = SQLiteRuleStore(db, KNOWN, refresh_s=0.0)
    b = SQLiteRuleStore(db, KNOWN, refresh_s=0.0)
    a.publish(_rs(10))  # type: ignore[arg-type]
    a.freeze("user", "u9", "block", "stolen")
    a.freeze("user", "u9", "challenge:otp", "on second thought")  # replaces the first
    snap = b.snapshot()
    assert snap.ruleset is not None and snap.ruleset.version == "r1"
    assert [f.action for f in b.freezes()] == ["challenge:otp"]
    a.add_to_list("bad_ips", ["1.1.1.1", "2.2.2.2"])
    assert a.remove_from_list("bad_ips", ["1.1.1.1", "9.9.9.9"]) == 1
    assert [e.value for e in b.list_entries("bad_ips")] == ["2.2.2.2"]
    a.close()
    b.close()
