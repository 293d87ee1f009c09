"""The same checks against a real ``fengkong serve`` process, over loopback HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
from click.testing import CliRunner

from fengkong.cli.main import main
from tests.integration.server import AUTH, free_port, start_server

ENV = {"FENGKONG_TOKEN_SECRET": "integration-test-secret"}


def test_a_served_store_is_closed_by_default_and_its_chain_verifies(tmp_path: Path) -> None:
    db, port = tmp_path / "served.db", free_port()
    proc = start_server(db, port)
    try:
        base = f"http://127.0.0.1:{port}"
        rules = {"ruleset": {"name": "open", "rules": []}, "author": "attacker"}
        assert httpx.post(f"{base}/v1/rules/versions", json=rules).status_code == 401
        event = {
            "event_id": "s1",
            "type": "transfer",
            "user_id": "u1",
            "occurred_at": "2026-11-20T12:31:09+08:00",
            "amount": "90000",
        }
        assert httpx.post(f"{base}/v1/events", json=event).status_code == 401
        with httpx.Client(base_url=base, headers=AUTH) as admin:
            made = admin.post("/v1/keys", json={"name": "app", "roles": ["ingest"]}).json()
            ingest = {"Authorization": f"Bearer {made['key']}"}
            assert httpx.post(f"{base}/v1/events", json=event, headers=ingest).status_code == 200
            label = {
                "event_id": "s1",
                "label": "fraud",
                "source": "chargeback",
                "at": "2026-11-21T00:00:00Z",
            }
            assert httpx.post(f"{base}/v1/labels", json=label, headers=ingest).status_code == 403
            assert admin.get("/v1/audit/verify").json()["ok"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    r = CliRunner().invoke(main, ["audit", "verify", "--db", str(db)], env=ENV)
    assert r.exit_code == 0, r.output
    assert "1 signed checkpoints" in r.output  # signed at shutdown
