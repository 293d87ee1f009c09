"""The state repair (features/state_repair.py) on a throwaway PostgreSQL and Redis: a
committed event whose Redis write was lost (its worker died between the commit and the
write) is counted again after the grace, once, and nothing else is."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from fengkong.features.state_repair import StateRepair
from fengkong.runtime import Runtime, build_runtime
from fengkong.runtime_keys import redis_secret
from fengkong.runtime_repair import Recounter, open_repair
from fengkong.settings import Settings
from tests.servers import pg_server, pg_url, redis_session, redis_url

__all__ = ["pg_server", "pg_url", "redis_session", "redis_url"]

SECRET = "redis-repair-secret-0123456"
FIELD_KEY = "field-key-of-the-deployment"


def _settings(tmp: Path, name: str, pg: str, redis: str) -> Settings:
    (tmp / name).mkdir(exist_ok=True)
    return Settings(
        db_path=tmp / name / "fk.db",
        token_secret=SECRET,
        field_key=FIELD_KEY,
        snapshots=False,
        storage={"backend": "postgres", "url": pg},  # type: ignore[arg-type]
        state={"backend": "redis", "redis_url": redis, "repair_interval_s": 0},  # type: ignore[arg-type]
    )


def _event(n: int, user: str, second: int) -> dict[str, Any]:
    minute, sec = divmod(second, 60)
    at = f"2026-11-20T10:{minute:02d}:{sec:02d}+08:00"
    return {"event_id": f"{user}-e{n}", "type": "payment", "user_id": user, "amount": "10",
            "merchant_id": "m1", "occurred_at": at}  # fmt: skip


def _probe(rt: Runtime, user: str, n: int) -> dict[str, Any]:
    """The features a probe of ``user`` at 10:09 reads (all events are in its 10 min)."""
    answer = rt.engine.decide({**_event(n, user, 540), "event_id": f"probe-{user}-{n}"})
    stored = rt.store.decision(answer["event_id"])
    assert stored is not None
    features: dict[str, Any] = orjson.loads(stored[1])["features"]
    return features


@pytest.fixture()
def deployment(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[tuple[Runtime, Settings]]:
    settings = _settings(tmp_path, "live", pg_url, redis_url)
    rt = build_runtime(settings)
    yield rt, settings
    rt.close()


def _repair(rt: Runtime, settings: Settings, ahead_s: float = 0.0) -> StateRepair:
    repair = open_repair(settings, rt.engine, rt.store, redis_secret(settings))  # type: ignore[arg-type]
    repair.clock = lambda: time.time() + ahead_s
    return repair


def _lose_writes(tmp: Path, pg: str, redis: str, events: list[dict[str, Any]]) -> None:
    """A worker that commits ``events`` and dies before writing them to Redis."""
    victim = build_runtime(_settings(tmp, "victim", pg, redis))
    pipeline = victim.engine.pipeline
    pipeline.publish = lambda held: None  # type: ignore[method-assign]
    for event in events:
        victim.engine.decide(event)
    for cycle in pipeline._cycles:  # what the process held dies with it
        cycle.pending.clear()  # type: ignore[attr-defined]
        cycle.overlay.clear()  # type: ignore[attr-defined]
    victim.close(save=False)


def test_a_lost_write_is_recounted_after_the_grace_once(
    deployment: tuple[Runtime, Settings], tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    rt, settings = deployment
    rt.engine.decide(_event(1, "u1", 10))
    _lose_writes(tmp_path, pg_url, redis_url, [_event(2, "u1", 20)])
    assert _probe(rt, "u1", 90)["user.events_10m"] == 1  # e2 is in the log, not in Redis

    inside = _repair(rt, settings)  # everything committed within the grace: left alone
    result = inside.round()
    assert result is not None and result.checked == 0 and result.recounted == 0
    assert inside.lock.cursor() == 0

    repair = _repair(rt, settings, ahead_s=settings.state.repair_grace_s + 1)
    result = repair.round()
    assert result is not None and result.lost == 1 and result.recounted == 1
    assert result.checked == 3  # e1, e2 and the probe
    last_seq = rt.store.last_seq()
    assert repair.lock.cursor() == last_seq
    again = repair.round()
    assert again is not None and again.checked == 0 and again.recounted == 0
    features = _probe(rt, "u1", 91)
    assert features["user.events_10m"] == 3  # e1, e2, the first probe: e2 counted once
    assert features["user.amount_sum_24h"] == 30.0
    assert repair.rounds == 2 and repair.recounted == 1


def test_a_claimed_event_is_not_recounted(deployment: tuple[Runtime, Settings]) -> None:
    rt, settings = deployment
    for n in range(5):
        rt.engine.decide(_event(n, "u2", n))
    repair = _repair(rt, settings, ahead_s=60)
    result = repair.round()
    assert result is not None and result.checked == 5 and result.lost == 0
    assert repair.lock.cursor() == rt.store.last_seq()
    assert _probe(rt, "u2", 99)["user.events_10m"] == 5


def test_two_repairers_at_once_count_a_lost_event_once(
    deployment: tuple[Runtime, Settings], tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    rt, settings = deployment
    lost = [_event(n, f"u{n % 3}", n) for n in range(30)]
    _lose_writes(tmp_path, pg_url, redis_url, lost)
    other = build_runtime(_settings(tmp_path, "other", pg_url, redis_url))
    try:
        repairs = [_repair(rt, settings, 60), _repair(other, other.settings, 60)]
        # The lock: while one holds it, the other's round does nothing.
        assert repairs[0].lock.acquire()
        assert repairs[1].round() is None
        repairs[0].lock.release()
        results: list[Any] = []
        threads = [threading.Thread(target=lambda r=r: results.append(r.round())) for r in repairs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sum(r.recounted for r in results if r is not None) == 30
        # Without the lock (two recounts of the same events at once), the claim checked
        # inside the write script still counts each event once.
        events = [other.engine.accept(e).event for e in lost[:3]]
        first = Recounter(rt.engine.pipeline, repairs[0].client, redis_secret(settings))
        assert first(events) == 0  # claimed by the repair above
        counts = [_probe(rt, f"u{u}", 100)["user.events_10m"] for u in range(3)]
        assert counts == [10, 10, 10]
    finally:
        other.close()


def test_the_claim_inside_the_write_refuses_a_second_recount(
    deployment: tuple[Runtime, Settings], tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    rt, settings = deployment
    _lose_writes(tmp_path, pg_url, redis_url, [_event(1, "u5", 5)])
    event = rt.engine.accept(_event(1, "u5", 5)).event
    client = _repair(rt, settings).client
    one = Recounter(rt.engine.pipeline, client, redis_secret(settings))
    two = Recounter(rt.engine.pipeline, client, redis_secret(settings))
    assert one([event]) + two([event]) == 1
    assert _probe(rt, "u5", 50)["user.events_10m"] == 1


# A worker process deciding units of events, killed -9 by itself right after the
# commit of its 4th unit and before that unit's write to Redis.
_VICTIM = """
import os, signal, sys
from pathlib import Path
from fengkong.decisions.pipeline import Pipeline
from fengkong.runtime import build_runtime
from fengkong.settings import Settings

