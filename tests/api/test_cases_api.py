"""``/v1/cases``: the queue, a case, and its actions over JSON."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from fengkong.api.app import create_app
from fengkong.settings import Settings
from tests.keys import AUTH


@pytest.fixture()
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def _review(c: TestClient, user: str) -> None:
    freeze = {"kind": "user", "value": user, "action": "review", "reason": "watch"}
    assert c.post("/v1/rules/freezes", json=freeze, headers=AUTH).status_code == 201
    event = {
        "event_id": f"ev-{user}",
        "type": "login",
        "occurred_at": "2026-10-01T10:00:00Z",
        "user_id": user,
    }
    assert c.post("/v1/events", json=event, headers=AUTH).json()["decision"] == "review"


def test_the_queue_a_case_and_closing_it(client: TestClient, settings: Settings) -> None:
    _review(client, "u7")
    queue = client.get("/v1/cases", headers=AUTH).json()
    (case,) = queue["cases"]
    assert case["subject"] == "u7" and case["status"] == "open"
    assert sum(c["active"] for c in queue["inboxes"].values()) == 1
    case_id = case["case_id"]
    got = client.get(f"/v1/cases/{case_id}", headers=AUTH).json()
    assert got["events"] == ["ev-u7"] and got["history"][0]["action"] == "open"
    assert (
        client.post(
            f"/v1/cases/{case_id}/assign", json={"assignee": "me"}, headers=AUTH
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"/v1/cases/{case_id}/status", json={"status": "investigating"}, headers=AUTH
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"/v1/cases/{case_id}/notes", json={"text": "rang them"}, headers=AUTH
        ).status_code
        == 201
    )
    closed = client.post(
        f"/v1/cases/{case_id}/close", json={"outcome": "confirmed_fraud"}, headers=AUTH
    )
    assert closed.json() == {
        "case_id": case_id,
        "status": "closed",
        "outcome": "confirmed_fraud",
        "labels": 2,
    }
    again = client.post(
        f"/v1/cases/{case_id}/close", json={"outcome": "confirmed_fraud"}, headers=AUTH
    )
    assert again.status_code == 409
    rows = (
        sqlite3.connect(settings.db_path)
        .execute("SELECT user_id, event_id, label FROM labels")
        .fetchall()
    )
    assert sorted(rows, key=str) == sorted(
        [("u7", None, "fraud"), (None, "ev-u7", "fraud")], key=str
    )
    assert client.get("/v1/cases", headers=AUTH).json()["cases"] == []


def test_bad_input_and_roles(client: TestClient) -> None:
    _review(client, "u8")
    case_id = client.get("/v1/cases", headers=AUTH).json()["cases"][0]["case_id"]
    bad = client.post(f"/v1/cases/{case_id}/close", json={"outcome": "maybe"}, headers=AUTH)
    assert bad.status_code == 422 and "outcome" in bad.text
    assert client.get("/v1/cases/C9999999", headers=AUTH).status_code == 404
    assert (
        client.post("/v1/cases/C9999999/notes", json={"text": "x"}, headers=AUTH).status_code == 404
    )
    key = client.post("/v1/keys", json={"name": "aud", "roles": ["auditor"]}, headers=AUTH).json()[
        "key"
    ]
    auditor = {"Authorization": f"Bearer {key}"}
    assert client.get(f"/v1/cases/{case_id}", headers=auditor).status_code == 200
    refused = client.post(
        f"/v1/cases/{case_id}/close", json={"outcome": "inconclusive"}, headers=auditor
    )
    assert refused.status_code == 403
    assert client.get("/v1/cases").status_code == 401
