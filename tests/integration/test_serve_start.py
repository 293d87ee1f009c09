"""``fengkong serve`` checks the store while it restores, and refuses a damaged one.

The check is the one ``build_runtime`` runs in a thread beside the restore; the port
opens only after its verdict, so nothing is committed to a file the check refuses. A
damaged file stops the start with the file's name and the commands to run, not a
traceback; with ``--workers N`` (events in PostgreSQL) the parent checks the local file
once, before any worker starts.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from fengkong.runtime import build_runtime
from fengkong.settings import Settings
from tests.integration.server import AUTH, free_port, start_server
from tests.keys import ADMIN_KEY
from tests.servers import pg_server, pg_url
from tests.storage.test_repair import _damage

__all__ = ["pg_server", "pg_url"]

SECRET = "integration-test-secret"  # what start_server gives the server
N = 300


def _event(i: int) -> dict[str, Any]:
    return {
        "event_id": f"s{i}",
        "type": "payment",
        "user_id": f"u{i % 17}",
        "occurred_at": f"2026-11-20T{10 + i // 60:02d}:{i % 60:02d}:00+08:00",
        "amount": str(10 + i),
        "attributes": {"note": "x" * 200},
    }


def _store(db: Path, n: int = N) -> None:
    """A store of ``n`` decided events, as a previous run of the server leaves it."""
    rt = build_runtime(Settings(db_path=db, token_secret=SECRET, bootstrap_key=ADMIN_KEY))
    for i in range(n):
        rt.engine.decide(_event(i))
    rt.close()
    # Closed cleanly, all is in the main file: what the tests compare is all there.
    assert not db.with_name(f"{db.name}-wal").exists()


def _serve(db: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fengkong", "serve", "--db", str(db),
         "--port", str(free_port()), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "FENGKONG_TOKEN_SECRET": SECRET, "FENGKONG_BOOTSTRAP_KEY": ADMIN_KEY,
             **(env or {})},
    )  # fmt: skip


def _refused(proc: subprocess.Popen[str], db: Path) -> str:
    """The start's message once it has exited (it must: a damaged store never serves)."""
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the server started on a damaged store")
    assert proc.returncode not in (0, None), err
    assert f"{db} is damaged" in err
    assert f"fengkong db check --db {db}" in err and "fengkong db recover" in err
    assert "Traceback" not in err, err
    return err


@pytest.mark.timeout(300)
def test_served_start_restores_checks_and_decides(tmp_path: Path) -> None:
    db = tmp_path / "fk.db"
    _store(db)
    port = free_port()
    proc = start_server(db, port)
    try:
        base = f"http://127.0.0.1:{port}"
        health = httpx.get(f"{base}/healthz", timeout=10).json()
        assert health["status"] == "ok"
        r = httpx.post(f"{base}/v1/events", json=_event(N), headers=AUTH, timeout=30)
        assert r.status_code == 200, r.text
        # The state was restored: the user's earlier events count.
        r = httpx.get(f"{base}/v1/decisions/s{N}?explain=true", headers=AUTH, timeout=30)
        assert r.json()["explain"]["features"]["user.amount_sum_7d"] > 10 + N
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.timeout(300)
def test_served_start_refuses_a_damaged_store_before_listening(tmp_path: Path) -> None:
    db = tmp_path / "fk.db"
    _store(db)
    _damage(db, "decisions", 2)
    before = db.read_bytes()
    _refused(_serve(db), db)
    assert db.read_bytes() == before  # nothing was committed to it
    wal = db.with_name(f"{db.name}-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def _intact_file(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (x)")
    conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 2000)
    conn.commit()
    conn.close()
    db.chmod(0o600)  # the server refuses a store others can read


@pytest.mark.timeout(300)
@pytest.mark.parametrize("damaged", [False, True], ids=["intact", "damaged"])
def test_workers_start_after_the_parents_check(tmp_path: Path, pg_url: str, damaged: bool) -> None:
    db = tmp_path / "w.db"
    _intact_file(db)
    if damaged:
        _damage(db, "t", 2)
    env = {"FENGKONG_STORAGE__BACKEND": "postgres", "FENGKONG_STORAGE__URL": pg_url}
    proc = _serve(db, "--workers", "2", env=env)
    if damaged:
        err = _refused(proc, db)
        assert "fengkong: worker" not in err  # refused by the parent, before any worker
        return
    port = int(proc.args[proc.args.index("--port") + 1])  # type: ignore[union-attr]
    try:
        for _ in range(600):
            if proc.poll() is not None:
                pytest.fail(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
            try:
                r = httpx.post(
                    f"http://127.0.0.1:{port}/v1/events", json=_event(0), headers=AUTH, timeout=5
                )
            except httpx.HTTPError:
                time.sleep(0.2)
                continue
            assert r.status_code == 200, r.text
            break
        else:
            pytest.fail("the workers did not answer in 120 s")
    finally:
        proc.terminate()
        proc.wait(30)