units = [0]
publish = Pipeline.publish

def dying_publish(self, held):
    units[0] += 1
    if units[0] == 4:
        os.kill(os.getpid(), signal.SIGKILL)
    publish(self, held)

Pipeline.publish = dying_publish
db, pg, redis = sys.argv[1:4]
rt = build_runtime(Settings(db_path=Path(db), token_secret=sys.argv[4], field_key=sys.argv[5],
                            snapshots=False, storage={"backend": "postgres", "url": pg},
                            state={"backend": "redis", "redis_url": redis}))
for unit in range(10):
    items = [rt.engine.accept({"event_id": f"v{unit}-{i}", "type": "payment",
                               "user_id": f"u{i % 4}", "amount": "10", "merchant_id": "m1",
                               "occurred_at": f"2026-11-20T10:0{unit % 6}:{i:02d}+08:00"})
             for i in range(8)]
    rt.engine.decide_many(items)
"""


@pytest.mark.timeout(300)
def test_kill_9_between_commit_and_write_under_load_then_repair_counts_as_the_log(
    deployment: tuple[Runtime, Settings], tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    rt, settings = deployment
    (tmp_path / "victim").mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", _VICTIM, str(tmp_path / "victim" / "fk.db"), pg_url, redis_url,
         SECRET, FIELD_KEY],
        env={**os.environ}, stderr=subprocess.PIPE,
    )  # fmt: skip
    # The other worker decides events of the same users meanwhile.
    n = 0
    while proc.poll() is None and n < 5000:
        rt.engine.decide(_event(n, f"u{n % 4}", n % 300))
        n += 1
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -9, err.decode()[-2000:]
    with psycopg.connect(pg_url) as conn:
        victims = conn.execute("SELECT COUNT(*) FROM events WHERE event_id LIKE 'v%'").fetchone()
    assert victims == (32,)  # 4 units of 8 committed; the 4th never reached Redis

    repair = _repair(rt, settings, ahead_s=settings.state.repair_grace_s + 1)
    result = repair.round()
    assert result is not None and result.recounted == 8 and result.lost == 8
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT user_id, COUNT(*) FROM events GROUP BY user_id").fetchall()
    in_log = dict(rows)
    for user in range(4):
        got = _probe(rt, f"u{user}", 1000)["user.events_10m"]
        assert got == in_log[f"u{user}"], user


def test_the_repair_recounts_in_every_stage_on_redis(
    deployment: tuple[Runtime, Settings], tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    """Features, flows (money received) and document reuse (accounts per image)."""
    rt, settings = deployment
    at = "2026-11-20T10:00:00+08:00"
    transfer = {"event_id": "t1", "type": "transfer", "user_id": "x", "amount": "250",
                "occurred_at": at, "counterparty": {"account_id": "mule"}}  # fmt: skip
    upload = {"event_id": "d1", "type": "document_upload", "user_id": "u1", "occurred_at": at,
              "document": {"kind": "id_card", "image_b64": "fp:img1"}}  # fmt: skip
    _lose_writes(tmp_path, pg_url, redis_url, [transfer, upload])
    result = _repair(rt, settings, ahead_s=60).round()
    assert result is not None and result.recounted == 2
    later = "2026-11-20T10:05:00+08:00"
    out = {"event_id": "t2", "type": "transfer", "user_id": "mule", "amount": "240",
           "occurred_at": later, "counterparty": {"account_id": "next"}}  # fmt: skip
    rt.engine.decide(out)
    again = {**upload, "event_id": "d2", "user_id": "u3", "occurred_at": later}
    rt.engine.decide(again)
    features = {}
    for event_id in ("t2", "d2"):
        stored = rt.store.decision(event_id)
        assert stored is not None
        features[event_id] = orjson.loads(stored[1])["features"]
    assert features["t2"]["user.received_transfers_24h"] == 1  # flows: x's transfer
    assert features["d2"]["document.other_accounts_30d"] == 1  # reuse: u1's upload
