"""Regular expressions that cannot hang; analyst bodies that cannot exhaust memory."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from fengkong.rules.functions import MAX_MATCH_INPUT, FunctionError, check_pattern
from tests.keys import AUTH

ATTACK = ".{0,512}.{0,512}.{0,512}.{0,512}.{0,512}x"
# Stated bound: one `matches` over the longest text it ever sees (512 characters).
BOUND_S = 0.05


def test_the_bounded_repeat_attack_is_refused() -> None:
    with pytest.raises(FunctionError, match="repeats 2560 times"):
        check_pattern(ATTACK)


def test_publishing_it_is_a_422_naming_the_problem(client: TestClient) -> None:
    rules = {
        "name": "qr",
        "rules": [{"name": "slow", "when": f'matches(qr.payload, "{ATTACK}")', "action": "block"}],
    }
    r = client.post("/v1/rules/versions", json={"ruleset": rules}, headers=AUTH)
    assert r.status_code == 422
    assert "repeats 2560 times" in r.text


@pytest.mark.parametrize(
    "pattern", [".{0,128}.{0,128}x", ".{0,256}x", "[a-z.]{0,256}z", "a.*b.*c", "(foo|bar)baz+"]
)
def test_the_costliest_accepted_patterns_stay_within_the_bound(pattern: str) -> None:
    search = check_pattern(pattern).search
    worst = 0.0
    for text in ("a" * MAX_MATCH_INPUT, "ab" * (MAX_MATCH_INPUT // 2), "." * MAX_MATCH_INPUT):
        started = time.perf_counter()
        search(text)
        worst = max(worst, time.perf_counter() - started)
    assert worst < BOUND_S, f"{pattern}: {worst * 1000:.1f} ms"


def test_an_80_character_qr_payload_no_longer_freezes_the_server(client: TestClient) -> None:
    rules = {
        "name": "qr",
        "rules": [
            {"name": "long", "when": 'matches(qr.payload, ".{0,128}.{0,128}x")', "action": "review"}
        ],
    }
    assert (
        client.post("/v1/rules/versions", json={"ruleset": rules}, headers=AUTH).status_code == 201
    )
    event = {
        "event_id": "q1",
        "type": "qr_scan",
        "user_id": "u1",
        "occurred_at": "2026-11-20T12:31:09+08:00",
        "qr": {"payload": "a" * 80},
    }
    started = time.perf_counter()
    assert client.post("/v1/events", json=event, headers=AUTH).status_code == 200
    assert time.perf_counter() - started < 1.0


def test_analyst_bodies_are_capped(client: TestClient) -> None:
    huge = b'{"values": ["' + b"x" * (17 * 1024 * 1024) + b'"]}'
    r = client.post(
        "/v1/rules/lists/big", content=huge, headers={**AUTH, "content-type": "application/json"}
    )
    assert r.status_code == 413

    def chunks():  # no content-length: counted as it streams
        yield b'{"values": ["'
        for _ in range(17):
            yield b"x" * (1024 * 1024)
        yield b'"]}'

    r = client.post(
        "/v1/rules/lists/big",
        content=chunks(),
        headers={**AUTH, "content-type": "application/json"},
    )
    assert r.status_code == 413
