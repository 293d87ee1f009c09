"""Kill -9 a real server mid-stream: every answered event survives, retries agree."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import httpx

from tests.integration.server import AUTH, free_port, start_server


def _event(i: int) -> dict[str, Any]:
    return {
        "event_id": f"crash-{i}",
        "type": "payment" if i % 3 else "login",
        "user_id": f"u{i % 17}",
        "occurred_at": f"2026-11-20T{10 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}+08:00",
        "amount": str(10 + i % 500),
        "ip": f"10.0.{i % 7}.{i % 200}",
        "device": {"device_id": f"d{i % 11}"},
    }


def test_kill_9_loses_no_answered_event(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    port = free_port()
    proc = start_server(db, port)
    answered: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def client(offset: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5, headers=AUTH) as http:
            i = offset
            while not stop.is_set():
                try:
                    r = http.post("/v1/events", json=_event(i))
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 200:
                    with lock:
                        answered[r.json()["event_id"]] = r.json()
                i += 4

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    while len(answered) < 300:
        threading.Event().wait(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stop.set()
    for t in threads:
        t.join()

    proc = start_server(db, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5, headers=AUTH) as http:
            for event_id, decision in answered.items():
                stored = http.get(f"/v1/decisions/{event_id}", params={"unmask": "true"})
                assert stored.status_code == 200, event_id
                # GET adds the state of the challenge a decision issued.
                shown = {k: v for k, v in stored.json().items() if k != "challenge_outcome"}
                assert shown == decision
                i = int(event_id.split("-")[1])
                retry = http.post("/v1/events", json=_event(i))
                assert retry.status_code == 200
                assert retry.json() == decision
    finally:
        proc.terminate()
        proc.wait(10)
