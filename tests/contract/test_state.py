"""The feature-state contract, run against every backend: in memory and Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fengkong.events import Event, parse_event
from fengkong.features import FeatureEngine, InMemoryState, StateBackend
from tests.servers import redis_session

__all__ = ["redis_session"]


def _redis(request: pytest.FixtureRequest) -> StateBackend:
    from fengkong.features.state_redis import RedisState

    state = RedisState.from_url(request.getfixturevalue("redis_session"), b"k" * 32)
    state.client.flushall()
    return state


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], StateBackend]] = {
    "memory": lambda _: InMemoryState(),
    "redis": _redis,
}


@pytest.fixture(params=sorted(BACKENDS))
def state(request: pytest.FixtureRequest) -> Iterator[StateBackend]:
    yield BACKENDS[request.param](request)


def test_states_are_put_got_and_deleted_by_key(state: StateBackend) -> None:
    assert state.get_many("user", ["u1"]) == {}
    state.put_many("user", {"u1": [10.0, {"a": 1}, None], "u2": [20.0, [1, 2], None]})
    assert state.get_many("user", ["u1", "u2", "u3"]) == {
        "u1": [10.0, {"a": 1}, None],
        "u2": [20.0, [1, 2], None],
    }
    assert state.get_many("device", ["u1"]) == {}  # kinds are apart
    state.delete_many("user", ["u1"])
    assert list(state.get_many("user", ["u1", "u2"])) == ["u2"]


def _events() -> list[Event]:
    out = []
    for i in range(40):
        out.append(
            parse_event(
                {"event_id": f"e{i}", "type": "payment" if i % 3 else "login",
                 "user_id": f"u{i % 4}", "amount": f"{10 + i}.5", "ip": f"10.0.{i % 3}.{i}",
                 "occurred_at": f"2026-11-20T09:{i:02d}:00+08:00"}
            )
        )  # fmt: skip
    return out


def _run(engine: FeatureEngine, events: list[Event]) -> list[dict[str, Any]]:
    state: Any = engine.state
    remote = getattr(state, "shared", False)
    out = []
    for e in events:
        if remote:
            state.load(engine.entity_keys(e, None))
        out.append(engine.compute(e))
        if remote:
            assert state.save()
    return out


def test_features_over_the_backend_equal_those_in_memory(state: StateBackend) -> None:
    defs = [
        "count(event) by user over 1h",
        "sum(amount) by user over 24h",
        "distinct(ip) by user over 24h",
        "count(event) by ip24 over 1h",
    ]
    events = _events()
    expected = _run(FeatureEngine(defs), events)
    assert _run(FeatureEngine(defs, state=state), events) == expected
