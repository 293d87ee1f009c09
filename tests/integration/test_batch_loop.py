"""A large batch is decided in slices: the event loop keeps answering meanwhile."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.integration.server import AUTH, free_port, start_server


def _events(n: int, prefix: str = "b") -> list[dict[str, Any]]:
    start = datetime.now(UTC) - timedelta(hours=2)
    return [
        {
            "event_id": f"{prefix}{i}",
            "type": "payment" if i % 3 else "login",
            "user_id": f"u{i % 97}",
            "occurred_at": (start + timedelta(seconds=i)).isoformat(),
            "amount": "12.50",
            "device": {"fingerprint": {"device_id": f"d{i % 131}", "os": "android"}},
            "ip": f"10.{i % 7}.{i % 11}.{i % 13}",
        }
        for i in range(n)
    ]


def test_healthz_answers_while_a_1000_event_batch_is_decided(tmp_path: Path) -> None:
    port = free_port()
    server = start_server(tmp_path / "b.db", port)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, headers=AUTH, timeout=60) as c:
            assert c.post("/v1/events/batch", json=_events(5, "warm")).status_code == 200
        waits: list[float] = []
        done = threading.Event()
        spans: dict[str, float] = {}

        answers: list[httpx.Response] = []

        def batch() -> None:
            body = _events(1000)
            try:
                with httpx.Client(base_url=base, headers=AUTH, timeout=120) as c:
                    spans["start"] = time.perf_counter()
                    answers.append(c.post("/v1/events/batch", json=body))
                    spans["end"] = time.perf_counter()
            finally:
                done.set()

        worker = threading.Thread(target=batch)
        with httpx.Client(base_url=base, timeout=60) as c:
            worker.start()
            while not done.is_set():
                sent = time.perf_counter()
                assert c.get("/healthz").status_code == 200
                if "start" in spans and not done.is_set():
                    waits.append(time.perf_counter() - sent)
                time.sleep(0.01)
        worker.join()
        (answer,) = answers
        assert answer.status_code == 200, answer.text
        assert len(answer.json()) == 1000
    finally:
        server.terminate()
        server.wait(10)
    took = spans["end"] - spans["start"]
    assert len(waits) >= 5, f"only {len(waits)} health checks answered during a {took:.2f} s batch"
    # A loop held by the whole batch makes one check wait about as long as the batch.
    assert max(waits) < took / 4, f"/healthz waited {max(waits):.2f} s in a {took:.2f} s batch"
