"""Flows and document reuse on Redis (``state.backend = "redis"``): the same decisions,
down to every feature and fact, as the in-memory stages on the same stream; and on two
workers sharing PostgreSQL and Redis, each event added to the shared states once (by
the worker that decided it, never again by the other following the log)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import redis

from fengkong.runtime import Runtime, build_runtime
from fengkong.settings import Settings
from fengkong.sim import SimConfig, simulate
from tests.servers import pg_server, pg_url, redis_session, redis_url

__all__ = ["pg_server", "pg_url", "redis_session", "redis_url"]

SECRET = "redis-stages-secret-0123"
STREAM = SimConfig(users=90, days=5, seed=4, attack_rate=0.35)


def _stream() -> list[dict[str, Any]]:
    events = [orjson.loads(e) for e, _ in simulate(STREAM) if e]
    kinds = Counter(e["type"] for e in events)
    # What the Redis-backed stages keep: money moving and documents uploaded.
    assert kinds["transfer"] > 50 and kinds["document_upload"] > 20, kinds
    return events


def _view(rt: Runtime, answer: dict[str, Any]) -> dict[str, Any]:
    stored = rt.store.decision(answer["event_id"])
    assert stored is not None
    x = orjson.loads(stored[1])
    keep = ("decision", "score", "reasons", "warnings")
    return {**{k: answer.get(k) for k in keep}, "features": x["features"], "facts": x["facts"]}


def _first_difference(want: dict[str, Any], got: dict[str, Any]) -> str:
    for part in ("features", "facts"):
        for name in sorted(set(want[part]) | set(got[part])):
            if want[part].get(name) != got[part].get(name):
                return f"{part} {name}: {want[part].get(name)!r} != {got[part].get(name)!r}"
    changed = [k for k in want if want[k] != got[k]]
    return f"{[want[k] for k in changed]!r} != {[got[k] for k in changed]!r}"


def _decide_all(rt: Runtime, events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for event in events:
        answer = rt.engine.decide(event)
        out[answer["event_id"]] = _view(rt, answer)
    return out


def _compare(want: dict[str, dict[str, Any]], got: dict[str, dict[str, Any]]) -> None:
    differ = [e for e in want if got[e] != want[e]]
    detail = _first_difference(want[differ[0]], got[differ[0]]) if differ else ""
    assert not differ, f"{len(differ)} of {len(want)} decisions differ; {differ[0]}: {detail}"


def _redis_settings(tmp: Path, redis_url: str, **more: Any) -> Settings:
    return Settings(
        db_path=tmp,
        token_secret=SECRET,
        snapshots=False,
        state={"backend": "redis", "redis_url": redis_url},  # type: ignore[arg-type]
        **more,
    )


def _shared_keys(redis_url: str) -> Counter[str]:
    client = redis.Redis.from_url(redis_url)
    return Counter(k.decode().split(":")[2] for k in client.scan_iter(match="fk:s:*", count=1000))


def test_redis_backed_stages_decide_like_memory_down_to_every_feature(
    tmp_path: Path, redis_url: str
) -> None:
    events = _stream()
    memory = build_runtime(
        Settings(db_path=tmp_path / "m.db", token_secret=SECRET, snapshots=False)
    )
    try:
        want = _decide_all(memory, events)
    finally:
        memory.close()
    shared = build_runtime(_redis_settings(tmp_path / "r.db", redis_url))
    try:
        got = _decide_all(shared, events)
    finally:
        shared.close()
    _compare(want, got)
    # The flows and the reuse index were in Redis, not in the worker.
    assert _shared_keys(redis_url).keys() >= {"flows", "documents"}
    moved = [v["features"]["user.received_amount_24h"] for v in want.values()]
    assert sum(1 for m in moved if m) > 20  # the compared values are not all empty


def test_two_workers_on_postgres_and_redis_add_each_event_to_redis_once(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    events = _stream()
    memory = build_runtime(
        Settings(db_path=tmp_path / "m.db", token_secret=SECRET, snapshots=False)
    )
    try:
        want = _decide_all(memory, events)
    finally:
        memory.close()
    shared = {"backend": "postgres", "url": pg_url, "pool_size": 2}
    workers = []
    for n in range(2):  # separate directories: everything shared is in PostgreSQL or Redis
        (tmp_path / f"w{n}").mkdir()
        settings = _redis_settings(
            tmp_path / f"w{n}" / "fk.db",
            redis_url,
            storage=shared,
            field_key="field-key-of-the-deployment",
        )
        workers.append(build_runtime(settings))
    try:
        got: dict[str, dict[str, Any]] = {}
        for i, event in enumerate(events):  # round-robin, one event at a time
            rt = workers[i % 2]
            answer = rt.engine.decide(event)
            got[answer["event_id"]] = _view(rt, answer)
        followed = [rt.engine.follower.followed_events for rt in workers if rt.engine.follower]
    finally:
        for rt in workers:
            rt.close()
    # Each followed the other's events into its local stages (graph, links, ...) ...
    assert len(followed) == 2 and min(followed) >= len(events) // 2 - 1
    # ... and none of them again into Redis: a second addition would double the flows.
    _compare(want, got)
