from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fengkong.api.app import create_app
from fengkong.settings import Settings
from tests.keys import ADMIN_KEY, AUTH


@pytest.fixture()
def client(settings: Settings) -> Iterator[TestClient]:
    settings.max_body_bytes = 4096
    settings.max_batch = 20
    with TestClient(create_app(settings), headers=AUTH) as c:
        yield c


def _event(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"e{i}",
        "type": "payment",
        "user_id": "u1",
        "occurred_at": "2026-11-20T12:31:09+08:00",
        "amount": "38.50",
        **extra,
    }


def test_decision_has_the_contract_shape(client: TestClient) -> None:
    r = client.post("/v1/events", json=_event(1))
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {
        "event_id",
        "decision",
        "challenge",
        "score",
        "warnings",
        "reasons",
        "versions",
        "latency_ms",
    }
    assert body["decision"] in {"allow", "challenge", "review", "block"}
    assert 0.0 <= body["score"] <= 1.0


def test_every_example_event_gets_a_decision(
    client: TestClient, examples: list[dict[str, Any]]
) -> None:
    for raw in examples:
        assert client.post("/v1/events", json=raw).status_code == 200


def test_bad_input_is_422_naming_the_field_and_nothing_is_stored(client: TestClient) -> None:
    r = client.post("/v1/events", json=_event(1, amount=-5))
    assert r.status_code == 422
    assert [d["field"] for d in r.json()["detail"]] == ["amount"]
    assert client.get("/v1/decisions/e1").status_code == 404


@pytest.mark.parametrize("body", [b"", b"null", b"[]", b"{", b"\xff\xfe", b'"x"', b"123"])
def test_garbage_bodies_are_422(client: TestClient, body: bytes) -> None:
    r = client.post("/v1/events", content=body)
    assert r.status_code == 422, r.text


def test_oversize_body_is_413(client: TestClient) -> None:
    r = client.post("/v1/events", json=_event(1, attributes={"pad": "x" * 5000}))
    assert r.status_code == 413


def test_retry_returns_stored_decision_and_other_body_is_409(client: TestClient) -> None:
    first = client.post("/v1/events", json=_event(1)).json()
    assert client.post("/v1/events", json=_event(1)).json() == first
    r = client.post("/v1/events", json=_event(1, amount="99"))
    assert r.status_code == 409
    assert r.json()["field"] == "event_id"


def test_batch_answers_in_order(client: TestClient) -> None:
    events = [_event(i) for i in range(5)]
    r = client.post("/v1/events/batch", json=events)
    assert r.status_code == 200
    assert [d["event_id"] for d in r.json()] == [f"e{i}" for i in range(5)]
    wrapped = client.post("/v1/events/batch", json={"events": events})
    assert wrapped.json() == r.json()


def test_batch_errors_name_the_index_and_store_nothing(client: TestClient) -> None:
    r = client.post("/v1/events/batch", json=[_event(1), _event(2, ip="x")])
    assert r.status_code == 422
    assert [d["field"] for d in r.json()["detail"]] == ["[1].ip"]
    assert client.get("/v1/decisions/e1").status_code == 404


def test_batch_over_the_limit_is_refused(client: TestClient) -> None:
    r = client.post("/v1/events/batch", json=[_event(i) for i in range(21)])
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "events"


def test_get_decision_with_explanation(client: TestClient) -> None:
    client.post("/v1/events", json=_event(1))
    r = client.get("/v1/decisions/e1", params={"explain": "true"})
    assert r.status_code == 200
    assert "features" in r.json()["explain"]


def test_labels_single_and_list(client: TestClient) -> None:
    label = {
        "event_id": "e1",
        "label": "fraud",
        "source": "chargeback",
        "at": "2026-11-27T00:00:00+08:00",
    }
    assert client.post("/v1/labels", json=label).json() == {"stored": 1}
    # The same label repeated is one fact, stored once.
    assert client.post("/v1/labels", json=[label, label]).json() == {"stored": 1}
    bad = client.post("/v1/labels", json=[label, {**label, "label": "maybe"}])
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "[1].label"


def test_health_metrics_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    client.post("/v1/events", json=_event(1))
    client.post("/v1/events", json=_event(2, amount=-1))
    text = client.get("/metrics").text
    assert 'fengkong_decisions_total{decision="allow"} 1.0' in text
    assert 'fengkong_rejected_requests_total{status="422"} 1.0' in text
    assert "fengkong_decision_latency_seconds_bucket" in text
    assert "fengkong_model_drift_alert 0.0" in text
    spec = client.get("/openapi.json").json()
    assert "Event" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_unknown_route_and_method_are_4xx(client: TestClient) -> None:
    assert client.get("/v1/nothing").status_code == 404
    assert client.get("/v1/events").status_code == 405


def test_default_pipeline_warns_a_scam_victim(
    client: TestClient, examples: list[dict[str, Any]]
) -> None:
    close_line = next(e for e in examples if e.get("operation") == "close_credit_line")
    body = client.post("/v1/events", json=close_line).json()
    assert body["decision"] != "allow"
    assert "scam_close_credit_line" in {w["code"] for w in body["warnings"]}
    assert body["versions"]["rules"]


def test_analyst_api_needs_a_key_with_the_role(settings: Settings) -> None:
    with TestClient(create_app(settings)) as c:
        assert c.get("/v1/rules/versions").status_code == 401
        ok = c.get("/v1/rules/versions", headers=AUTH)
        assert ok.status_code == 200
        assert ok.json()[0]["live"] is True
        made = c.post("/v1/keys", json={"name": "app", "roles": ["ingest"]}, headers=AUTH)
        ingest = {"Authorization": f"Bearer {made.json()['key']}"}
        assert c.post("/v1/events", json=_event(1), headers=ingest).status_code == 200
        assert c.get("/v1/rules/versions", headers=ingest).status_code == 403


def test_default_pipeline_blocks_a_phishing_qr_and_warns(
    client: TestClient, examples: list[dict[str, Any]]
) -> None:
    scan = next(e for e in examples if e["type"] == "qr_scan")
    body = client.post("/v1/events", json=scan).json()
    assert body["decision"] == "block"
    assert "phishing_qr" in {w["code"] for w in body["warnings"]}


def test_reason_sources_stay_within_the_wire_format(
    client: TestClient, examples: list[dict[str, Any]]
) -> None:
    for raw in examples:
        for reason in client.post("/v1/events", json=raw).json()["reasons"]:
            assert reason["source"] in {"rule", "model", "list", "graph"}


def test_a_full_batch_of_1000_is_decided_in_order(tmp_path: Path) -> None:
    full = Settings(
        db_path=tmp_path / "b.db",
        token_secret="t" * 32,
        sqlite_synchronous="NORMAL",
        bootstrap_key=ADMIN_KEY,
    )
    events = [_event(i, user_id=f"u{i % 37}") for i in range(1000)]
    with TestClient(create_app(full), headers=AUTH) as c:
        r = c.post("/v1/events/batch", json=events)
        assert r.status_code == 200
        assert [d["event_id"] for d in r.json()] == [e["event_id"] for e in events]
        again = c.post("/v1/events/batch", json=events)
        assert again.json() == r.json()
