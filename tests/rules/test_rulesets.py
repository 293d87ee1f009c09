"""Rule sets: loading, validation (all problems at once), the default pack, the stage."""

from __future__ import annotations

import re

import pytest

from fengkong.decisions.types import Action, DecisionContext
from fengkong.rules import (
    DEFAULT_PACK,
    Freeze,
    FreezeTable,
    ListEntry,
    ListSnapshot,
    Problem,
    RuleSetInvalid,
    compile_ruleset,
    default_ruleset,
    parse_ruleset,
)
from fengkong.rules.stage import RulesStage
from fengkong.runtime import default_rule_names
from tests.rules.helpers import KNOWN, make_event


def _set(*rules: dict[str, object], **extra: object) -> dict[str, object]:
    return {"name": "t", "messages": {"scam": "Hang up."}, "rules": list(rules), **extra}


def test_all_problems_reported_with_suggestions() -> None:
    data = _set(
        {"name": "a", "when": "user.amount_zscore_3d > 4", "action": "review"},
        {"name": "b", "when": 'type == "tranfer"', "action": "block"},
        {"name": "c", "when": "amount >", "action": "block"},
        {"name": "a", "when": "amount > 1", "action": "block"},
        {"name": "d", "when": "amount > 1", "action": "warn:nomessage"},
        {"name": "e", "when": 'type == "login" and type == "payment"', "action": "review"},
    )
    with pytest.raises(RuleSetInvalid) as info:
        compile_ruleset(parse_ruleset(data), KNOWN)
    problems: dict[str | None, Problem] = {}
    for p in info.value.problems:
        problems.setdefault(p.rule, p)
    assert set(problems) == {"a", "b", "c", "d", "e"}
    assert "user.amount_zscore_30d" in problems["a"].suggestions
    assert "transfer" in problems["b"].suggestions
    assert "syntax" in problems["c"].message
    assert "unreachable" in problems["e"].message


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"name": "x", "when": "amount > 1", "action": "explode"}, "unknown action"),
        ({"name": "x", "when": "amount > 1", "action": ["review", "block"]}, "at most one"),
        ({"name": "x y", "when": "amount > 1", "action": "review"}, "name"),
        ({"name": "x", "when": "amount > 1", "action": "review", "status": "on"}, "status"),
        ({"name": "x", "when": "amount > 1", "action": "review", "score": 1e9}, "score"),
        ({"name": "x", "when": "amount > 1", "action": "review", "oops": 1}, "oops"),
    ],
)
def test_shape_errors(rule: dict[str, object], message: str) -> None:
    with pytest.raises(RuleSetInvalid) as info:
        parse_ruleset(_set(rule))
    assert any(message in str(p) for p in info.value.problems)


def test_toml_and_json_give_the_same_digest() -> None:
    toml = """
name = "t"
[messages]
scam = "Hang up."
[[rules]]
name = "r"
when = 'amount > 1'
action = "review"
"""
    a = parse_ruleset(toml, "toml")
    b = parse_ruleset(_set({"name": "r", "when": "amount > 1", "action": "review"}))
    assert a.digest() == b.digest()


def test_default_pack_compiles_and_is_described() -> None:
    # docs/rules.md's table is checked row by row in test_docs_match_pack.py.
    rs = default_ruleset()
    compiled = compile_ruleset(rs, default_rule_names())
    assert len([r for r in compiled.rules if r.status == "active"]) >= 30
    for rule in rs.rules:
        assert rule.description, rule.name
    assert DEFAULT_PACK.exists()


def test_default_pack_reads_only_documented_feature_names() -> None:
    names = set(default_rule_names())
    text = DEFAULT_PACK.read_text()
    for dotted in re.findall(
        r"\b(?:user|device|ip|ip24|phone|id_number|bank_card|merchant|"
        r"cp_account|graph)\.[a-z0-9_]+",
        text,
    ):
        assert dotted in names or dotted.startswith(("device.fingerprint", "device.key")), dotted


