"""Two servers that share no file, only PostgreSQL: as if on two hosts.

Each has its own ``db_path`` directory (keys, rules, models, cases and the audit chain
are all in PostgreSQL). A key created on one works on the other; a freeze made on one
decides the next event on the other; a review decided on one opens a case the other's
console and API work; the audit chain both extend verifies, over HTTP and from the CLI.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from fengkong.cli.main import main
from tests.integration.server import AUTH, free_port, start_server
from tests.servers import pg_server, pg_url

__all__ = ["pg_server", "pg_url"]


def _env(pg: str, tmp: Path) -> dict[str, str]:
    return {
        "FENGKONG_STORAGE__BACKEND": "postgres",
        "FENGKONG_STORAGE__URL": pg,
        "FENGKONG_FIELD_KEY": "field-key-of-this-deployment",
        "FENGKONG_AUDIT_KEY_PATH": str(tmp / "audit-key"),  # one signer, given to both
        "FENGKONG_IMAGE_WORKERS": "0",
    }


def _event(i: int, user: str) -> dict[str, str]:
    return {
        "event_id": f"h{i}",
        "type": "payment",
        "user_id": user,
        "amount": "10.00",
        "currency": "CNY",
        "occurred_at": f"2026-11-20T09:00:{i % 60:02d}+08:00",
    }


@pytest.mark.timeout(600)
def test_two_hosts_share_keys_rules_cases_and_one_audit_chain(tmp_path: Path, pg_url: str) -> None:
    env = _env(pg_url, tmp_path)
    dirs = [tmp_path / "host-a", tmp_path / "host-b"]
    ports = [free_port(), free_port()]
    procs = []
    try:
        for d, port in zip(dirs, ports, strict=True):
            d.mkdir()
            procs.append(start_server(d / "fk.db", port, env))
        a, b = (httpx.Client(base_url=f"http://127.0.0.1:{p}", headers=AUTH) for p in ports)
        # A key made on A is good on B.
        made = a.post("/v1/keys", json={"name": "ana", "roles": ["analyst"]}).json()
        ana = {"Authorization": f"Bearer {made['key']}"}
        assert b.get("/v1/cases", headers=ana).status_code == 200
        # A freeze on A decides the next event on B.
        freeze = {"kind": "user", "value": "u1", "action": "review", "reason": "watch"}
        assert a.post("/v1/rules/freezes", json=freeze).status_code == 201
        started = time.monotonic()
        i = 0
        while (answer := b.post("/v1/events", json=_event(i, "u1")).json())["decision"] != (
            "review"
        ):
            i += 1
            assert time.monotonic() - started < 5, answer
        # The review decided on B opened a case that A's API and console show.
        (case,) = a.get("/v1/cases", headers=ana).json()["cases"]
        assert case["subject"] == "u1"
        closed = a.post(
            f"/v1/cases/{case['case_id']}/close", json={"outcome": "confirmed_fraud"}, headers=ana
        )
        assert closed.status_code == 200, closed.text
        assert b.get(f"/v1/cases/{case['case_id']}", headers=ana).json()["status"] == "closed"
        assert b.get("/console/", follow_redirects=False).status_code != 501
        # One chain, both hosts' entries; the auditor's verify passes on either.
        auditor = a.post("/v1/keys", json={"name": "aud", "roles": ["auditor"]}).json()["key"]
        head = {"Authorization": f"Bearer {auditor}"}
        assert a.get("/v1/audit/checkpoint", headers=head).status_code == 200
        report = b.get("/v1/audit/verify", headers=head).json()
        assert report["ok"], report["problems"][:3]
        assert report["checkpoints"] >= 1
        a.close()
        b.close()
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
    shared = {"events", "audit_log", "api_keys", "rules_versions", "models_versions", "cases"}
    for d in dirs:  # nothing of the shared truth lives in a host's file
        if (d / "fk.db").exists():
            with sqlite3.connect(d / "fk.db") as conn:
                names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            assert not names & shared, names & shared
    runner = CliRunner()
    cli_env = {**os.environ, **env, "FENGKONG_TOKEN_SECRET": "integration-test-secret"}
    db = ["--db", str(tmp_path / "host-c" / "fk.db")]  # a third host: no file of its own yet
    (tmp_path / "host-c").mkdir()
    out = runner.invoke(main, ["audit", "verify", *db], env=cli_env)
    assert out.exit_code == 0 and "audit chain OK" in out.output, out.output
    out = runner.invoke(main, ["rules", "freezes", *db], env=cli_env)
    assert out.exit_code == 0 and "u1" in out.output, out.output
    out = runner.invoke(main, ["keys", "list", *db], env=cli_env)
    assert out.exit_code == 0 and "ana" in out.output, out.output
