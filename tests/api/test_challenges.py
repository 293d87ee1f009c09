"""The step-up loop over HTTP: challenge → answers → the decision's final outcome."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from fengkong.api.app import create_app
from fengkong.identity.otp_sender import read_codes
from fengkong.settings import Settings
from tests.keys import AUTH

RULES = """
name = "step-up-test"

[[rules]]
name = "big_transfer"
description = "Large transfers need a step-up."
when = 'type == "transfer" and amount >= 1000'
action = "challenge:otp"
score = 10
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def sink(tmp_path: Path) -> Path:
    return tmp_path / "otp.jsonl"


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def client(settings: Settings, tmp_path: Path, sink: Path, clock: Clock) -> Iterator[TestClient]:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    settings.rules_path = rules
    settings.challenges.otp_sink = sink
    with TestClient(create_app(settings), headers=AUTH) as c:
        c.app.state.runtime.identity.service.clock = clock  # type: ignore[attr-defined]
        yield c


def _transfer(i: int, user: str = "u1", **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"t{i}",
        "type": "transfer",
        "user_id": user,
        "occurred_at": "2026-11-20T12:31:09+08:00",
        "amount": "5000",
        "ip": "203.0.113.7",
        "device": {"device_id": f"phone-of-{user}"},
        "counterparty": {"account_id": "acct-9"},
        **extra,
    }


def _challenged(client: TestClient, i: int, user: str = "u1") -> dict[str, Any]:
    r = client.post("/v1/events", json=_transfer(i, user))
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    assert body["decision"] == "challenge" and body["challenge"] == "otp"
    assert body["challenge_id"].startswith("ch_")
    return body


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_plain_decision_has_no_challenge_id(client: TestClient) -> None:
    r = client.post("/v1/events", json={**_transfer(1), "amount": "10"})
    assert r.json()["decision"] == "allow"
    assert "challenge_id" not in r.json()


def test_wrong_then_right_code_allows_the_held_action(client: TestClient, sink: Path) -> None:
    decision = _challenged(client, 1)
    cid = decision["challenge_id"]
    code = read_codes(sink)[cid]
    pending = client.get(f"/v1/decisions/{decision['event_id']}").json()["challenge_outcome"]
    assert pending["status"] == "pending" and pending["final_decision"] is None

    r = client.post(f"/v1/challenges/{cid}", json={"code": _wrong(code)})
    assert r.status_code == 200
    assert r.json()["verified"] is False and r.json()["attempts_left"] == 2

    r = client.post(f"/v1/challenges/{cid}", json={"code": code})
    assert r.status_code == 200
    assert r.json() | {"verified": True, "status": "passed", "final_decision": "allow"} == r.json()

    stored = client.get(f"/v1/decisions/{decision['event_id']}").json()
    assert stored["decision"] == "challenge" and stored["challenge_id"] == cid
    assert stored["challenge_outcome"]["status"] == "passed"
    assert stored["challenge_outcome"]["final_decision"] == "allow"

    # The same code (or any answer) again: refused, nothing changes.
    again = client.post(f"/v1/challenges/{cid}", json={"code": code})
    assert again.status_code == 409 and again.json()["status"] == "passed"


def test_a_retried_event_returns_the_same_challenge(client: TestClient, sink: Path) -> None:
    first = _challenged(client, 1)
    second = client.post("/v1/events", json=_transfer(1)).json()
    assert second["challenge_id"] == first["challenge_id"]
    assert len(read_codes(sink)) == 1


def test_a_code_of_another_challenge_does_not_match(client: TestClient, sink: Path) -> None:
    a = _challenged(client, 1)["challenge_id"]
    b = _challenged(client, 2)["challenge_id"]
    codes = read_codes(sink)
    if codes[a] != codes[b]:
        r = client.post(f"/v1/challenges/{b}", json={"code": codes[a]})
        assert r.json()["verified"] is False


