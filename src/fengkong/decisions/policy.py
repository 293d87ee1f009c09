"""The policy: turn the stages' proposals and the score into one answer.

The most severe proposal wins (allow < challenge < review < block); the score crosses
thresholds into further proposals; warnings accumulate; every reason is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from fengkong.decisions.types import (
    Action,
    ChallengeKind,
    DecisionContext,
    Proposal,
    Reason,
    ReasonSource,
)


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """Score thresholds (each in [0, 1]; ``None`` switches that step off)."""

    challenge_at: float | None = 0.5
    review_at: float | None = 0.8
    block_at: float | None = 0.95
    score_challenge: ChallengeKind = "otp"
    # Rule points that make a score of 1.0 when no model is active.
    points_for_full_score: float = 100.0

    def __post_init__(self) -> None:
        steps = [t for t in (self.challenge_at, self.review_at, self.block_at) if t is not None]
        if any(not 0.0 <= t <= 1.0 for t in steps):
            raise ValueError("policy thresholds must lie in [0, 1]")
        if steps != sorted(steps):
            raise ValueError("policy thresholds must rise: challenge_at ≤ review_at ≤ block_at")
        if self.points_for_full_score <= 0:
            raise ValueError("points_for_full_score must be > 0")


@dataclass(frozen=True, slots=True)
class Outcome:
    action: Action
    challenge: ChallengeKind | None
    score: float
    reasons: tuple[Reason, ...]


class Policy:
    """Combines proposals, score thresholds and reasons into an :class:`Outcome`."""

    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config or PolicyConfig()

    def score(self, ctx: DecisionContext) -> float:
        """The model's probability when a model scored, else the rules' points scaled."""
        if ctx.model_score is not None:
            return min(1.0, max(0.0, ctx.model_score))
        return min(1.0, max(0.0, ctx.rule_points / self.config.points_for_full_score))

    def _threshold_proposal(self, score: float, from_model: bool) -> Proposal | None:
        cfg = self.config
        for action, at in (
            (Action.BLOCK, cfg.block_at),
            (Action.REVIEW, cfg.review_at),
            (Action.CHALLENGE, cfg.challenge_at),
        ):
            if at is not None and score >= at:
                source: ReasonSource = "model" if from_model else "rule"
                reason = Reason(source, f"score_{action.label}", f"score {score:.3f} ≥ {at}")
                challenge = cfg.score_challenge if action is Action.CHALLENGE else None
                return Proposal(action, reason, challenge)
        return None

    def decide(self, ctx: DecisionContext) -> Outcome:
        score = self.score(ctx)
        proposals = list(ctx.proposals)
        by_score = self._threshold_proposal(score, ctx.model_score is not None)
        if by_score is not None:
            proposals.append(by_score)
        action = max((p.action for p in proposals), default=Action.ALLOW)
        challenge: ChallengeKind | None = None
        if action is Action.CHALLENGE:
            challenge = next(
                (p.challenge for p in proposals if p.action is action and p.challenge), "otp"
            )
        # Most severe first, then the order the stages spoke in; informational last.
        ranked = sorted(proposals, key=lambda p: -p.action)
        reasons = tuple(p.reason for p in ranked) + tuple(ctx.reasons)
        return Outcome(action, challenge, score, reasons)
