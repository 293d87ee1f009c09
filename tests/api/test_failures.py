"""Failure answers: a store that cannot commit, a saturated server."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fengkong.api.app import create_app
from fengkong.api.load import Admission, Overloaded
from fengkong.settings import Settings
from tests.keys import AUTH


@pytest.fixture()
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), headers=AUTH) as c:
        yield c


def _event(i: int) -> dict[str, Any]:
    return {
        "event_id": f"e{i}",
        "type": "payment",
        "user_id": "u1",
        "occurred_at": "2026-11-20T12:31:09+08:00",
        "amount": "38.50",
    }


def _break_writes(client: TestClient, monkeypatch: pytest.MonkeyPatch, message: str) -> None:
    store = client.app.state.runtime.store  # type: ignore[attr-defined]

    def full(*args: Any, **kwargs: Any) -> None:
        raise sqlite3.OperationalError(message)

    monkeypatch.setattr(store, "write", full)
    monkeypatch.setattr(store, "write_each", full)
    monkeypatch.setattr(store, "add_labels", full)


@pytest.mark.parametrize("message", ["database or disk is full", "database is locked"])
def test_a_store_that_cannot_commit_answers_503_and_health_degrades(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, message: str
) -> None:
    assert client.post("/v1/events", json=_event(1)).status_code == 200
    with monkeypatch.context() as patch:
        _break_writes(client, patch, message)
        for r in (
            client.post("/v1/events", json=_event(2)),
            client.post("/v1/events/batch", json=[_event(3), _event(4)]),
            client.post(
                "/v1/labels",
                json={"user_id": "u1", "label": "fraud", "source": "analyst", "at": "2026-11-20Z"},
            ),
        ):
            assert r.status_code in (503, 422), r.text
        r = client.post("/v1/events", json=_event(5))
        assert r.status_code == 503
        assert r.headers["retry-after"] == "1"
        assert message in r.json()["detail"]
        health = client.get("/healthz").json()
        assert health["status"] == "degraded"
        assert any(message in reason for reason in health["reasons"])
        assert client.get("/v1/decisions/e2").status_code == 404
    # Space is back: the retry is decided and stored, health is ok again.
    assert client.post("/v1/events", json=_event(2)).status_code == 200
    assert client.get("/v1/decisions/e2").status_code == 200
    assert client.get("/healthz").json()["status"] == "ok"


def test_a_damaged_read_is_503_not_500(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    store = client.app.state.runtime.store  # type: ignore[attr-defined]

    def damaged(*args: Any) -> None:
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(store, "decision", damaged)
    r = client.get("/v1/decisions/e1")
    assert r.status_code == 503
    assert "malformed" in client.get("/healthz").json()["reasons"][0]


def test_admission_sheds_beyond_the_cap_but_admits_a_lone_batch() -> None:
    gate = Admission(max_inflight=4)
    with gate.hold(1000), pytest.raises(Overloaded):  # alone: admitted though above the cap
        gate.hold(1).__enter__()
    with gate.hold(3), gate.hold(1):
        assert gate.overloaded() is not None
        with pytest.raises(Overloaded):
            gate.hold(1).__enter__()
    assert gate.inflight == 0 and gate.shed == 2


def test_a_lagging_event_loop_sheds_new_work() -> None:
    gate = Admission(max_inflight=100, max_lag_s=0.05)

    async def run() -> None:
        watcher = asyncio.create_task(gate.watch_lag(every_s=0.01))
        await asyncio.sleep(0.03)
        import time

        time.sleep(0.2)  # the loop stalls
        await asyncio.sleep(0.02)
        watcher.cancel()

    asyncio.run(run())
    assert gate.lag_s > 0.05
    with gate.hold(24), gate.hold(1):  # little in flight: the lag alone sheds nothing
        pass
    with gate.hold(25), pytest.raises(Overloaded):  # a quarter of the cap in flight
        gate.hold(1).__enter__()


def test_concurrent_requests_beyond_the_cap_are_shed_with_503(settings: Settings) -> None:
    import time

    import httpx

    settings.max_inflight = 3
    app = create_app(settings)

    async def run() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            store = app.state.runtime.store
            write = store.write

            def slow_write(records: Any) -> None:
                time.sleep(0.3)  # a slow disk: commits take long, requests pile up
                write(records)

            store.write = slow_write
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t", headers=AUTH
            ) as c:
                answers = await asyncio.gather(
                    *(c.post("/v1/events", json=_event(i)) for i in range(12))
                )
                stored = [(await c.get(f"/v1/decisions/e{i}")).status_code for i in range(12)]
            return [*answers, *stored]  # type: ignore[list-item]

    out = asyncio.run(run())
    answers, stored = out[:12], out[12:]
    codes = [r.status_code for r in answers]
    assert set(codes) == {200, 503}, codes
    assert 3 <= codes.count(200) < 12
    for r, found in zip(answers, stored, strict=True):
        assert (found == 200) == (r.status_code == 200)
        if r.status_code == 503:
            assert r.headers["retry-after"] == "1"
