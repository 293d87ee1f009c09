from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fengkong.credit.offer import OfferPolicy, make_offer
from fengkong.credit.stage import CreditStage
from fengkong.credit.train import fit_scorecard
from fengkong.decisions import Action, DecisionContext, Pipeline, Reason
from fengkong.events import parse_event

POLICY = OfferPolicy()


def _offer(pd: float, **kw: Any) -> Any:
    args: dict[str, Any] = {
        "pd": pd,
        "score": 600.0,
        "requested": 20000.0,
        "term_months": 24,
        "annual_income": 240000.0,
        "exposure": 0.0,
    }
    return make_offer(POLICY, **{**args, **kw})


def test_rate_is_cost_of_funds_plus_expected_loss_plus_costs_plus_margin() -> None:
    offer = _offer(0.04)
    assert offer.decision == "approve" and offer.tier == "B"
    expected = POLICY.cost_of_funds + 0.04 * POLICY.lgd + POLICY.operating_cost + 0.030
    assert offer.annual_rate == pytest.approx(expected)
    assert offer.limit == 20000.0 and offer.term_months == 24


def test_limit_follows_pd_income_and_exposure() -> None:
    # Tier D lends up to 1.5 monthly incomes: 1.5 * 240000 / 12 = 30000; term capped at 12.
    d = _offer(0.15, requested=50000.0)
    assert (d.tier, d.limit, d.term_months) == ("D", 30000.0, 12)
    assert "limit_capped_by_income" in d.reasons and "term_capped" in d.reasons
    # Debt-to-income: 0.5 * 240000 - 115000 = 5000 left.
    e = _offer(0.01, exposure=115000.0)
    assert e.limit == 5000.0 and "limit_capped_by_debt" in e.reasons
    assert _offer(0.01, exposure=119800.0).decision == "decline"  # below the minimum limit
    assert _offer(0.5).decision == "decline"  # PD above every tier
    assert _offer(0.2).decision == "review"  # tier E is manual
    assert _offer(0.01, annual_income=None).decision == "review"


def test_a_fraud_signal_overrides_the_best_credit() -> None:
    assert _offer(0.001, fraud=[("shared_device", "review")]).decision == "review"
    declined = _offer(0.001, fraud=[("device_farm", "decline")])
    assert declined.decision == "decline" and declined.limit == 0.0
    assert "fraud_device_farm" in declined.reasons


def _event(kind: str = "credit_application", **extra: Any) -> Any:
    body: dict[str, Any] = {
        "event_id": "a1",
        "type": kind,
        "user_id": "u1",
        "occurred_at": datetime(2026, 11, 1, tzinfo=UTC).isoformat(),
        **extra,
    }
    return parse_event(body)


APP = {
    "requested_amount": "10000",
    "term_months": 12,
    "stated_income": "300000",
    "applicant": {"income": 200000.0, "age": 50.0, "debt_ratio": 0.1, "housing": "own"},
}


def test_stage_offers_and_fraud_signals_turn_it_into_review_or_decline(applicants: Any) -> None:
    card = fit_scorecard(applicants, 0.05, "woe", 1.0)
    stage = CreditStage(card)
    ctx = DecisionContext(_event(application=APP))
    stage.run(ctx)
    assert ctx.offer is not None and ctx.offer["decision"] == "approve"
    assert not ctx.proposals
    assert any(r.name == "credit_approve" for r in ctx.reasons)

    # The same applicant from a device that registered many accounts today.
    ctx = DecisionContext(_event(application=APP))
    ctx.features["device.accounts_registered_24h"] = 5
    stage.run(ctx)
    assert ctx.offer["decision"] == "decline"
    assert max(p.action for p in ctx.proposals) is Action.BLOCK

    # Account takeover signs: new device in a new city.
    ctx = DecisionContext(_event(application=APP))
    ctx.features.update({"user.is_new_device": True, "user.is_new_city": True})
    stage.run(ctx)
    assert ctx.offer["decision"] == "review"

    # A fraud stage before this one already asked for review.
    ctx = DecisionContext(_event(application=APP))
    ctx.propose(Action.REVIEW, Reason("rule", "some_fraud_rule"))
    stage.run(ctx)
    assert ctx.offer["decision"] == "review"
    assert "fraud_some_fraud_rule" in ctx.offer["reasons"]


def test_raise_limit_goes_through_the_same_policy(applicants: Any) -> None:
    card = fit_scorecard(applicants, 0.05, "woe", 1.0)
    pipeline = Pipeline([CreditStage(card)])
    decision, _ = pipeline.evaluate(_event(application=APP))
    assert decision.offer is not None
    raise_limit = _event("account_change", event_id="a2", operation="raise_limit")
    decision, _ = pipeline.evaluate(raise_limit)
    assert decision.offer is not None and decision.offer["limit"] > 0
    other = _event("account_change", event_id="a3", operation="change_phone")
    assert pipeline.evaluate(other)[0].offer is None
    # Without a champion scorecard an application goes to a person.
    decision, _ = Pipeline([CreditStage(None)]).evaluate(_event(application=APP))
    assert decision.decision is Action.REVIEW and decision.offer is None


def test_policy_from_toml(tmp_path: Any) -> None:
    from fengkong.credit.offer import load_policy

    path = tmp_path / "policy.toml"
    path.write_text(
        "cost_of_funds = 0.05\nmax_rate = 0.3\n"
        '[[tiers]]\nname = "X"\nmax_pd = 0.5\nmargin = 0.01\n'
        "income_multiple = 2.0\nmax_term_months = 6\n"
    )
    policy = load_policy(path)
    offer = make_offer(
        policy, pd=0.1, score=1, requested=1000, term_months=12, annual_income=1e5, exposure=0
    )
    assert offer.tier == "X" and offer.term_months == 6
    assert offer.annual_rate == pytest.approx(0.05 + 0.1 * 0.6 + 0.02 + 0.01)
    path.write_text("cost_of_fund = 1\n")
    with pytest.raises(ValueError, match="cost_of_fund"):
        load_policy(path)


def test_inlined_fraud_signals_match_the_conditions() -> None:
    cases: list[dict[str, Any]] = [
        {},
        {"device.is_emulator": True},
        {"device.is_emulator": 1},
        {"device.accounts_registered_24h": 3, "phone.accounts_7d": 1},
        {"device.accounts_registered_24h": True, "user.distinct_devices_1h": "7"},
        {"user.is_new_device": True, "user.is_new_city": True},
        {"user.is_new_device": True, "user.is_new_city": None},
        {"user.secs_since_account_change": 10.5, "ip.is_datacenter": False},
        {"id_number.accounts_30d": 2.0, "device.distinct_users_30d": 9},
    ]
    for features in cases:
        for facts in ({}, {"ip.is_datacenter": True, "user.is_new_city": True}):
            ctx = DecisionContext(_event(application=APP))
            ctx.features.update(features)
            ctx.facts.update(facts)
            want = [(s.name, s.outcome) for s in POLICY.fraud(ctx.value)]
            assert POLICY.fraud_in(ctx.features, ctx.facts) == want
    ctx = DecisionContext(_event(application=APP))
    ctx.features.update({"user.is_impossible_travel": True, "phone.accounts_7d": 5})
    assert POLICY.fraud_in(ctx.features, ctx.facts) == [
        ("shared_phone", "review"),
        ("impossible_travel", "decline"),
    ]
