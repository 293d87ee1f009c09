"""Fault injection: the disk under the store fills up mid-load, then space comes back.

Needs root to mount a small tmpfs; skipped otherwise.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.server import AUTH, free_port, start_server

pytestmark = pytest.mark.slow

VOLATILE = ("latency_ms", "durable")


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mnt = tmp_path_factory.mktemp("disk")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _event(i: int) -> dict[str, Any]:
    return {
        "event_id": f"e{i}",
        "type": "payment" if i % 3 else "login",
        "user_id": f"u{i % 23}",
        "occurred_at": f"2026-11-20T{8 + i // 60:02d}:{i % 60:02d}:00+08:00",
        "amount": str(5 + i % 400),
        "device": {"device_id": f"d{i % 11}"},
        "ip": f"10.0.{i % 7}.{i % 250}",
        "attributes": {"pad": "p" * 1500},
    }


def _fill(path: Path) -> None:
    """Write until the filesystem refuses: nothing is left for the store."""
    # Unbuffered: a partial write must not leave bytes that closing flushes (ENOSPC again).
    with path.open("wb", buffering=0) as out:
        block = b"\0" * (1 << 16)
        while True:
            try:
                out.write(block)
                out.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
    with contextlib.suppress(OSError), path.open("ab") as out:
        while True:
            out.write(b"\0" * 512)
            out.flush()


def _post(client: httpx.Client, event: dict[str, Any]) -> httpx.Response:
    return client.post("/v1/events", json=event, timeout=30)


def _answer(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in VOLATILE}


@dataclass
class Run:
    events: list[dict[str, Any]]
    order: list[int]  # the order in which events were finally stored
    refused: list[int]
    answers: dict[int, dict[str, Any]]
    stored: tuple[int, int]


TOTAL = 600


@pytest.fixture(scope="module")
def run(small_disk: Path) -> Run:
    """Load events; the disk fills after 80 and has room again once it refused some.

    SQLite reuses the space its WAL already holds, so how many commits still fit on
    the full disk depends on what each commit writes: the load goes on until ten
    events were refused.
    """
    events = [_event(i) for i in range(TOTAL)]
    port = free_port()
    server = start_server(small_disk / "fk.db", port)
    order: list[int] = []
    refused: list[int] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH) as c:
            for i in range(80):
                assert _post(c, events[i]).status_code == 200
                order.append(i)
            _fill(small_disk / "filler")
            resume = TOTAL - 40
            for i in range(80, TOTAL - 40):
                if len(refused) >= 10:
                    resume = i
                    break
                r = _post(c, events[i])
                assert r.status_code in (200, 503), r.text
                if r.status_code == 503:
                    assert int(r.headers["retry-after"]) >= 1
                    refused.append(i)
                else:
                    order.append(i)
            assert refused, "the full disk refused nothing"
            health = c.get("/healthz").json()
            assert health["status"] == "degraded"
            assert any("full" in reason for reason in health["reasons"])
            for i in refused:  # nothing half-stored
                assert c.get(f"/v1/decisions/e{i}").status_code == 404

            (small_disk / "filler").unlink()
            for i in [*refused, *range(resume, TOTAL)]:
                r = _post(c, events[i])
                assert r.status_code == 200, r.text
                order.append(i)
            assert c.get("/healthz").json()["status"] == "ok"
            answers = {i: _answer(c.get(f"/v1/decisions/e{i}").json()) for i in sorted(order)}
    finally:
        server.terminate()
        server.wait(timeout=30)
    with sqlite3.connect(small_disk / "fk.db") as conn:
        counts = (
            conn.execute("SELECT COUNT(*) FROM events").fetchone()[0],
            conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0],
        )
    return Run(events, order, refused, answers, counts)


def test_disk_full_mid_load_answers_503_stores_nothing_half_and_recovers(run: Run) -> None:
    assert 0 < len(run.refused) <= 10
    assert run.stored == (len(run.order), len(run.order))
    assert sorted(run.order) == list(range(TOTAL))


def test_decisions_after_the_disk_full_equal_a_clean_run(run: Run, tmp_path: Path) -> None:
    port = free_port()
    clean = start_server(tmp_path / "clean.db", port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH) as c:
            for i in run.order:
                body = _post(c, run.events[i]).json()
                assert _answer(body) == run.answers[i], i
    finally:
        clean.terminate()
        clean.wait(timeout=30)
