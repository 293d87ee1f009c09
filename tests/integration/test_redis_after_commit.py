"""On Redis the state counts an event only once its decision is in the log: read,
decide, commit, then write. A decision whose commit fails is in no state (neither
Redis nor this worker's held states); one committed is counted exactly once, also when
another worker moved its entities between the decision and the write."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from fengkong.decisions import DecisionContext
from fengkong.decisions.store import DecisionRecord, NotAttempted
from fengkong.events import parse_event
from fengkong.runtime import Runtime, build_runtime
from fengkong.settings import Settings
from tests.servers import redis_session, redis_url

__all__ = ["redis_session", "redis_url"]

SECRET = "redis-after-commit-secret"


def _raw(n: int, user: str, payee: str) -> dict[str, Any]:
    return {"event_id": f"e{n}", "type": "transfer", "user_id": user, "amount": "250",
            "occurred_at": f"2026-11-20T10:{n:02d}:00+08:00", "device": {"device_id": "d-x"},
            "counterparty": {"account_id": payee}}  # fmt: skip


def _build(tmp_path: Path, redis_url: str, name: str, *, server: bool = False) -> Runtime:
    settings = Settings(
        db_path=tmp_path / f"{name}.db",
        token_secret=SECRET,
        snapshots=False,
        state={"backend": "redis", "redis_url": redis_url},  # type: ignore[arg-type]
    )
    return build_runtime(settings, server=server)


@pytest.fixture()
def runtimes(tmp_path: Path, redis_url: str) -> Iterator[Callable[..., Runtime]]:
    made: list[Runtime] = []

    def make(name: str, *, server: bool = False) -> Runtime:
        made.append(_build(tmp_path, redis_url, name, server=server))
        return made[-1]

    yield make
    for rt in made:
        rt.close()


def _features(rt: Runtime, event_id: str) -> dict[str, Any]:
    stored = rt.store.decision(event_id)
    assert stored is not None
    features: dict[str, Any] = orjson.loads(stored[1])["features"]
    return features


def _fail_commits(rt: Runtime, failing: set[str]) -> None:
    """The store refuses the first unit holding one of ``failing`` (a database error),
    commits the units before it and does not attempt those after, as a store does."""
    write_each = rt.store.write_each

    def refusing(units: Sequence[Sequence[DecisionRecord]]) -> list[Exception | None]:
        bad = [any(r.event_id in failing for r in unit) for unit in units]
        if not any(bad):
            return write_each(units)
        cut = bad.index(True)
        done = write_each(units[:cut]) if cut else []
        after: list[Exception | None] = [NotAttempted("after a failed unit")] * (
            len(units) - cut - 1
        )
        return [*done, OSError("the database refused the unit"), *after]

    rt.store.write_each = refusing  # type: ignore[method-assign]


def _claims(url: str) -> set[str]:
    client = redis.Redis.from_url(url)
    return {k.decode().rsplit(":", 1)[1] for k in client.scan_iter(match="fk:seen:*")}


def test_a_decision_whose_commit_fails_is_not_counted_in_redis(
    runtimes: Callable[..., Runtime], redis_url: str
) -> None:
    rt = runtimes("a")
    engine = rt.engine
    engine.decide_many([engine.accept(_raw(1, "x", "mule"))])
    _fail_commits(rt, {"e2"})
    with pytest.raises(OSError):
        engine.decide_many([engine.accept(_raw(2, "x", "mule"))])
    # The next event of the same user and payee: e1 counted, e2 (not in the log) not.
    engine.decide_many([engine.accept(_raw(3, "x", "mule"))])
    features = _features(rt, "e3")
    assert features["user.events_10m"] == 1
    assert features["cp_account.senders_24h"] == 1
    assert _claims(redis_url) == {"e1", "e3"}
    # Another worker, reading Redis only, sees the same.
    other = runtimes("b")
    other.engine.decide_many([other.engine.accept(_raw(4, "x", "mule"))])
    assert _features(other, "e4")["user.events_10m"] == 2


def test_a_unit_failing_its_group_commit_is_dropped_with_the_units_decided_on_it(
    runtimes: Callable[..., Runtime], redis_url: str
) -> None:
    rt = runtimes("a", server=True)
    engine = rt.engine
    _fail_commits(rt, {"e2"})

    async def serve() -> list[BaseException | list[dict[str, Any]]]:
        units = [[engine.accept(_raw(n, "x", "mule"))] for n in (1, 2)]
        results = await asyncio.gather(
            *(engine.decide_async(unit, attempts=1) for unit in units), return_exceptions=True
        )
        # After the failure: decided again on the state the log has.
        results.append(await engine.decide_async([engine.accept(_raw(3, "x", "mule"))]))
        return results

    first, second, third = asyncio.run(serve())
    assert isinstance(first, list) and isinstance(second, OSError)
    assert isinstance(third, list)
    assert _features(rt, "e3")["user.events_10m"] == 1
    assert _claims(redis_url) == {"e1", "e3"}


def test_a_committed_event_is_counted_once_when_another_worker_moved_its_states(
    runtimes: Callable[..., Runtime], redis_url: str
) -> None:
    a, b = runtimes("a"), runtimes("b")
    write_each = a.store.write_each

    def meanwhile(units: Sequence[Sequence[DecisionRecord]]) -> list[Exception | None]:
        # Between A's decision and its write, B decides an event of the same payee.
        b.engine.decide_many([b.engine.accept(_raw(2, "y", "mule"))])
        return write_each(units)

    a.store.write_each = meanwhile  # type: ignore[method-assign]
    a.engine.decide_many([a.engine.accept(_raw(1, "x", "mule"))])
    cycle = next(c for s in a.engine.pipeline.stages if (c := getattr(s, "cycle", None)))
    assert cycle.conflicts == 1  # A's write was refused, e1 applied again on B's states
    a.store.write_each = write_each  # type: ignore[method-assign]
    a.engine.decide_many([a.engine.accept(_raw(3, "z", "mule"))])
    assert _features(a, "e3")["cp_account.senders_24h"] == 2  # x and y, before z
    b.engine.decide_many([b.engine.accept(_raw(4, "x", "other"))])
    assert _features(b, "e4")["user.events_10m"] == 1  # e1 once, not twice
    assert _claims(redis_url) == {"e1", "e2", "e3", "e4"}


def test_an_event_failing_while_decided_leaves_nothing_in_the_held_states(
    runtimes: Callable[..., Runtime],
) -> None:
    rt = runtimes("a")
    pipeline = rt.engine.pipeline
    _, ctx = pipeline.decide(parse_event(_raw(1, "x", "mule")))
    held = pipeline.apply(ctx)  # e1 decided, not committed yet: held, in the overlay
    decide = pipeline.policy.decide

    def failing(ctx: DecisionContext) -> Any:
        if ctx.event.event_id == "e2":  # after the features stage added e2 to x's state
            raise RuntimeError("a stage failed")
        return decide(ctx)

    pipeline.policy.decide = failing  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        pipeline.decide(parse_event(_raw(2, "x", "mule")))
    _, ctx = pipeline.decide(parse_event(_raw(3, "x", "mule")))
    assert ctx.features["user.events_10m"] == 1  # e1 (held), not e2
    pipeline.publish([*held, *pipeline.apply(ctx)])
    _, ctx = pipeline.evaluate(parse_event(_raw(4, "x", "mule")))
    assert ctx.features["user.events_10m"] == 2  # e1 and e3, from Redis
