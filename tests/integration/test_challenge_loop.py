"""The step-up loop against a real ``fengkong serve`` configured from the environment."""

from __future__ import annotations

from pathlib import Path

import httpx

from fengkong.identity.otp_sender import read_codes
from tests.integration.server import AUTH, free_port, start_server


def test_challenge_code_from_the_sink_passes_over_a_real_server(tmp_path: Path) -> None:
    sink = tmp_path / "otp.jsonl"
    port = free_port()
    proc = start_server(tmp_path / "fk.db", port, env={"FENGKONG_CHALLENGES__OTP_SINK": str(sink)})
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10, headers=AUTH) as http:
            event = {
                "event_id": "scam-1",
                "type": "account_change",
                "user_id": "u-10001",
                "occurred_at": "2026-11-21T10:00:00+08:00",
                "operation": "close_credit_line",
                "context": {"in_call": True, "caller_in_contacts": False},
            }
            decision = http.post("/v1/events", json=event).json()
            cid = decision["challenge_id"]
            assert (
                http.post(f"/v1/challenges/{cid}", json={"code": read_codes(sink)[cid]}).json()[
                    "status"
                ]
                == "passed"
            )
            stored = http.get("/v1/decisions/scam-1").json()
            assert stored["challenge_outcome"]["final_decision"] == "allow"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
