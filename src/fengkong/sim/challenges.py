"""Simulated people answering step-up challenges, over the real HTTP loop.

For every ``challenge`` decision the responder decides, from the event's label, whether
the person acting can answer: an honest customer has their phone, face and voice; an
attacker on someone else's account mostly has none of them; a fraudster on an account
they own may hold the SIM (code-receiving platforms) but not a stolen identity's face;
a scam victim is the real customer, so the challenge stops them only when the pause
and the warning make them hang up. The probabilities below are assumptions of the
simulator (docs/simulator.md), not measurements.

Someone who can answer posts the code the server sent (read from the demo's OTP sink);
someone who cannot posts wrong codes until the challenge fails. The final outcomes are
written as JSON Lines for ``fengkong evaluate --challenges``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import orjson

from fengkong.identity.otp_sender import read_codes

# P(the person acting answers correctly) by scenario and challenge kind.
HONEST: dict[str, float] = {"otp": 0.97, "biometric": 0.95, "voice": 0.93}
ATTACK: dict[str, dict[str, float]] = {
    # Someone else's account: no SIM (bar a SIM swap), not the owner's face or voice.
    "account_takeover": {"otp": 0.08, "biometric": 0.03, "voice": 0.02},
    # Owned accounts: SMS platforms give codes; stolen identities fail the face check.
    "batch_registration": {"otp": 0.35, "biometric": 0.10, "voice": 0.10},
    "cash_out_ring": {"otp": 0.30, "biometric": 0.20, "voice": 0.15},
    "fake_high_credit": {"otp": 0.30, "biometric": 0.15, "voice": 0.10},
    "layered_laundering": {"otp": 0.25, "biometric": 0.15, "voice": 0.10},
    "complaint_agents": {"otp": 0.20, "biometric": 0.10, "voice": 0.05},
    # Victims act themselves: the challenge stops them only if they hang up.
    "fake_customer_service": {"otp": 0.55, "biometric": 0.55, "voice": 0.50},
    "phishing_qr": {"otp": 0.60, "biometric": 0.60, "voice": 0.55},
}
UNKNOWN_ATTACK: dict[str, float] = {"otp": 0.20, "biometric": 0.10, "voice": 0.10}


def pass_probability(scenario: str | None, kind: str) -> float:
    if scenario is None:
        return HONEST.get(kind, HONEST["otp"])
    table = ATTACK.get(scenario, UNKNOWN_ATTACK)
    return table.get(kind, table["otp"])


def _draw(seed: int, event_id: str) -> float:
    digest = hashlib.blake2b(f"{seed}:{event_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _wrong(code: str) -> str:
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))


def fraud_events(labels: Path) -> dict[str, str]:
    """Fraud-labelled event ids and their scenario, from a labels file."""
    out: dict[str, str] = {}
    for line in labels.read_bytes().splitlines():
        if line.strip():
            lab = orjson.loads(line)
            if lab.get("label") == "fraud" and isinstance(lab.get("event_id"), str):
                out[lab["event_id"]] = str(lab.get("scenario") or "unknown")
    return out


class ChallengeResponder:
    """Answers a server's challenges as the simulated people would."""

    def __init__(
        self,
        fraud: dict[str, str],
        otp_sink: Path,
        seed: int = 0,
        chance: Callable[[str | None, str], float] = pass_probability,
    ) -> None:
        self.fraud = fraud
        self.otp_sink = otp_sink
        self.seed = seed
        self.chance = chance
        self.outcomes: list[dict[str, Any]] = []

    def answer_all(self, client: httpx.Client, decisions: Iterable[dict[str, Any]]) -> None:
        pending = [d for d in decisions if isinstance(d.get("challenge_id"), str)]
        if not pending:
            return
        codes = read_codes(self.otp_sink)
        for decision in pending:
            self._answer(client, decision, codes)

    def _answer(
        self, client: httpx.Client, decision: dict[str, Any], codes: dict[str, str]
    ) -> None:
        event_id, cid = str(decision["event_id"]), str(decision["challenge_id"])
        kind = str(decision.get("challenge") or "otp")
        scenario = self.fraud.get(event_id)
        state = client.get(f"/v1/challenges/{cid}").json()
        code = codes.get(cid)
        if state.get("status") == "pending" and code is not None:
            can = _draw(self.seed, event_id) < self.chance(scenario, kind)
            for _ in range(int(state.get("attempts_left", 0))):
                resp = client.post(
                    f"/v1/challenges/{cid}", json={"code": code if can else _wrong(code)}
                )
                state = (
                    resp.json()
                    if resp.status_code == 200
                    else client.get(f"/v1/challenges/{cid}").json()
                )
                if state.get("status") != "pending":
                    break
        self.outcomes.append(
            {
                "event_id": event_id,
                "challenge_id": cid,
                "kind": kind,
                "method": state.get("method"),
                "status": state.get("status"),
                "final_decision": state.get("final_decision"),
            }
        )

    def write(self, path: Path) -> None:
        with path.open("wb") as out:
            for outcome in self.outcomes:
                out.write(orjson.dumps(outcome) + b"\n")
