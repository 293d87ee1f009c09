"""Simulated customers answer challenges over HTTP; evaluate reports the outcomes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient

from fengkong.api.app import create_app
from fengkong.evaluation.challenges import evaluate_challenges, format_challenges
from fengkong.settings import Settings
from fengkong.sim.challenges import ChallengeResponder, pass_probability
from tests.keys import AUTH

RULES = """
name = "sim-step-up"

[[rules]]
name = "big_transfer"
description = "Large transfers need a step-up."
when = 'type == "transfer" and amount >= 1000'
action = "challenge:otp"
score = 10
"""


def _transfer(i: int, user: str, amount: str) -> dict[str, Any]:
    return {
        "event_id": f"t{i}",
        "type": "transfer",
        "user_id": user,
        "occurred_at": "2026-11-20T12:31:09+08:00",
        "amount": amount,
        "counterparty": {"account_id": "acct-9"},
    }


def _lines(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def test_attackers_fail_honest_users_pass_and_the_money_is_counted(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "rules.toml").write_text(RULES)
    settings.rules_path = tmp_path / "rules.toml"
    settings.challenges.otp_sink = tmp_path / "otp.jsonl"
    events = [_transfer(1, "honest", "2000"), _transfer(2, "thief", "5000"), _transfer(3, "x", "5")]
    fraud = {"t2": "account_takeover"}
    responder = ChallengeResponder(
        fraud, tmp_path / "otp.jsonl", chance=lambda scenario, kind: 0.0 if scenario else 1.0
    )
    with TestClient(create_app(settings), headers=AUTH) as client:
        decisions = [client.post("/v1/events", json=e).json() for e in events]
        responder.answer_all(client, decisions)
    statuses = {o["event_id"]: (o["status"], o["final_decision"]) for o in responder.outcomes}
    assert statuses == {"t1": ("passed", "allow"), "t2": ("failed", "block")}

    responder.write(tmp_path / "challenges.jsonl")
    labels = [{"event_id": "t2", "label": "fraud", "scenario": "account_takeover"}]
    result = evaluate_challenges(
        _lines(tmp_path / "events.jsonl", events),
        _lines(tmp_path / "labels.jsonl", labels),
        tmp_path / "challenges.jsonl",
    )
    assert result.honest_pass_rate() == 1.0 and result.fraud_stopped == 1
    assert result.fraud_money_stopped == 5000.0
    assert "money stopped by challenges 5,000" in format_challenges(result)


def test_the_assumed_pass_rates_favour_honest_users() -> None:
    for kind in ("otp", "biometric", "voice"):
        assert pass_probability(None, kind) > 0.9
        assert pass_probability("account_takeover", kind) < 0.1
