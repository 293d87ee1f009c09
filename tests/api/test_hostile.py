"""Hostile and loose input: each case was a 500 or a silent wrong answer once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fengkong.api.app import create_app
from fengkong.settings import Settings
from tests.keys import AUTH

OVERFLOWS = ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"]


@pytest.fixture()
def client(settings: Settings) -> Iterator[TestClient]:
    settings.max_batch = 20
    with TestClient(create_app(settings), headers=AUTH) as c:
        yield c


def _event(i: int | str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"e{i}",
        "type": "payment",
        "user_id": "u1",
        "occurred_at": "2026-11-20T12:31:09+08:00",
        "amount": "38.50",
        **extra,
    }


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"x": value}
    return value


def _fields(r: Any) -> list[str]:
    return [d["field"] for d in r.json()["detail"]]


@pytest.mark.parametrize("at", OVERFLOWS)
def test_occurred_at_beyond_utc_is_422_on_single_and_batch(client: TestClient, at: str) -> None:
    r = client.post("/v1/events", json=_event(1, occurred_at=at))
    assert r.status_code == 422
    assert _fields(r) == ["occurred_at"]
    b = client.post("/v1/events/batch", json=[_event(2), _event(3, occurred_at=at)])
    assert b.status_code == 422
    assert _fields(b) == ["[1].occurred_at"]
    assert client.get("/v1/decisions/e2").status_code == 404


@pytest.mark.parametrize("at", OVERFLOWS)
def test_label_at_beyond_utc_is_422(client: TestClient, at: str) -> None:
    label = {"event_id": "e1", "label": "fraud", "source": "chargeback", "at": at}
    r = client.post("/v1/labels", json=label)
    assert r.status_code == 422
    assert _fields(r) == ["at"]


def test_occurred_at_far_ahead_or_before_the_floor_is_422(client: TestClient) -> None:
    ahead = client.post("/v1/events", json=_event(1, occurred_at="2100-01-01T00:00:00Z"))
    assert ahead.status_code == 422
    assert _fields(ahead) == ["occurred_at"]
    old = client.post("/v1/events", json=_event(2, occurred_at="1999-12-31T23:59:59Z"))
    assert old.status_code == 422
    # Real history stays accepted: public data sets start in 2010 and later.
    assert client.post("/v1/events", json=_event(3, occurred_at="2010-01-01T00:00:00Z")).is_success


@pytest.mark.parametrize("where", ["context", "attributes", "build_props"])
@pytest.mark.parametrize("depth", [40, 250, 256, 1020])
def test_deep_nesting_is_422_on_every_path(client: TestClient, where: str, depth: int) -> None:
    # Written by hand: JSON encoders stop far below 1,020 levels themselves.
    nested = b'{"x":' * depth + b"1" + b"}" * depth
    head = json.dumps(_event(1))[:-1].encode()
    if where == "build_props":
        event = head + b', "device": {"fingerprint": {"build_props": ' + nested + b"}}}"
    else:
        event = head + b', "' + where.encode() + b'": ' + nested + b"}"
    as_json = {"content-type": "application/json"}
    assert client.post("/v1/events", content=event, headers=as_json).status_code == 422
    batch = b"[" + json.dumps(_event(2)).encode() + b"," + event + b"]"
    r = client.post("/v1/events/batch", content=batch, headers=as_json)
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "limit_exceeded"
    assert client.get("/v1/decisions/e2").status_code == 404


def test_accepted_nesting_survives_a_restart(settings: Settings) -> None:
    event = _event(1, attributes=_nested(25))
    settings.snapshots = False  # the restart must parse the stored event again
    with TestClient(create_app(settings), headers=AUTH) as c:
        assert c.post("/v1/events", json=event).status_code == 200
    with TestClient(create_app(settings), headers=AUTH) as c:
        assert c.get("/healthz").json()["rebuilt_events"] == 1
        assert c.get("/v1/decisions/e1").status_code == 200


def test_a_directory_timezone_is_no_500_in_single_or_batch(client: TestClient) -> None:
    odd = _event(2, device={"fingerprint": {"timezone": "Asia"}}, geo={"lat": 31.2, "lon": 121.5})
    r = client.post("/v1/events/batch", json=[_event(1), odd])
    assert r.status_code == 200, r.text
    assert client.get("/v1/decisions/e1").status_code == 200
    assert client.get("/v1/decisions/e2").status_code == 200
    traversal = _event(3, device={"fingerprint": {"timezone": "../../etc"}}, geo=odd["geo"])
    assert client.post("/v1/events", json=traversal).status_code == 200


@pytest.mark.parametrize("n", ["99999999999999999999", "-1", "0"])
def test_huge_or_bad_rule_versions_are_4xx(client: TestClient, n: str) -> None:
    r = client.get(f"/v1/rules/versions/{n}")
    assert r.status_code in (404, 422), r.text
    roll = client.post("/v1/rules/rollback", json={"to": int(n)})
    assert roll.status_code in (404, 409, 422), roll.text


def test_an_event_id_with_a_slash_can_be_fetched(client: TestClient) -> None:
    assert client.post("/v1/events", json=_event("a/b")).status_code == 200
    r = client.get("/v1/decisions/ea/b")
    assert r.status_code == 200
    assert r.json()["event_id"] == "ea/b"


@pytest.mark.parametrize("bad", ["a b", "tab\there", "zero\u200bwidth", "nl\n"])
def test_ids_with_invisible_or_space_characters_are_422(client: TestClient, bad: str) -> None:
    r = client.post("/v1/events", json={**_event(1), "event_id": bad})
    assert r.status_code == 422
    assert _fields(r) == ["event_id"]


def test_the_same_amount_spelled_differently_is_the_same_event(client: TestClient) -> None:
    first = client.post("/v1/events", json=_event(1, amount="5")).json()
    assert client.post("/v1/events", json=_event(1, amount="5.0")).json() == first
    assert client.post("/v1/events", json=_event(1, amount=5)).json() == first
    assert client.post("/v1/events", json=_event(1, amount="5.00")).json() == first
    assert client.post("/v1/events", json=_event(1, amount="6")).status_code == 409


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_single_and_batch_refuse_non_finite_numbers_alike(
    client: TestClient, number: bytes
) -> None:
    event = (
        b'{"event_id":"e1","type":"payment","user_id":"u1","amount":"1",'
        b'"occurred_at":"2026-11-20T12:31:09+08:00","attributes":{"x":' + number + b"}}"
    )
    json_body = {"content-type": "application/json"}
    assert client.post("/v1/events", content=event, headers=json_body).status_code == 422
    batch = b"[" + event + b"]"
    assert client.post("/v1/events/batch", content=batch, headers=json_body).status_code == 422
    assert client.get("/v1/decisions/e1").status_code == 404


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"occurred_at": 1763613069}, "occurred_at"),
        ({"occurred_at": "1763613069"}, "occurred_at"),
        ({"context": {"in_call": "yes"}}, "context.in_call"),
        ({"context": {"in_call": 1}}, "context.in_call"),
        ({"amount": "1_000"}, "amount"),
        ({"amount": "１０００"}, "amount"),
        ({"amount": "٣"}, "amount"),
        ({"geo": {"lat": "31.2", "lon": 121.5}}, "geo.lat"),
    ],
)
def test_loose_inputs_are_refused(client: TestClient, extra: dict[str, Any], field: str) -> None:
    r = client.post("/v1/events", json=_event(1, **extra))
    assert r.status_code == 422, r.text
    assert _fields(r) == [field]


@pytest.mark.parametrize("kind", ["text/plain", "application/x-www-form-urlencoded"])
def test_non_json_bodies_are_415(client: TestClient, kind: str) -> None:
    for path in ("/v1/events", "/v1/events/batch", "/v1/labels", "/v1/rules/validate"):
        r = client.post(path, content=json.dumps(_event(1)), headers={"content-type": kind})
        assert r.status_code == 415, (path, r.status_code)
    assert client.get("/v1/decisions/e1").status_code == 404


def test_labels_are_bounded_and_stored_once(client: TestClient) -> None:
    label = {"user_id": "u1", "label": "fraud", "source": "analyst", "at": "2026-11-20T00:00:00Z"}
    assert client.post("/v1/labels", json=[label] * 21).status_code == 422
    assert client.post("/v1/labels", json=[label, label]).json() == {"stored": 1}
    assert client.post("/v1/labels", json=label).status_code == 201
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    assert len(list(rt.store.labels())) == 1


def test_405_names_the_allowed_methods(client: TestClient) -> None:
    r = client.get("/v1/events")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    assert client.delete("/v1/labels").headers["allow"] == "POST"


def test_docs_and_redoc_load_no_cdn(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "cdn." not in html and "fonts.googleapis" not in html
        for src in [part.split('"', 1)[0] for part in html.split('src="')[1:]]:
            if src.endswith(".js"):
                assert client.get(src).status_code == 200, src


def test_analyst_api_uses_the_same_parser_and_422_shape(client: TestClient) -> None:
    as_json = {"content-type": "application/json"}
    nan = client.post("/v1/rules/validate", content=b'{"rules": [NaN]}', headers=as_json)
    assert nan.status_code == 422
    assert isinstance(nan.json()["detail"], list)
    deep = b'{"x":' * 40 + b"1" + b"}" * 40
    assert client.post("/v1/rules/validate", content=deep, headers=as_json).status_code == 422
    for at in OVERFLOWS:
        r = client.post("/v1/rules/backtest", json={"events": [_event(1, occurred_at=at)]})
        assert r.status_code == 422, r.text
        assert _fields(r) == ["events[0].occurred_at"]
    bad = client.post("/v1/rules/validate", json={"rules": [{"name": "x", "when": "nope("}]})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "ruleset"
    freeze = {"kind": "moon", "value": "x", "reason": "r"}
    assert _fields(client.post("/v1/rules/freezes", json=freeze)) == ["kind"]
