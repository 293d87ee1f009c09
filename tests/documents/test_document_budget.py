"""Image checks on the server: off the event loop, within a budget, results attached late."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fengkong.api.app import create_app
from fengkong.documents import synth
from fengkong.settings import Settings
from tests.keys import AUTH

pytestmark = pytest.mark.skipif(
    synth.cjk_font_path() is None, reason="no CJK font: apt-get install fonts-wqy-microhei"
)


@pytest.fixture()
def client(settings: Settings) -> Iterator[TestClient]:
    # One worker process and a budget shorter than its start-up: the first check is late.
    settings.image_workers = 1
    settings.image_budget_s = 0.2
    with TestClient(create_app(settings), headers=AUTH) as c:
        yield c


def _upload(sample: synth.Sample) -> dict[str, Any]:
    return {
        "event_id": "doc1",
        "type": "document_upload",
        "user_id": sample.account,
        "occurred_at": "2026-12-01T10:00:00+08:00",
        "document": {"kind": sample.kind, "image_b64": sample.image_b64},
    }


def test_late_document_check_reviews_then_attaches_its_result(client: TestClient) -> None:
    sample = synth.make_id_sample(1, "bad_checksum", seed=3)
    started = time.perf_counter()
    out = client.post("/v1/events", json=_upload(sample)).json()
    assert time.perf_counter() - started < 5.0
    assert out["decision"] == "review"
    assert [r["name"] for r in out["reasons"]] == ["document_checks_pending"]
    # Meanwhile other requests are answered.
    pay = {
        "event_id": "p1",
        "type": "payment",
        "user_id": "u9",
        "occurred_at": "2026-12-01T10:00:01+08:00",
        "amount": "12.00",
    }
    assert client.post("/v1/events", json=pay).json()["decision"] == "allow"
    late: dict[str, Any] = {}
    deadline = time.monotonic() + 120
    while not late and time.monotonic() < deadline:
        explain = client.get("/v1/decisions/doc1", params={"explain": "true"}).json()["explain"]
        late = explain.get("late", {}).get("documents", {})
        time.sleep(0.2)
    assert late["facts"]["document.id_checksum_ok"] is False
    assert "ID number check digit is wrong" in late["reasons"]
    assert "image_b64" not in str(explain)
    # The late result is chained as its own entry: the evidence chain still verifies.
    report = client.get("/v1/audit/verify").json()
    assert report["ok"] is True, report
