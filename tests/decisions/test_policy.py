from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fengkong.decisions import Action, DecisionContext, Pipeline, Policy, PolicyConfig, Reason
from fengkong.events import Event


def _ctx() -> DecisionContext:
    return DecisionContext(
        Event(event_id="e", type="login", user_id="u", occurred_at=datetime.now(UTC))
    )


def test_nothing_proposed_is_allow() -> None:
    out = Policy().decide(_ctx())
    assert (out.action, out.challenge, out.score, out.reasons) == (Action.ALLOW, None, 0.0, ())


def test_most_severe_proposal_wins_and_every_reason_is_kept() -> None:
    ctx = _ctx()
    ctx.propose(Action.CHALLENGE, Reason("rule", "a"), "biometric")
    ctx.propose(Action.REVIEW, Reason("rule", "b"))
    ctx.reasons.append(Reason("model", "amount_high"))
    out = Policy().decide(ctx)
    assert out.action is Action.REVIEW
    assert out.challenge is None
    assert [r.name for r in out.reasons] == ["b", "a", "amount_high"]


def test_challenge_keeps_the_proposed_kind() -> None:
    ctx = _ctx()
    ctx.propose(Action.CHALLENGE, Reason("rule", "a"), "voice")
    assert Policy().decide(ctx).challenge == "voice"


@pytest.mark.parametrize(
    ("points", "action"),
    [(10, Action.ALLOW), (50, Action.CHALLENGE), (85, Action.REVIEW), (400, Action.BLOCK)],
)
def test_rule_points_cross_score_thresholds(points: float, action: Action) -> None:
    ctx = _ctx()
    ctx.rule_points = points
    out = Policy().decide(ctx)
    assert out.action is action
    assert out.score == min(1.0, points / 100)


def test_model_score_replaces_rule_points() -> None:
    ctx = _ctx()
    ctx.rule_points = 100
    ctx.model_score = 0.1
    assert Policy().decide(ctx).score == 0.1


def test_warnings_do_not_change_the_action() -> None:
    ctx = _ctx()
    ctx.warn("scam_close_credit_line", "hang up")
    ctx.warn("scam_close_credit_line", "hang up")
    decision, _ = Pipeline([_Fixed(ctx)]).evaluate(ctx.event)
    assert decision.decision is Action.ALLOW
    assert [w.code for w in decision.warnings] == ["scam_close_credit_line"]


class _Fixed:
    name = "fixed"

    def __init__(self, template: DecisionContext) -> None:
        self.template = template

    def run(self, ctx: DecisionContext) -> None:
        ctx.warnings.extend(self.template.warnings)


def test_thresholds_must_rise() -> None:
    with pytest.raises(ValueError, match="rise"):
        PolicyConfig(challenge_at=0.9, review_at=0.5)


def test_stage_names_must_be_unique() -> None:
    stage = _Fixed(_ctx())
    with pytest.raises(ValueError, match="unique"):
        Pipeline([stage, stage])


def test_maintain_reaches_stages_that_keep_state() -> None:
    calls: list[float] = []

    class Keeper:
        name = "keeper"

        def run(self, ctx: DecisionContext) -> None:
            return None

        def maintain(self, now: float) -> None:
            calls.append(now)

    Pipeline([Keeper(), _Fixed(_ctx())]).maintain(123.0)
    assert calls == [123.0]
