"""The entity-state contract of flows and document reuse, run against every backend:
in memory and Redis. Each stage computes the same values on any of them."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fengkong.documents.reuse import ReuseIndex
from fengkong.features.state import EntityStates, MemoryStates
from fengkong.graph.flows import InflowWindow
from tests.servers import redis_session

__all__ = ["redis_session"]

Factory = Callable[[str], EntityStates[Any]]


def _redis(request: pytest.FixtureRequest) -> Factory:
    from fengkong.features.state_redis import RedisStates

    url = request.getfixturevalue("redis_session")
    first: RedisStates[Any] = RedisStates.from_url(url, b"k" * 32, "probe")
    first.client.flushall()
    return lambda kind: RedisStates.from_url(url, b"k" * 32, kind)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], Factory]] = {
    "memory": lambda _: lambda kind: MemoryStates(),
    "redis": _redis,
}


@pytest.fixture(params=sorted(BACKENDS))
def states(request: pytest.FixtureRequest) -> Iterator[Factory]:
    yield BACKENDS[request.param](request)


def test_states_are_put_got_and_deleted_by_key(states: Factory) -> None:
    table = states("inflow")
    assert table.get("a") is None and table.get_many(["a"]) == {} and len(table) == 0
    table.put_many({"a": {"x": 1.0}, "b": [2, {"y"}], "c": None})
    assert table.get("a") == {"x": 1.0}
    assert table.get_many(["a", "b", "zz"]) == {"a": {"x": 1.0}, "b": [2, {"y"}]}
    assert len(table) == 3 and dict(table.items()) == {"a": {"x": 1.0}, "b": [2, {"y"}], "c": None}
    assert states("other").get_many(["a"]) == {}  # kinds are apart
    table.put_many({"a": {"x": 2.0}})
    assert table.get("a") == {"x": 2.0}
    table.delete_many(["a", "c", "never"])
    assert sorted(k for k, _ in table.items()) == ["b"]


def test_bound_keeps_the_most_recently_seen(states: Factory) -> None:
    table = states("seen")
    table.put_many({f"k{i}": float(i) for i in range(50)})
    assert table.bound(0, float) == 0 and len(table) == 50  # 0: no cap
    dropped = table.bound(20, float)
    kept = sorted(v for _, v in table.items())
    assert dropped == 50 - len(kept) > 30 and kept == [float(i) for i in range(50 - len(kept), 50)]


def _transfers(n: int) -> list[tuple[str, str, float, float]]:
    rng = random.Random(7)
    ts, out = 0.0, []
    for _ in range(n):
        ts += rng.expovariate(1 / 120)
        out.append((f"a{rng.randrange(12)}", f"s{rng.randrange(30)}", rng.uniform(1, 900), ts))
    return out


def test_money_flows_read_the_same_on_every_backend(states: Factory) -> None:
    reference, window = InflowWindow(6 * 3600), InflowWindow(6 * 3600, states("inflow"))
    for account, sender, amount, ts in _transfers(400):
        assert window.read(account, ts) == reference.read(account, ts)
        window.add(account, sender, amount, ts)
        reference.add(account, sender, amount, ts)
    end = _transfers(400)[-1][3] + 12 * 3600
    window.expire(end)
    reference.expire(end)
    assert len(window) == len(reference) == 0


def test_document_reuse_counts_the_same_on_every_backend(states: Factory) -> None:
    rng = random.Random(3)
    reference, index = ReuseIndex(3600.0), ReuseIndex(3600.0, states("image"))
    for i in range(300):
        image, account, ts = f"img{rng.randrange(15)}", f"u{rng.randrange(25)}", i * 30.0
        assert index.other_accounts(image, account, ts) == reference.other_accounts(
            image, account, ts
        )
        index.add(image, account, ts)
        reference.add(image, account, ts)
    index.expire(300 * 30.0)
    reference.expire(300 * 30.0)
    assert len(index) == len(reference) > 0
    assert index.bound(5) == reference.bound(5) and len(index) == len(reference) <= 5
