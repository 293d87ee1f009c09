"""Failed challenges follow a real device, never a fingerprint shared by strangers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fengkong.decisions.types import DecisionContext
from fengkong.events import Device, parse_event
from fengkong.identity.device import client_device_key, device_facts
from fengkong.identity.outcomes import ChallengeFeaturesStage, ChallengeOutcomes

# One popular phone: every unit renders the same canvas and WebGL hashes.
POPULAR = {"platform": "android", "model": "Redmi Note 12", "canvas_hash": "c1", "webgl_hash": "w1"}
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp()


def _ctx(user: str, device: dict[str, Any]) -> DecisionContext:
    event = parse_event(
        {
            "event_id": f"t-{user}",
            "type": "transfer",
            "user_id": user,
            "occurred_at": "2026-11-20T12:00:00+00:00",
            "amount": "300",
            "device": device,
        }
    )
    ctx = DecisionContext(event)
    ctx.facts.update(device_facts(event.device, at=event.occurred_at))
    return ctx


def test_only_an_app_device_id_is_a_device_for_challenge_counts() -> None:
    assert client_device_key(Device.model_validate({"fingerprint": POPULAR})) is None
    own = Device.model_validate({"device_id": "a1f3c9e2b7", "fingerprint": POPULAR})
    assert client_device_key(own) is not None


def test_a_strangers_failures_on_the_same_phone_model_do_not_count() -> None:
    outcomes = ChallengeOutcomes()
    stage = ChallengeFeaturesStage(outcomes, clock=lambda: NOW)
    attacker = _ctx("u-attacker", {"fingerprint": POPULAR})
    stage.run(attacker)
    # What a failed challenge records for the attacker's device (no app id: none).
    for _ in range(3):
        outcomes.add_failure("u-attacker", client_device_key(attacker.event.device), None, NOW)
    honest = _ctx("u-honest", {"fingerprint": POPULAR})
    stage.run(honest)
    assert honest.features["challenge.failed_device_24h"] == 0
    # A real device id carries its failures to the next account on it.
    farm = {"device_id": "farm-phone-0001", "fingerprint": POPULAR}
    for _ in range(3):
        outcomes.add_failure("u-a", client_device_key(Device.model_validate(farm)), None, NOW)
    again = _ctx("u-b", farm)
    stage.run(again)
    assert again.features["challenge.failed_device_24h"] == 3