def test_attempts_exhausted_blocks_and_counts_as_a_failure(client: TestClient, sink: Path) -> None:
    decision = _challenged(client, 1)
    cid = decision["challenge_id"]
    code = read_codes(sink)[cid]
    for left in (2, 1):
        r = client.post(f"/v1/challenges/{cid}", json={"code": _wrong(code)})
        assert r.json()["attempts_left"] == left
    r = client.post(f"/v1/challenges/{cid}", json={"code": _wrong(code)})
    assert r.json()["status"] == "failed" and r.json()["final_decision"] == "block"
    # The right code after the last attempt is refused.
    assert client.post(f"/v1/challenges/{cid}", json={"code": code}).status_code == 409
    outcome = client.get(f"/v1/decisions/{decision['event_id']}").json()["challenge_outcome"]
    assert outcome["final_decision"] == "block"

    # The next event of that user, device and IP sees the failure as a feature.
    nxt = client.post("/v1/events", json={**_transfer(2), "amount": "10"}).json()
    explained = client.get(f"/v1/decisions/{nxt['event_id']}?explain=true").json()
    features = explained["explain"]["features"]
    assert features["challenge.failed_user_24h"] == 1
    assert features["challenge.failed_device_24h"] == 1
    assert features["challenge.failed_ip_24h"] == 1
    assert features["challenge.device_bound"] is False


def test_expired_challenge_takes_no_answer(client: TestClient, sink: Path, clock: Clock) -> None:
    decision = _challenged(client, 1)
    cid = decision["challenge_id"]
    code = read_codes(sink)[cid]
    clock.now += 301
    r = client.post(f"/v1/challenges/{cid}", json={"code": code})
    assert r.status_code == 410
    assert r.json()["status"] == "expired" and r.json()["final_decision"] == "block"
    outcome = client.get(f"/v1/decisions/{decision['event_id']}").json()["challenge_outcome"]
    assert outcome["status"] == "expired"


def test_sweep_settles_expired_challenges(client: TestClient, clock: Clock) -> None:
    _challenged(client, 1)
    clock.now += 301
    service = client.app.state.runtime.identity.service  # type: ignore[attr-defined]
    assert service.sweep() == 1
    assert service.sweep() == 0


def test_a_passed_device_is_bound_to_the_account(client: TestClient, sink: Path) -> None:
    cid = _challenged(client, 1)["challenge_id"]
    client.post(f"/v1/challenges/{cid}", json={"code": read_codes(sink)[cid]})
    nxt = client.post("/v1/events", json={**_transfer(2), "amount": "10"}).json()
    features = client.get(f"/v1/decisions/{nxt['event_id']}?explain=true").json()["explain"][
        "features"
    ]
    assert features["challenge.device_bound"] is True
    assert features["challenge.bound_devices"] == 1
    assert features["challenge.failed_user_24h"] == 0


def test_malformed_answers_name_the_field_and_use_no_attempt(
    client: TestClient, sink: Path
) -> None:
    cid = _challenged(client, 1)["challenge_id"]
    for body in ({}, {"code": 123456}, {"code": "12ab56"}, {"code": "1234567"}):
        r = client.post(f"/v1/challenges/{cid}", json=body)
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "code"
    assert client.post(f"/v1/challenges/{cid}", content=b"[1]").status_code == 422
    assert client.post(f"/v1/challenges/{cid}", content=b"{no").status_code == 422
    assert client.get(f"/v1/challenges/{cid}").json()["attempts_left"] == 3
    assert client.post("/v1/challenges/ch_nope", json={"code": "123456"}).status_code == 404
    assert client.get("/v1/challenges/ch_nope").status_code == 404


def test_totp_users_answer_with_their_authenticator(client: TestClient, clock: Clock) -> None:
    enrolled = client.post("/v1/users/u7/totp")
    assert enrolled.status_code == 201
    totp = pyotp.TOTP(enrolled.json()["secret"])
    cid = _challenged(client, 1, user="u7")["challenge_id"]
    assert client.get(f"/v1/challenges/{cid}").json()["method"] == "totp"
    code = totp.at(clock.now)
    r = client.post(f"/v1/challenges/{cid}", json={"code": code})
    assert r.json()["status"] == "passed"

    # The same TOTP code on a second challenge within its 30 s: a replay, refused.
    cid2 = _challenged(client, 2, user="u7")["challenge_id"]
    r = client.post(f"/v1/challenges/{cid2}", json={"code": code})
    assert r.json()["verified"] is False and r.json()["status"] == "pending"
    clock.now += 30
    r = client.post(f"/v1/challenges/{cid2}", json={"code": totp.at(clock.now)})
    assert r.json()["status"] == "passed"


