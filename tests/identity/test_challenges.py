"""Challenge service: RFC 6238 vectors through the TOTP path, hashing, settlement."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest

from fengkong.decisions import Action, Decision
from fengkong.events import Event
from fengkong.identity.challenges import (
    ChallengeClosed,
    ChallengeConfig,
    ChallengeService,
    Resolution,
)
from fengkong.identity.otp_sender import FileSender, read_codes
from fengkong.storage.challenges_sqlite import SQLiteChallengeStore

# RFC 6238 appendix B: SHA-1, the ASCII secret "12345678901234567890", 8 digits, 30 s.
RFC6238_SHA1 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _service(tmp_path: Path, clock: Clock, **config: object) -> ChallengeService:
    store = SQLiteChallengeStore(tmp_path / "c.db")
    sender = FileSender(tmp_path / "otp.jsonl")
    return ChallengeService(store, b"k" * 32, sender, ChallengeConfig(**config), clock)  # type: ignore[arg-type]


def _decision(event_id: str) -> tuple[Event, Decision]:
    event = Event.model_validate(
        {
            "event_id": event_id,
            "type": "login",
            "user_id": "u1",
            "occurred_at": datetime.now(UTC).isoformat(),
        }
    )
    decision = Decision(event_id, Action.CHALLENGE, "otp", 0.5, (), (), {}, 0.1)
    return event, decision


@pytest.mark.parametrize(("at", "code"), RFC6238_SHA1)
def test_rfc6238_vectors_pass_through_the_service(tmp_path: Path, at: int, code: str) -> None:
    clock = Clock(at)
    service = _service(tmp_path, clock, code_digits=8, totp_drift_steps=0)
    service.store.set_totp("u1", RFC_SECRET, 0.0)
    event, decision = _decision("e1")
    cid = service.issue(event, decision).challenge_id
    assert cid is not None and service.state(cid)["method"] == "totp"
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    assert service.answer(cid, {"code": wrong})["verified"] is False
    assert service.answer(cid, {"code": code})["status"] == "passed"


def test_codes_are_stored_only_hashed(tmp_path: Path) -> None:
    service = _service(tmp_path, Clock())
    event, decision = _decision("e1")
    cid = service.issue(event, decision).challenge_id
    assert cid is not None
    code = read_codes(tmp_path / "otp.jsonl")[cid]
    row = service.store.get(cid)  # type: ignore[attr-defined]
    assert row.code_hash is not None and code not in row.code_hash and len(row.code_hash) == 64
    assert code.encode() not in (tmp_path / "c.db").read_bytes()
    assert (tmp_path / "otp.jsonl").stat().st_mode & 0o077 == 0


def test_each_settlement_is_announced_once(tmp_path: Path) -> None:
    clock = Clock()
    service = _service(tmp_path, clock, max_attempts=1)
    seen: list[Resolution] = []
    service.listeners.append(seen.append)
    event, decision = _decision("e1")
    cid = service.issue(event, decision).challenge_id
    assert cid is not None
    service.answer(
        cid, {"code": "000000" if read_codes(tmp_path / "otp.jsonl")[cid] != "000000" else "111111"}
    )
    with pytest.raises(ChallengeClosed):
        service.answer(cid, {"code": "123456"})
    assert service.sweep() == 0
    assert [(r.status, r.final_decision, r.attempts) for r in seen] == [("failed", "block", 1)]


def test_challenge_ids_are_keyed_and_stable(tmp_path: Path) -> None:
    a = _service(tmp_path, Clock())
    assert a.challenge_id_for("e1") == a.challenge_id_for("e1") != a.challenge_id_for("e2")
    other = ChallengeService(a.store, b"x" * 32, a.sender)
    assert other.challenge_id_for("e1") != a.challenge_id_for("e1")


def test_failures_survive_a_restart(tmp_path: Path) -> None:
    from fengkong.runtime import build_runtime
    from fengkong.settings import Settings

    settings = Settings(db_path=tmp_path / "fk.db", token_secret="t" * 32)
    settings.challenges.otp_sink = tmp_path / "otp.jsonl"
    settings.challenges.max_attempts = 1
    rt = build_runtime(settings, server=True)
    try:
        assert rt.identity is not None
        service = rt.identity.service
        for i, good in enumerate((False, True)):
            event, decision = _decision(f"e{i}")
            event = event.model_copy(update={"device": None, "ip": "198.51.100.4"})
            cid = service.issue(event, decision).challenge_id
            assert cid is not None
            code = read_codes(tmp_path / "otp.jsonl")[cid]
            service.answer(cid, {"code": code if good else f"{(int(code) + 1) % 10**6:06d}"})
    finally:
        rt.close()
    again = build_runtime(settings)
    try:
        assert again.identity is not None
        outcomes = again.identity.outcomes
        assert outcomes.failures("user", "u1", now=time.time()) == 1
        assert outcomes.failures("ip", "198.51.100.4", now=time.time()) == 1
    finally:
        again.close()


class RecordingSender:
    sent: ClassVar[list[str]] = []

    def send(self, message: object) -> None:
        RecordingSender.sent.append(getattr(message, "challenge_id", ""))


def test_a_gateway_sender_is_plugged_by_name(tmp_path: Path) -> None:
    from fengkong.runtime_identity import open_identity
    from fengkong.settings import Settings

    settings = Settings(db_path=tmp_path / "fk.db", token_secret="t" * 32)
    settings.challenges.otp_sender = f"{__name__}:RecordingSender"
    identity = open_identity(settings, b"k" * 32)
    try:
        event, decision = _decision("e1")
        cid = identity.service.issue(event, decision).challenge_id
        assert RecordingSender.sent == [cid]
    finally:
        identity.close()
