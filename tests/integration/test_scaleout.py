"""N workers, one truth: two servers on PostgreSQL + Redis decide like one embedded process.

Also: ``fengkong serve --workers 2`` survives the kill -9 of a worker under load, losing
nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import psycopg
import pytest

from fengkong.runtime import build_runtime
from fengkong.settings import Settings
from fengkong.sim import SimConfig, simulate
from fengkong.storage.postgres import PostgresStore
from tests.integration.server import AUTH, free_port, start_server
from tests.keys import ADMIN_KEY
from tests.servers import pg_server, pg_url, redis_session, redis_url

__all__ = ["pg_server", "pg_url", "redis_session", "redis_url"]

SECRET = "integration-test-secret"


def _shared_env(pg: str, redis: str) -> dict[str, str]:
    return {
        "FENGKONG_STORAGE__BACKEND": "postgres",
        "FENGKONG_STORAGE__URL": pg,
        "FENGKONG_STATE__BACKEND": "redis",
        "FENGKONG_STATE__REDIS_URL": redis,
        # Image checks inline, as in the in-process reference (no budget to run out of).
        "FENGKONG_IMAGE_WORKERS": "0",
    }


def _view(decision: dict[str, Any], explain: bytes) -> dict[str, Any]:
    """What must be equal: the outcome, its reasons, and every feature and fact."""
    x = orjson.loads(explain)
    keep = ("decision", "score", "reasons", "warnings")
    return {
        **{k: decision.get(k) for k in keep},
        "features": x.get("features"),
        "facts": x.get("facts"),
    }


@pytest.mark.timeout(900)  # 2,552 events over HTTP, twice over: minutes on a busy machine
def test_two_workers_round_robin_decide_like_one_embedded_process(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    demo = SimConfig(users=80, days=6, seed=3, attack_rate=0.3)
    events = [orjson.loads(e) for e, _ in simulate(demo) if e]
    reference = build_runtime(Settings(db_path=tmp_path / "one.db", token_secret=SECRET))
    expected = {}
    for event in events:
        answer = reference.engine.decide(event)
        stored = reference.store.decision(answer["event_id"])
        assert stored is not None
        expected[answer["event_id"]] = _view(answer, stored[1])
    reference.close()

    # Two hosts: no file in common, every shared thing is in PostgreSQL or Redis.
    env = {**_shared_env(pg_url, redis_url), "FENGKONG_FIELD_KEY": "field-key-of-the-deployment"}
    ports = [free_port(), free_port()]
    procs = []
    try:
        for n, port in enumerate(ports):  # one after the other: the first creates the admin key
            (tmp_path / f"host{n}").mkdir()
            procs.append(start_server(tmp_path / f"host{n}" / "fk.db", port, env))
        clients = [httpx.Client(base_url=f"http://127.0.0.1:{p}", headers=AUTH) for p in ports]
        answers = []
        for i, event in enumerate(events):
            r = clients[i % 2].post("/v1/events", json=event, timeout=30)
            assert r.status_code == 200, r.text
            answers.append(r.json())
        for c in clients:
            c.close()
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
    store = PostgresStore(pg_url, pool_size=1)
    got = {}
    for answer in answers:
        stored = store.decision(answer["event_id"])
        assert stored is not None
        got[answer["event_id"]] = _view(answer, stored[1])
    assert store.count_events() == len(events)
    store.close()
    differ = [e for e in expected if got[e] != expected[e]]
    # Sent one at a time: no two events of one entity were ever concurrent.
    assert differ == [], f"{len(differ)} of {len(events)} decisions differ, first {differ[:3]}"


def _event(i: int) -> dict[str, Any]:
    minute, second = divmod(i, 60)
    return {
        "event_id": f"k{i}",
        "type": "payment",
        "user_id": f"u{i % 50}",
        "amount": "12.50",
        "currency": "CNY",
        "occurred_at": f"2026-11-20T{9 + minute // 60:02d}:{minute % 60:02d}:{second:02d}+08:00",
    }


@pytest.mark.timeout(600)
def test_kill_9_of_a_worker_under_load_loses_nothing(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fengkong", "serve", "--db", str(tmp_path / "w.db"),
         "--port", str(port), "--workers", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "FENGKONG_TOKEN_SECRET": SECRET, "FENGKONG_BOOTSTRAP_KEY": ADMIN_KEY,
             **_shared_env(pg_url, redis_url), "FENGKONG_STATE__REPAIR_INTERVAL_S": "0.5",
             "FENGKONG_STATE__REPAIR_GRACE_S": "1"},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_workers(proc, base, 2)
        total, answered = 400, set()
        lock = threading.Lock()
        refused: list[str] = []
        answered_at: list[float] = []

        def client(part: int) -> None:
            with httpx.Client(base_url=base, headers=AUTH) as http:
                for i in range(part, total, 4):
                    for _ in range(50):  # a retry of the same event_id is idempotent
                        try:
                            r = http.post("/v1/events", json=_event(i), timeout=10)
                        except httpx.HTTPError:
                            time.sleep(0.05)
                            continue
                        if r.status_code == 200:
                            with lock:
                                answered.add(i)
                                answered_at.append(time.monotonic())
                            break
                        refused.append(f"{r.status_code} {r.text[:200]}")
                        time.sleep(0.05)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        while len(answered) < total // 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        victim = _workers(proc)[0]  # a worker, not the multiprocessing resource tracker
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        after_kill = len(answered)
        for t in threads:
            t.join(120)
        assert len(answered) == total, refused[:5]
        assert after_kill < total
        # The other worker kept answering while the dead one was being replaced.
        assert any(killed_at < t <= killed_at + 2.0 for t in answered_at)
        assert not victim.is_running() or victim.status() == psutil.STATUS_ZOMBIE
        # The units the dead worker had committed but not written to Redis are
        # recounted by the state repair within its grace and interval (1 s + 0.5 s).
        time.sleep(3.0)
        # Every event is in the shared feature state once: a probe per user, on
        # whichever worker, sees all 8 of its payments (none lost, none doubled), after
        # the repair recounted what the dead worker's lost write had.
        with httpx.Client(base_url=base, headers=AUTH) as http:
            for user in range(50):
                probe = {**_event(user), "event_id": f"probe{user}",
                         "occurred_at": "2026-11-20T10:00:00+08:00"}  # fmt: skip
                assert http.post("/v1/events", json=probe, timeout=30).status_code == 200
            # Each worker exports its repair's counters (rounds run, events recounted).
            scrape = http.get("/metrics", timeout=30).text
            assert "fengkong_state_repair_rounds_total" in scrape
            assert "fengkong_state_repair_events_total" in scrape
    finally:
        proc.terminate()
        proc.wait(30)
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM events").fetchone()
        decisions = conn.execute("SELECT COUNT(*) FROM decisions").fetchone()
    assert row == (total + 50, total + 50) and decisions == (total + 50,)
    store = PostgresStore(pg_url, pool_size=1)
    try:
        sums = []
        for user in range(50):
            stored = store.decision(f"probe{user}")
            assert stored is not None
            sums.append(orjson.loads(stored[1])["features"]["user.amount_sum_24h"])
    finally:
        store.close()
    assert sums == [8 * 12.5] * 50


def _workers(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The server's worker processes (spawned by multiprocessing; its resource tracker
    is a child too, and not a worker)."""
    out = []
    for child in psutil.Process(proc.pid).children():
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                out.append(child)
        except psutil.Error:  # gone meanwhile
            continue
    return out


def _wait_workers(proc: subprocess.Popen[bytes], base: str, n: int) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}")
        ready = len(_workers(proc))
        try:
            if ready >= n and httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail("workers did not start in 90 s")