def test_failure_can_send_the_action_to_review(
    settings: Settings, tmp_path: Path, sink: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    settings.rules_path = rules
    settings.challenges.otp_sink = sink
    settings.challenges.on_fail = "review"
    settings.challenges.max_attempts = 1
    with TestClient(create_app(settings), headers=AUTH) as c:
        cid = _challenged(c, 1)["challenge_id"]
        code = read_codes(sink)[cid]
        r = c.post(f"/v1/challenges/{cid}", json={"code": _wrong(code)})
        assert r.json()["status"] == "failed" and r.json()["final_decision"] == "review"


def test_a_voice_challenge_is_answered_by_speaking(settings: Settings, sink: Path) -> None:
    from tests.identity.voices import utterance, wav_b64

    settings.voice.model = "mfcc"
    settings.challenges.otp_sink = sink
    owner, stranger = (110.0, 1.0), (230.0, 1.2)
    with TestClient(create_app(settings), headers=AUTH) as c:
        for i in range(3):
            check = {
                "event_id": f"v{i}",
                "type": "voice_check",
                "user_id": "u5",
                "occurred_at": "2026-11-21T10:00:00+08:00",
                "voice": {"audio_b64": wav_b64(utterance(*owner, seed=i))},
            }
            assert c.post("/v1/events", json=check).status_code == 200
        scam = {
            "event_id": "close-1",
            "type": "account_change",
            "user_id": "u5",
            "occurred_at": "2026-11-21T10:05:00+08:00",
            "operation": "close_credit_line",
            "context": {"in_call": True, "caller_in_contacts": False},
        }
        decision = c.post("/v1/events", json=scam).json()
        assert decision["decision"] == "challenge" and decision["challenge"] == "voice"
        cid = decision["challenge_id"]
        assert c.get(f"/v1/challenges/{cid}").json()["method"] == "voice"
        assert c.post(f"/v1/challenges/{cid}", json={"code": "123456"}).status_code == 422
        bad = c.post(f"/v1/challenges/{cid}", json={"audio_b64": "UklGRiQAAABXQVZF"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "audio_b64"
        r = c.post(f"/v1/challenges/{cid}", json={"audio_b64": wav_b64(utterance(*stranger, 9))})
        assert r.json()["verified"] is False
        r = c.post(f"/v1/challenges/{cid}", json={"audio_b64": wav_b64(utterance(*owner, 8))})
        assert r.json()["status"] == "passed"
        outcome = c.get("/v1/decisions/close-1").json()["challenge_outcome"]
        assert outcome["final_decision"] == "allow"


def test_the_default_pack_reviews_money_after_failed_challenges(
    settings: Settings, sink: Path
) -> None:
    settings.challenges.otp_sink = sink
    settings.challenges.max_attempts = 1
    with TestClient(create_app(settings), headers=AUTH) as c:
        for i in range(2):
            scam = {
                "event_id": f"close-{i}",
                "type": "account_change",
                "user_id": "u8",
                "occurred_at": "2026-11-21T10:05:00+08:00",
                "operation": "close_credit_line",
                "context": {"in_call": True, "caller_in_contacts": False},
            }
            cid = c.post("/v1/events", json=scam).json()["challenge_id"]
            code = read_codes(sink)[cid]
            assert (
                c.post(f"/v1/challenges/{cid}", json={"code": _wrong(code)}).json()["status"]
                == "failed"
            )
        r = c.post("/v1/events", json={**_transfer(9, "u8"), "amount": "300"}).json()
        assert r["decision"] == "review"
        assert "money_after_failed_challenges" in [x["name"] for x in r["reasons"]]


def test_totp_enrolment_is_guarded(settings: Settings) -> None:
    with TestClient(create_app(settings)) as c:
        assert c.post("/v1/users/u1/totp").status_code == 401
        made = c.post("/v1/keys", json={"name": "app", "roles": ["ingest"]}, headers=AUTH)
        ingest = {"Authorization": f"Bearer {made.json()['key']}"}
        assert c.post("/v1/users/u1/totp", headers=ingest).status_code == 403
        auth = AUTH
        assert c.post("/v1/users/u1/totp", headers=auth).status_code == 201
        # Replacing a second factor must be explicit.
        assert c.post("/v1/users/u1/totp", headers=auth).status_code == 409
        assert c.post("/v1/users/u1/totp?replace=true", headers=auth).status_code == 201
