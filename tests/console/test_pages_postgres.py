"""The console on ``storage.backend = "postgres"``: queue, case page, closing, dashboards
and the emergency page work on PostgreSQL as on the file (no 501)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from fengkong.api.app import create_app
from fengkong.settings import Settings
from tests.console.test_pages import _event, _login
from tests.keys import ADMIN_KEY, AUTH
from tests.servers import pg_server, pg_url

__all__ = ["pg_server", "pg_url"]


@pytest.fixture()
def pg_client(tmp_path: Path, pg_url: str) -> Iterator[TestClient]:
    settings = Settings(
        db_path=tmp_path / "fk.db",
        token_secret="t" * 32,
        bootstrap_key=ADMIN_KEY,
        storage={"backend": "postgres", "url": pg_url},  # type: ignore[arg-type]
        image_workers=0,
    )
    with TestClient(create_app(settings)) as c:
        yield c


def test_cases_and_dashboards_on_postgres(pg_client: TestClient, pg_url: str) -> None:
    c = pg_client
    csrf = _login(c)
    freeze = {"kind": "user", "value": "u2", "action": "review", "reason": "t"}
    assert c.post("/v1/rules/freezes", json=freeze, headers=AUTH).status_code == 201
    assert c.post("/v1/events", json=_event(2, "u2"), headers=AUTH).json()["decision"] == "review"
    case_id = re.findall(r"/console/cases/(C\d+)", c.get("/console/").text)[0]
    page = c.get(f"/console/cases/{case_id}").text
    assert "u2" in page and "Timeline" in page
    closed = c.post(
        f"/console/cases/{case_id}/act", data={"csrf": csrf, "action": "false_positive"}
    )
    assert "false positive" in closed.text
    with psycopg.connect(pg_url) as conn:
        labels = conn.execute("SELECT label, source FROM labels").fetchall()
        kinds = {r[0] for r in conn.execute("SELECT kind FROM audit_log")}
    assert set(labels) == {("legit", "confirmed_case")}
    assert {"read", "case_open", "case_close", "freeze", "label"} <= kinds
    dashboards = c.get("/console/dashboards")
    assert dashboards.status_code == 200 and "<svg" in dashboards.text
    emergency = c.post(
        "/console/emergency",
        data={"csrf": csrf, "kind": "device", "value": "d-1", "reason": "wave", "action": "block"},
    )
    assert emergency.status_code == 200 and "froze device" in emergency.text
