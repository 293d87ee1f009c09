from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from fengkong.decisions import (
    Action,
    DecisionContext,
    Engine,
    IdempotencyConflict,
    Pipeline,
    Reason,
)
from fengkong.decisions.replay import replay
from fengkong.events import Event, EventValidationError, Tokenizer
from fengkong.storage import GroupCommitter, SQLiteStore


class CountingStage:
    """Counts events per user; blocks a user's third event. State rebuilds from events."""

    name = "counting"

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def run(self, ctx: DecisionContext) -> None:
        seen = self.counts[ctx.event.user_id]
        ctx.features["user.events_before"] = seen
        if seen >= 2:
            ctx.propose(Action.BLOCK, Reason("rule", "third_event", f"seen={seen}"))
        self.observe(ctx.event)

    def observe(self, event: Event) -> None:
        self.counts[event.user_id] += 1

    def horizon_seconds(self) -> float:
        return 86400.0


def _engine(path: Path, committer: bool = False, durable: bool = True) -> Engine:
    store = SQLiteStore(path, synchronous="NORMAL")
    return Engine(
        Pipeline([CountingStage()]),
        store,
        Tokenizer(b"k" * 32),
        durable=durable,
        committer=GroupCommitter(store) if committer else None,
    )


def _event(i: int, user: str = "u1", **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"e{i}",
        "type": "login",
        "user_id": user,
        "occurred_at": f"2026-11-20T09:00:{i:02d}+08:00",
        **extra,
    }


def test_decisions_are_stored_with_their_explanation(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "e.db")
    outs = [engine.decide(_event(i)) for i in range(3)]
    assert [o["decision"] for o in outs] == ["allow", "allow", "block"]
    assert outs[2]["reasons"][0] == {"source": "rule", "name": "third_event", "detail": "seen=2"}
    stored = engine.store.decision("e2")
    assert stored is not None
    assert orjson.loads(stored[0]) == outs[2]
    assert orjson.loads(stored[1])["features"] == {"user.events_before": 2}


def test_retry_with_same_body_returns_stored_decision_and_changes_no_state(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "e.db")
    first = engine.decide(_event(1))
    # The same event with its fields in another order and spelling is the same body.
    again = engine.decide(orjson.dumps(dict(reversed(list(_event(1).items())))))
    assert again == first
    stage = engine.pipeline.stages[0]
    assert isinstance(stage, CountingStage)
    assert stage.counts["u1"] == 1
    assert engine.store.count_events() == 1


def test_same_event_id_with_another_body_is_a_conflict(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "e.db")
    engine.decide(_event(1))
    with pytest.raises(IdempotencyConflict) as exc:
        engine.decide(_event(1, user="u2"))
    assert exc.value.field == "event_id"
    assert engine.store.count_events() == 1


def test_batch_conflict_names_the_index_and_stores_nothing(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "e.db")
    items = engine.accept_many([_event(1), _event(2), _event(1, user="u9")])
    with pytest.raises(IdempotencyConflict) as exc:
        engine.decide_many(items)
    assert exc.value.field == "[2].event_id"
    assert engine.store.count_events() == 0


def test_batch_validation_reports_every_bad_item_by_index(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "e.db")
    with pytest.raises(EventValidationError) as exc:
        engine.accept_many([_event(1), {"event_id": "x"}, "nope", _event(3, ip="bad")])
    paths = {e.path for e in exc.value.errors}
    assert {"[1].type", "[2]", "[3].ip"} <= paths


def test_duplicate_inside_a_batch_is_decided_once(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "e.db")
    outs = engine.decide_many(engine.accept_many([_event(1), _event(1), _event(2)]))
    assert outs[0] == outs[1]
    assert engine.store.count_events() == 2


