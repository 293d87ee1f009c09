"""No oracles: tokenising raw values is rate-limited, audited and for rule_admin only;
analysts see identifiers masked unless they hold ``unmask`` (and every read is chained)."""

from __future__ import annotations

import sqlite3
from typing import Any

from fastapi.testclient import TestClient

from fengkong.audit import log
from fengkong.settings import Settings
from tests.keys import AUTH
from tests.security.conftest import KeyMaker

PHONE = "13912345678"


def _chain(settings: Settings) -> list[dict[str, Any]]:
    return [s.parsed() for s in log.entries(sqlite3.connect(settings.db_path))]


def test_tokenising_a_raw_phone_is_closed_to_analysts_and_ingest(
    client: TestClient, key_for: KeyMaker
) -> None:
    body = {"values": [PHONE], "tokenise": "phone"}
    for roles in (("analyst",), ("ingest",), ("labeler", "auditor")):
        assert (
            client.post("/v1/rules/lists/probe", json=body, headers=key_for(*roles)).status_code
            == 403
        )
    freeze = {"kind": "phone", "value": PHONE, "reason": "probe"}
    assert (
        client.post("/v1/rules/freezes", json=freeze, headers=key_for("analyst")).status_code == 403
    )


def test_tokenising_is_rate_limited_and_audited(
    client: TestClient, key_for: KeyMaker, settings: Settings
) -> None:
    admin = key_for("rule_admin", name="ops")
    many = {"values": [f"1391234{i:04d}" for i in range(50)], "tokenise": "phone"}
    assert client.post("/v1/rules/lists/watch", json=many, headers=admin).status_code == 201
    more = {"values": [f"1381234{i:04d}" for i in range(11)], "tokenise": "phone"}
    r = client.post("/v1/rules/lists/watch", json=more, headers=admin)
    assert r.status_code == 429 and "60 values a minute" in r.json()["detail"]
    freeze = {"kind": "phone", "value": PHONE, "reason": "r"}
    assert client.post("/v1/rules/freezes", json=freeze, headers=admin).status_code == 201
    # Another key has its own budget; sending tokens costs nothing.
    tokens = {"values": ["tk_phone_0123456789abcdef01234567"]}
    assert client.post("/v1/rules/lists/watch", json=tokens, headers=admin).status_code == 201
    spent = [e for e in _chain(settings) if e["kind"] == "tokenise"]
    assert [(e["data"]["values"], e["actor"].split()[0]) for e in spent] == [
        (50, "ops"),
        (1, "ops"),
    ]
    assert PHONE not in str(spent)


def _scam_transfer() -> dict[str, Any]:
    return {
        "event_id": "t1",
        "type": "transfer",
        "user_id": "u-victim",
        "occurred_at": "2026-11-20T12:31:09+08:00",
        "amount": "90000",
        "ip": "203.0.113.77",
        "phone": PHONE,
        "device": {"device_id": "serial-ABC123456"},
        "counterparty": {"account_id": "acct-998877", "name": "Wang Mule"},
    }


def test_analyst_reads_are_masked_and_chained_unmask_is_a_separate_permission(
    client: TestClient, key_for: KeyMaker, settings: Settings
) -> None:
    assert client.post("/v1/events", json=_scam_transfer(), headers=AUTH).status_code == 200
    analyst = key_for("analyst", name="ana")
    masked = client.get("/v1/decisions/t1?explain=true", headers=analyst)
    assert masked.status_code == 200
    text = masked.text
    for secret in ("203.0.113.77", "serial-ABC123456", "acct-998877", "Wang Mule"):
        assert secret not in text, secret
    assert client.get("/v1/decisions/t1?unmask=true", headers=analyst).status_code == 403
    unmasker = key_for("analyst", "unmask", name="lead")
    full = client.get("/v1/decisions/t1?explain=true&unmask=true", headers=unmasker)
    assert full.status_code == 200 and full.json()["explain"] != masked.json()["explain"]
    reads = [e for e in _chain(settings) if e["kind"] == "read"]
    assert [(e["actor"].split()[0], e["user"], e["data"]["unmask"]) for e in reads] == [
        ("ana", "u-victim", False),
        ("lead", "u-victim", True),
    ]


def test_list_and_freeze_values_are_masked_for_analysts(
    client: TestClient, key_for: KeyMaker
) -> None:
    admin = key_for("rule_admin")
    token = "tk_phone_0123456789abcdef01234567"
    client.post("/v1/rules/lists/watch", json={"values": [token, "198.51.100.9"]}, headers=admin)
    client.post(
        "/v1/rules/freezes", json={"kind": "user", "value": "u-4242", "reason": "r"}, headers=admin
    )
    client.post(
        "/v1/rules/freezes",
        json={"kind": "event_type", "value": "transfer", "reason": "r"},
        headers=admin,
    )
    analyst = key_for("analyst")
    listed = client.get("/v1/rules/lists/watch", headers=analyst).text
    frozen = client.get("/v1/rules/freezes", headers=analyst).json()
    assert token not in listed and "198.51.100.9" not in listed and "tk_phone_0123" in listed
    assert {f["value"] for f in frozen} == {"u-***", "transfer"}
    assert token in client.get("/v1/rules/lists/watch", headers=admin).text
