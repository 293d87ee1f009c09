"""One change feed replaces the rules, model-roles (fraud and credit) and labels pollers."""

from __future__ import annotations

from pathlib import Path

from fengkong.credit.registry import CreditRegistry
from fengkong.credit.stage import CreditStage
from fengkong.decisions.store import LabelRecord
from fengkong.rules import default_ruleset
from fengkong.runtime import Runtime, default_rule_names
from fengkong.storage import SQLiteStore
from fengkong.storage.changes import ChangeFeed
from fengkong.storage.models_sqlite import SQLiteModelStore
from fengkong.storage.rules_sqlite import SQLiteRuleStore


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _stores(db: Path) -> tuple[SQLiteStore, SQLiteRuleStore, SQLiteModelStore]:
    return SQLiteStore(db), SQLiteRuleStore(db, []), SQLiteModelStore(db)


def test_versions_move_with_writes_from_any_connection(tmp_path: Path) -> None:
    db = tmp_path / "fk.db"
    store, rules, models = _stores(db)
    clock = Clock()
    feed = ChangeFeed(str(db), interval_s=1.0, clock=clock)
    before = {t: feed.version(t) for t in ("labels", "models", "rules")}
    other = SQLiteStore(db)  # another writer (another process would do the same)
    other.add_labels([LabelRecord(f"e{i}", None, "fraud", "chargeback", 1.0) for i in range(3)])
    SQLiteRuleStore(db, default_rule_names()).publish(default_ruleset(), author="t")
    assert feed.version("labels") == before["labels"]  # not re-read within the interval
    clock.t = 1.0
    assert feed.version("labels") == before["labels"] + 3
    assert feed.version("rules") > before["rules"]
    assert feed.version("models") == before["models"]
    assert feed.reads == 2  # one query per interval, for every topic
    for s in (store, rules, models, other, feed):
        s.close()


def test_the_runtime_wires_the_feed(runtime: Runtime) -> None:
    assert runtime.changes is not None
    assert runtime.rule_store.changes == runtime.changes.version
    (models,) = [s for s in runtime.engine.pipeline.stages if s.name == "models"]
    assert models.changes == runtime.changes.version  # type: ignore[attr-defined]
    (credit,) = [s for s in runtime.engine.pipeline.stages if s.name == "credit"]
    assert credit.changes == runtime.changes.version  # type: ignore[attr-defined]
    reads = runtime.changes.reads
    runtime.engine.decide_many(
        [
            runtime.engine.accept(
                {"event_id": f"e{i}", "type": "login", "user_id": "u1",
                 "occurred_at": "2026-11-20T09:00:00+00:00"}
            )
            for i in range(50)
        ]
    )  # fmt: skip
    assert runtime.changes.reads - reads <= 5  # one query a second, not one per event


def test_the_credit_stage_reads_its_roles_when_the_feed_moves(tmp_path: Path) -> None:
    store, rules, models = _stores(tmp_path / "fk.db")
    feed = ChangeFeed(str(tmp_path / "fk.db"), interval_s=0.0)
    registry = CreditRegistry(models)
    stage = CreditStage.from_registry(registry)
    stage.changes = feed.version
    asked: list[str] = []
    role = registry.role
    registry.role = lambda r: asked.append(r) or role(r)  # type: ignore[method-assign]
    stage._reload()  # the first look after the feed is wired
    first = len(asked)
    for _ in range(5):
        stage._reload()
    assert len(asked) == first  # nothing moved: no query, however often asked
    models.set_role("credit.champion", None, author="t", action="retire")
    stage._reload()
    assert len(asked) == first + 2  # champion and challenger, read again
    for s in (store, rules, models, feed):
        s.close()