def test_state_is_rebuilt_from_the_store_after_restart(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    engine = _engine(path)
    for i in range(2):
        engine.decide(_event(i))
    engine.store.close()
    restarted = _engine(path)
    assert restarted.rebuild() == 2
    assert restarted.decide(_event(5))["decision"] == "block"


def test_async_decisions_share_group_commits(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "e.db", committer=True)

    async def main() -> list[dict[str, Any]]:
        tasks = [engine.decide_async([engine.accept(_event(i, user=f"u{i}"))]) for i in range(20)]
        results = await asyncio.gather(*tasks)
        retry = await engine.decide_async([engine.accept(_event(3, user="u3"))])
        return [r[0] for r in results] + retry

    outs = asyncio.run(main())
    assert len(outs) == 21 and outs[3] == outs[20]
    assert engine.store.count_events() == 20


def test_a_group_settled_together_answers_each_request_its_own_decision(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "e.db", committer=True)
    committer = engine._committer
    assert isinstance(committer, GroupCommitter)

    async def main() -> list[list[dict[str, Any]]]:
        # u1's third and later events are blocked: the answers differ by request.
        items = [engine.accept(_event(i, user="u1" if i % 2 else f"u{i}")) for i in range(16)]
        again = engine.accept(_event(5, user="u1"))  # in flight: waits for the first one
        tasks = [engine.decide_async([item]) for item in items] + [engine.decide_async([again])]
        return await asyncio.gather(*tasks)

    outs = [answer for (answer,) in asyncio.run(main())]
    assert [o["event_id"] for o in outs] == [f"e{i}" for i in range(16)] + ["e5"]
    assert outs[16] == outs[5]
    blocked = {o["event_id"] for o in outs[:16] if o["decision"] == "block"}
    assert blocked == {f"e{i}" for i in range(5, 16, 2)}
    assert committer.batches < 16  # the units shared commits
    for out in outs[:16]:
        stored = engine.store.decision(out["event_id"])
        assert stored is not None and orjson.loads(stored[0]) == out
    assert not engine._inflight


def test_not_durable_mode_says_so(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "e.db", committer=True, durable=False)
    (out,) = asyncio.run(engine.decide_async([engine.accept(_event(1))]))
    assert out["durable"] is False


def test_replay_answers_every_line_in_order(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "e.db")
    lines = [
        (1, orjson.dumps(_event(1))),
        (2, b"{broken"),
        (3, orjson.dumps(_event(1, user="other"))),
        (4, orjson.dumps(_event(2))),
    ]
    answers = [a for batch in replay(engine, lines, batch_size=10) for a in batch]
    assert [a.get("event_id") for a in answers] == ["e1", None, None, "e2"]
    assert answers[1]["line"] == 2
    assert answers[2]["errors"][0]["type"] == "conflict"


class LabelStage:
    name = "labels"

    def __init__(self) -> None:
        self.fraud: set[str] = set()

    def run(self, ctx: DecisionContext) -> None:
        if ctx.event.user_id in self.fraud:
            ctx.propose(Action.REVIEW, Reason("list", "known_fraud_account"))

    def apply_label(self, label: Any) -> None:
        if label.user_id and label.label == "fraud":
            self.fraud.add(label.user_id)


def test_labels_reach_label_aware_stages_now_and_after_restart(tmp_path: Path) -> None:
    from fengkong.events import parse_label

    path = tmp_path / "e.db"
    store = SQLiteStore(path)
    engine = Engine(Pipeline([LabelStage()]), store, Tokenizer(b"k" * 32))
    label = {"user_id": "u7", "label": "fraud", "source": "analyst", "at": "2026-11-20T00:00:00Z"}
    engine.add_labels([parse_label(label)])
    assert engine.decide(_event(1, user="u7"))["decision"] == "review"
    store.close()
    restarted = Engine(Pipeline([LabelStage()]), SQLiteStore(path), Tokenizer(b"k" * 32))
    restarted.rebuild()
    assert restarted.decide(_event(2, user="u7"))["decision"] == "review"
