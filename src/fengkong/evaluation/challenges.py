"""What step-up challenges did: money they held back, and what they cost honest users.

Input: the events, the labels and the final outcomes of the challenges (JSON Lines of
``{"event_id", "kind", "status", "final_decision"}``, as ``fengkong demo`` writes them
from ``GET /v1/challenges/{id}``). A fraud money event whose challenge did not pass was
stopped by the challenge; an honest event's challenge that passed cost the customer a
few seconds, one that failed cost them the action.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fengkong.evaluation.metrics import MONEY_TYPES, load_labels, read_jsonl


@dataclass
class ChallengeEvaluation:
    honest_issued: Counter[str] = field(default_factory=Counter)  # by kind
    honest_passed: Counter[str] = field(default_factory=Counter)
    fraud_issued: int = 0
    fraud_stopped: int = 0
    fraud_money_challenged: float = 0.0
    fraud_money_stopped: float = 0.0
    unanswered: int = 0

    def honest_pass_rate(self, kind: str | None = None) -> float:
        issued = sum(self.honest_issued.values()) if kind is None else self.honest_issued[kind]
        passed = sum(self.honest_passed.values()) if kind is None else self.honest_passed[kind]
        return passed / issued if issued else float("nan")

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if x != x else round(x, 6)

        return {
            "honest": {
                "issued": sum(self.honest_issued.values()),
                "pass_rate": num(self.honest_pass_rate()),
                "pass_rate_by_kind": {k: num(self.honest_pass_rate(k)) for k in self.honest_issued},
            },
            "fraud": {
                "issued": self.fraud_issued,
                "stopped": self.fraud_stopped,
                "money_challenged": round(self.fraud_money_challenged, 2),
                "money_stopped": round(self.fraud_money_stopped, 2),
            },
            "unanswered": self.unanswered,
        }


def evaluate_challenges(events: Path, labels: Path, outcomes: Path) -> ChallengeEvaluation:
    fraud_events, fraud_accounts = load_labels(labels)
    final = {str(o["event_id"]): o for o in read_jsonl(outcomes) if "event_id" in o}
    out = ChallengeEvaluation()
    for ev in read_jsonl(events):
        outcome = final.get(str(ev.get("event_id")))
        if outcome is None:
            continue
        status, kind = outcome.get("status"), str(outcome.get("kind") or "otp")
        if status == "pending":
            out.unanswered += 1
            continue
        passed = status == "passed"
        if ev.get("event_id") in fraud_events:
            out.fraud_issued += 1
            out.fraud_stopped += not passed
            if ev.get("type") in MONEY_TYPES:
                amount = float(ev.get("amount") or 0)
                out.fraud_money_challenged += amount
                if not passed:
                    out.fraud_money_stopped += amount
        elif ev.get("user_id") not in fraud_accounts:
            out.honest_issued[kind] += 1
            out.honest_passed[kind] += passed
    return out


def format_challenges(ev: ChallengeEvaluation) -> str:
    lines = ["", "Step-up challenges (final outcomes)"]
    honest = sum(ev.honest_issued.values())
    lines.append(
        f"  honest users: {honest} challenged, {ev.honest_pass_rate():.1%} passed"
        + "".join(
            f"; {k} {ev.honest_pass_rate(k):.1%} of {n}"
            for k, n in sorted(ev.honest_issued.items())
        )
    )
    share = ev.fraud_money_stopped / ev.fraud_money_challenged if ev.fraud_money_challenged else 0.0
    lines.append(
        f"  fraud: {ev.fraud_issued} challenged, {ev.fraud_stopped} stopped; money stopped by "
        f"challenges {ev.fraud_money_stopped:,.0f} of {ev.fraud_money_challenged:,.0f} "
        f"challenged ({share:.1%})"
    )
    if ev.unanswered:
        lines.append(f"  {ev.unanswered} challenges left unanswered")
    return "\n".join(lines)