def _pack_stage(**kw: object) -> tuple[RulesStage, object]:
    compiled = compile_ruleset(default_ruleset(), default_rule_names(), version="test")
    return RulesStage(compiled, **kw), compiled  # type: ignore[arg-type]


def test_stage_scam_in_call_warns_and_challenges() -> None:
    stage, _ = _pack_stage()
    ev = make_event(
        type="account_change", amount=None, operation="close_credit_line", context={"in_call": True}
    )
    ctx = DecisionContext(ev)
    stage.run(ctx)
    assert ctx.versions["rules"] == "test"
    assert [w.code for w in ctx.warnings] == ["scam_close_credit_line"]
    assert "close your credit line" in ctx.warnings[0].message
    assert any(p.action is Action.CHALLENGE and p.challenge == "voice" for p in ctx.proposals)
    hit = next(h for h in ctx.explain["rules"] if h["rule"] == "close_credit_line_in_call")
    assert hit["values"]["context.in_call"] is True
    assert ctx.rule_points == 30
    # Without the call: the warning stands on its own, no challenge.
    quiet = DecisionContext(
        make_event(type="account_change", amount=None, operation="close_credit_line")
    )
    stage.run(quiet)
    assert [w.code for w in quiet.warnings] == ["scam_close_credit_line"]
    assert quiet.proposals == []


def test_stage_new_payee_after_change_reviews() -> None:
    stage, _ = _pack_stage()
    ctx = DecisionContext(
        make_event(counterparty={"account_id": "acc-9"}),
        features={
            "user.is_new_payee": True,
            "user.secs_since_account_change": 240.0,
            "user.last_account_change": "close_credit_line",
        },
    )
    stage.run(ctx)
    review = [p for p in ctx.proposals if p.action is Action.REVIEW]
    assert review and review[0].reason.name == "new_payee_after_sensitive_change"
    assert "user.secs_since_account_change=240.0" in review[0].reason.detail


def test_stage_shadow_rules_explain_but_do_not_act() -> None:
    stage, _ = _pack_stage()
    ctx = DecisionContext(
        make_event(type="register", amount=None), features={"graph.cluster_growth_24h": 50}
    )
    stage.run(ctx)
    assert ctx.proposals == [] and ctx.rule_points == 0
    assert [h["rule"] for h in ctx.explain["shadow"]] == ["ring_registration_shadow"]


def test_stage_lists_and_freezes() -> None:
    lists = ListSnapshot([ListEntry("blocked_ips", "9.9.9.9", added_at=0.0)])
    freezes = FreezeTable(
        [
            Freeze("user", "u1", "review", "fraud report", created_at=0.0),
            Freeze(
                "event_type", "withdrawal", "block", "incident", created_at=0.0, expires_at=50.0
            ),
        ]
    )
    stage, _ = _pack_stage(lists=lists, freezes=freezes, clock=lambda: 100.0)
    ctx = DecisionContext(make_event(type="payment", ip="9.9.9.9", user_id="u1"))
    stage.run(ctx)
    names = {p.reason.name: p.action for p in ctx.proposals}
    assert names["blocklisted_identifier"] is Action.BLOCK
    assert names["freeze:user"] is Action.REVIEW
    # The withdrawal freeze expired at 50: a withdrawal of another user is untouched.
    other = DecisionContext(make_event(type="withdrawal", user_id="u2"))
    stage.run(other)
    assert not any(p.reason.name.startswith("freeze") for p in other.proposals)


def test_disabled_rules_never_run() -> None:
    data = _set({"name": "off", "when": "amount > 1", "action": "block", "status": "disabled"})
    compiled = compile_ruleset(parse_ruleset(data), KNOWN)
    ctx = DecisionContext(make_event())
    RulesStage(compiled).run(ctx)
    assert ctx.proposals == [] and "rules" not in ctx.explain
