"""Feature state on Redis: the same decisions as in memory, no lost update, no forgery."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest
import redis

from fengkong.events import parse_event
from fengkong.features import FeatureEngine
from fengkong.features.state_redis import RedisSession, RedisState, StateTampered
from fengkong.runtime import build_runtime
from fengkong.settings import Settings
from fengkong.sim import SimConfig, simulate
from tests.servers import redis_session, redis_url

__all__ = ["redis_session", "redis_url"]

DEFS = ["count(event) by user over 1h", "distinct(device) by user over 24h"]


def _event(i: int, user: str = "u1", device: str = "d1") -> object:
    return parse_event(
        {"event_id": f"e{i}", "type": "payment", "user_id": user, "amount": "10",
         "occurred_at": f"2026-11-20T09:{i:02d}:00+08:00", "device": {"device_id": device}}
    )  # fmt: skip


def _engine(url: str) -> tuple[FeatureEngine, RedisState]:
    state = RedisState.from_url(url, b"s" * 32)
    engine = FeatureEngine(DEFS, state=state)
    state.ttl_s = engine.entity_horizons()
    return engine, state


def _step(engine: FeatureEngine, state: RedisState, event: object) -> dict[str, object]:
    device = event.device.device_id  # type: ignore[attr-defined]
    state.load(engine.entity_keys(event, device))  # type: ignore[arg-type]
    out = engine.compute(event, device)  # type: ignore[arg-type]
    assert state.save()
    return out


def test_two_workers_share_one_state_with_expiry(redis_url: str) -> None:
    a, sa = _engine(redis_url)
    b, sb = _engine(redis_url)
    assert _step(a, sa, _event(1))["user.events_1h"] == 0
    assert _step(b, sb, _event(2, device="d2"))["user.events_1h"] == 1
    out = _step(a, sa, _event(3))
    assert out["user.events_1h"] == 2 and out["user.distinct_devices_24h"] == 2
    ttl = redis.Redis.from_url(redis_url).pttl("fk:f:user:u1")
    assert 0 < ttl <= 24 * 3600 * 1000
    assert sa.round_trips == 4  # one load and one save per event


def test_a_concurrent_update_is_detected_and_not_lost(redis_url: str) -> None:
    a, sa = _engine(redis_url)
    b, sb = _engine(redis_url)
    e1, e2 = _event(1), _event(2)
    sa.load(a.entity_keys(e1, None))  # type: ignore[arg-type]
    sb.load(b.entity_keys(e2, None))  # type: ignore[arg-type]
    a.compute(e1)  # type: ignore[arg-type]
    b.compute(e2)  # type: ignore[arg-type]
    assert sa.save()
    assert not sb.save() and sb.conflicts == 1  # B decided on the state before A's event
    sb.load(b.entity_keys(e2, None))  # type: ignore[arg-type]
    b.observe(e2)  # type: ignore[arg-type]
    assert sb.save()
    assert _step(a, sa, _event(3))["user.events_1h"] == 2  # both counted


def test_a_forged_state_is_refused(redis_url: str) -> None:
    a, sa = _engine(redis_url)
    _step(a, sa, _event(1))
    redis.Redis.from_url(redis_url).hset("fk:f:user:u1", "s", b"x" * 40)
    with pytest.raises(StateTampered):
        sa.load(a.entity_keys(_event(2), None))  # type: ignore[arg-type]


def _digests(settings: Settings, events: list[bytes]) -> list[str]:
    rt = build_runtime(settings)
    out = []
    try:
        for start in range(0, len(events), 50):
            items = [rt.engine.accept(e) for e in events[start : start + 50]]
            for answer in rt.engine.decide_many(items):
                answer.pop("latency_ms", None)
                stored = rt.store.decision(answer["event_id"])
                assert stored is not None
                payload = orjson.dumps(
                    {"decision": answer, "explain": orjson.loads(stored[1])},
                    option=orjson.OPT_SORT_KEYS,
                )
                out.append(f"{answer['event_id']} {hashlib.sha256(payload).hexdigest()[:20]}")
    finally:
        rt.close()
    return out


def test_decisions_on_redis_equal_those_in_memory(tmp_path: Path, redis_url: str) -> None:
    events = [ev for ev, _ in simulate(SimConfig(users=120, days=3, seed=5, attack_rate=0.3)) if ev]
    assert len(events) > 300
    common = {"token_secret": "redis-equal-0123456789", "snapshots": False}
    memory = _digests(Settings(db_path=tmp_path / "m.db", **common), events)
    shared = _digests(
        Settings(
            db_path=tmp_path / "r.db",
            state={"backend": "redis", "redis_url": redis_url},  # type: ignore[arg-type]
            **common,  # type: ignore[arg-type]
        ),
        events,
    )
    assert shared == memory


def test_a_duplicate_decided_by_two_workers_at_once_is_counted_once(redis_url: str) -> None:
    a, sa = _engine(redis_url)
    b, sb = _engine(redis_url)
    event = _event(1)
    # Both workers read the state before either writes: the same instant.
    sa.load(a.entity_keys(event, "d1"))  # type: ignore[arg-type]
    sb.load(b.entity_keys(event, "d1"))  # type: ignore[arg-type]
    a.compute(event, "d1")  # type: ignore[arg-type]
    b.compute(event, "d1")  # type: ignore[arg-type]
    assert sa.save(event.event_id)  # type: ignore[attr-defined]
    assert sb.save(event.event_id) and sb.duplicates == 1  # type: ignore[attr-defined]
    assert sb.conflicts == 0  # claimed: nothing to retry
    assert _step(a, sa, _event(2))["user.events_1h"] == 1  # e1 once, not twice
    # Without an id (tooling) nothing is claimed; the version check still holds.
    sa.load(a.entity_keys(_event(3), "d1"))  # type: ignore[arg-type]
    a.compute(_event(3), "d1")  # type: ignore[arg-type]
    assert sa.save() and sa.duplicates == 0


def test_the_claim_expires(redis_url: str) -> None:
    a, sa = _engine(redis_url)
    sa.claim_ttl_s = 5.0
    _step(a, sa, _event(1))
    sa.load(a.entity_keys(_event(2), "d1"))  # type: ignore[arg-type]
    a.compute(_event(2), "d1")  # type: ignore[arg-type]
    assert sa.save("e2")
    ttl = redis.Redis.from_url(redis_url).pttl("fk:f:seen:e2")
    assert 0 < ttl <= 5000


def _transfer(i: int, sender: str, payee: str, amount: str = "100") -> object:
    return parse_event(
        {"event_id": f"t{i}", "type": "transfer", "user_id": sender, "amount": amount,
         "occurred_at": f"2026-11-20T10:{i:02d}:00+08:00", "counterparty": {"account_id": payee}}
    )  # fmt: skip


def _flows(url: str) -> tuple[object, RedisSession]:
    from fengkong.graph.flow_stage import FlowsStage

    session = RedisSession.from_url(url, b"s" * 32, namespace="fk:s:flows")
    return FlowsStage(session=session), session


def test_concurrent_flows_of_one_account_on_two_workers_lose_no_update(redis_url: str) -> None:
    from fengkong.decisions import DecisionContext

    (a, _), (b, sb) = _flows(redis_url), _flows(redis_url)
    one, two = (
        DecisionContext(_transfer(1, "x", "mule")),
        DecisionContext(_transfer(2, "y", "mule")),
    )
    a.read(one)  # type: ignore[attr-defined]
    b.read(two)  # type: ignore[attr-defined]  # both read the mule's inflows before either writes
    a.update(one)  # type: ignore[attr-defined]
    b.update(two)  # type: ignore[attr-defined]
    assert sb.conflicts == 1 and sb.round_trips >= 4  # refused once, fetched again, written
    probe = DecisionContext(_transfer(3, "mule", "out"))
    a.run(probe)  # type: ignore[attr-defined]
    assert probe.features["user.received_transfers_24h"] == 2
    assert probe.features["user.received_senders_24h"] == 2


def test_a_duplicate_transfer_on_two_workers_is_added_once(redis_url: str) -> None:
    from fengkong.decisions import DecisionContext

    (a, _), (b, sb) = _flows(redis_url), _flows(redis_url)
    first, again = (
        DecisionContext(_transfer(1, "x", "mule")),
        DecisionContext(_transfer(1, "x", "mule")),
    )
    a.read(first)  # type: ignore[attr-defined]
    b.read(again)  # type: ignore[attr-defined]
    a.update(first)  # type: ignore[attr-defined]
    b.update(again)  # type: ignore[attr-defined]
    assert sb.duplicates == 1 and sb.conflicts == 0
    probe = DecisionContext(_transfer(3, "mule", "out"))
    b.run(probe)  # type: ignore[attr-defined]
    assert probe.features["user.received_transfers_24h"] == 1


def test_a_forged_flow_state_is_refused(redis_url: str) -> None:
    from fengkong.decisions import DecisionContext

    a, _ = _flows(redis_url)
    a.run(DecisionContext(_transfer(1, "x", "mule")))  # type: ignore[attr-defined]
    redis.Redis.from_url(redis_url).hset("fk:s:flows:inflow:mule", "s", b"x" * 40)
    with pytest.raises(StateTampered):
        a.run(DecisionContext(_transfer(2, "mule", "out")))  # type: ignore[attr-defined]
