"""The entity-state contract of flows and document reuse, run against every backend:
in memory and Redis. Each stage computes the same values on any of them, through its
session's per-event cycle as through the tables alone."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from fengkong.decisions import DecisionContext
from fengkong.documents.reuse import ReuseIndex
from fengkong.documents.stage import DocumentsStage
from fengkong.events import Event
from fengkong.features.state import EntityStates, MemorySession, MemoryStates, StatesSession
from fengkong.graph.flow_stage import FEATURE_NAMES as FLOW_FEATURES
from fengkong.graph.flow_stage import FlowsStage
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


# -- stages on a session: the per-event cycle (prefetch, change, save) ------------------
SessionFactory = Callable[[str], StatesSession]

SESSIONS: dict[str, Callable[[pytest.FixtureRequest], SessionFactory]] = {
    "memory": lambda _: lambda stage: MemorySession(),
    "redis": lambda request: _redis_sessions(request),
}


def _redis_sessions(request: pytest.FixtureRequest) -> SessionFactory:
    from fengkong.features.state_redis import RedisSession

    url = request.getfixturevalue("redis_session")
    RedisSession.from_url(url, b"k" * 32).client.flushall()
    return lambda stage: RedisSession.from_url(url, b"k" * 32, namespace=f"fk:s:{stage}")


@pytest.fixture(params=sorted(SESSIONS))
def sessions(request: pytest.FixtureRequest) -> Iterator[SessionFactory]:
    yield SESSIONS[request.param](request)


def _money_stream(n: int) -> list[Event]:
    """Transfers, payments, registrations and draws among a few accounts and shops."""
    rng = random.Random(11)
    out, ts = [], 1_790_000_000.0
    for i in range(n):
        ts += rng.expovariate(1 / 900)
        kind = rng.choice(["transfer"] * 4 + ["payment"] * 2 + ["register", "credit_draw"])
        body: dict[str, Any] = {
            "event_id": f"m{i}",
            "type": kind,
            "user_id": f"u{rng.randrange(14)}",
            "occurred_at": datetime.fromtimestamp(ts, UTC).isoformat(),
        }
        if kind in ("transfer", "payment", "credit_draw"):
            body["amount"] = round(rng.choice([rng.uniform(5, 300), rng.uniform(900, 4000)]), 2)
        if kind == "transfer":
            body["counterparty"] = {"account_id": f"u{rng.randrange(14)}"}
            if rng.random() < 0.3:  # paid by scanning the payee's code
                body["context"] = {"entry": "qr"}
        if kind == "payment":
            body["merchant_id"] = f"shop{rng.randrange(4)}"
        out.append(Event.model_validate(body))
    return out


def test_the_flows_stage_decides_the_same_on_every_session(sessions: SessionFactory) -> None:
    reference, stage = FlowsStage(), FlowsStage(session=sessions("flows"))
    seen_nonzero = set()
    for event in _money_stream(600):
        want, got = DecisionContext(event), DecisionContext(event)
        reference.run(want)
        stage.run(got)
        assert got.features == want.features, event.event_id
        seen_nonzero |= {k for k, v in want.features.items() if v not in (None, 0, 0.0, False)}
    # The stream reaches every flow feature, so the comparison is not of empty values.
    assert seen_nonzero == set(FLOW_FEATURES)


def test_document_reuse_through_the_stage_is_the_same_on_every_session(
    sessions: SessionFactory,
) -> None:
    reference, stage = DocumentsStage(), DocumentsStage(session=sessions("documents"))
    rng = random.Random(5)
    for i in range(120):
        event = Event.model_validate(
            {"event_id": f"d{i}", "type": "document_upload", "user_id": f"u{rng.randrange(9)}",
             "occurred_at": datetime.fromtimestamp(1_790_000_000 + 600 * i, UTC).isoformat(),
             "document": {"kind": "id_card", "image_b64": f"fp:img{rng.randrange(6)}"}}
        )  # fmt: skip
        want, got = DecisionContext(event), DecisionContext(event)
        reference.run(want)
        stage.run(got)
        assert got.features == want.features, event.event_id
    reused = want.features["document.other_accounts_30d"]
    assert isinstance(reused, int) and reused > 0
