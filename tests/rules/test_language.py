"""The grammar, the semantics (null handling, short-circuit, types) and every function."""

from __future__ import annotations

import math
from typing import Any

import pytest

from fengkong.rules import (
    CompileError,
    ListEntry,
    ListSnapshot,
    Resolver,
    RuleSyntaxError,
    compile_expression,
    parse,
)
from fengkong.rules.functions import FunctionError, check_pattern
from fengkong.rules.syntax import MAX_DEPTH, BoolOp, Compare, Name
from tests.rules.helpers import KNOWN, frame, make_event


def run(text: str, **kw: Any) -> Any:
    """Evaluate as a rule set does: the type index first, then the compiled test."""
    c = compile_expression(text, Resolver(KNOWN))
    fr = frame(**kw)
    if c.types is not None and str(fr.ev.type) not in c.types:
        return False
    return c.test(fr)


def test_precedence_and_binds_tighter_than_or() -> None:
    tree = parse("a or b and c")
    assert isinstance(tree, BoolOp) and tree.op == "or"
    assert isinstance(tree.items[1], BoolOp) and tree.items[1].op == "and"


def test_dotted_names_and_keywords_inside_names() -> None:
    tree = parse('device.fingerprint.platform == "android"')
    assert isinstance(tree, Compare) and isinstance(tree.left, Name)
    assert tree.left.path == "device.fingerprint.platform"
    assert isinstance(parse("android_count > 1"), Compare)  # `and` prefix is not a keyword


@pytest.mark.parametrize(
    "text",
    ["", "a <", "1 < 2 < 3", "(a", "a)", '"open', "a == = b", "a.b.", "$x", "a in"],
)
def test_syntax_errors(text: str) -> None:
    with pytest.raises(RuleSyntaxError):
        parse(text)


def test_nesting_is_bounded() -> None:
    with pytest.raises(RuleSyntaxError, match="nested"):
        parse("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(RuleSyntaxError, match="nested"):
        parse("not " * 200 + "a")


def test_string_escapes() -> None:
    assert run('attributes.s == "a\\"b"', event=make_event(attributes={"s": 'a"b'}))
    with pytest.raises(RuleSyntaxError, match="escape"):
        parse('a == "\\q"')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("amount > 4999.5", True),
        ("amount >= 5000 and amount <= 5000", True),
        ("amount != 5000", False),
        ("amount == 5000", True),
        ("amount * 2 - 1000 == 9000", True),
        ("amount / 4 == 1250", True),
        ("amount % 7 == 2", True),
        ("-amount < 0", True),
        ('type == "transfer"', True),
        ('type in ["payment", "transfer"]', True),
        ('type not in ["payment", "transfer"]', False),
        ("not amount > 1", False),
        ("true and not false", True),
        ("amount > 1 or missing_thing_never_read", None),  # unknown name: compile error
    ],
)
def test_operators(text: str, expected: bool | None) -> None:
    if expected is None:
        with pytest.raises(CompileError):
            run(text)
    else:
        assert run(text) is expected


def test_null_semantics() -> None:
    ev = make_event(type="login", amount=None)
    # Comparisons with a missing value are false, both ways.
    assert run("amount > 1", event=ev) is False
    assert run("amount <= 1", event=ev) is False
    assert run("amount != 1", event=ev) is False
    assert run("amount == null", event=ev) is True
    assert run("amount != null", event=ev) is False
    # Arithmetic on null is null; division by zero too.
    assert run("amount + 1 == null", event=ev) is True
    assert run("5 / (amount - amount) == null") is True
    # Missing nested objects, free-form attributes and features.
    assert run("context.in_call", event=ev) is False
    assert run("attributes.a.b == 1", event=ev) is False
    assert run("user.amount_zscore_30d > 3") is False
    assert run("not context.in_call", event=ev) is True


def test_features_then_facts_and_runtime_type_mismatch() -> None:
    assert run("user.amount_zscore_30d > 3", features={"user.amount_zscore_30d": 4.2})
    assert run("ip.is_datacenter", facts={"ip.is_datacenter": True})
    # A free-form value of another type than the comparison expects is just false.
    assert run("attributes.x > 5", event=make_event(attributes={"x": "text"})) is False
    assert run("attributes.x in [1, 2]", event=make_event(attributes={"x": [1]})) is False
    assert run("user.amount_zscore_30d > 3", features={"user.amount_zscore_30d": "4"}) is False


def test_short_circuit_skips_later_conjuncts() -> None:
    calls: list[str] = []

    class Spy(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            calls.append(key)
            return super().get(key, default)

    test = compile_expression("amount > 10000 and user.amount_zscore_30d > 3", Resolver(KNOWN))
    test.test(frame(features=Spy()))
    assert calls == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('amount > "x"', "cannot compare"),
        ("amount and true", "not true/false"),
        ('type == "tranfer"', "did you mean 'transfer'"),
        ('context.entry == "qrcode"', "context.entry"),
        ("user.amount_zscore_3d > 1", "did you mean 'user.amount_zscore_30d'"),
        ('type == "login" and type == "transfer"', "unreachable"),
        ('type in ["login"] and not type in ["login"]', "unreachable"),
        ("context.in_call > 1", "true/false"),
        ('amount in [1, "a"]', "list item"),
        ("amount in user.amount_mean_30d", "literal list"),
        ('list("x")', "after `in`"),
        ("nope(1)", "unknown function"),
        ("abs(1, 2)", "takes 1"),
        ('lower(amount) == "a"', "argument 1"),
        ("amount in [amount]", "constants"),
        ("hour_of_day", "is a function"),
        ('ip in list("bad name")', "bad list name"),
    ],
)
def test_compile_errors(text: str, message: str) -> None:
    with pytest.raises(CompileError, match=message):
        compile_expression(text, Resolver(KNOWN))


def test_type_guard_index_and_stripping() -> None:
    c = compile_expression('type == "transfer" and amount > 1', Resolver(KNOWN))
    assert c.types == frozenset({"transfer"})
    # The guard is stripped from the test: the index has already checked it.
    assert c.test(frame(make_event(type="payment"))) is True
    c2 = compile_expression('type != "login" or amount > 1', Resolver(KNOWN))
    assert c2.types is None


def test_explanation_lists_values_read() -> None:
    c = compile_expression(
        'type == "transfer" and context.in_call and amount > 3 * user.amount_mean_30d',
        Resolver(KNOWN),
    )
    fr = frame(make_event(context={"in_call": True}), features={"user.amount_mean_30d": 100.0})
    assert c.test(fr)
    assert c.explain(fr) == {
        "type": "transfer",
        "context.in_call": True,
        "amount": 5000.0,
        "user.amount_mean_30d": 100.0,
    }


# -- functions --------------------------------------------------------------------------
def test_list_membership_with_expiry() -> None:
    lists = ListSnapshot(
        [
            ListEntry("bad_ips", "1.2.3.4", added_at=100.0, expires_at=200.0),
            ListEntry("bad_users", "u1", added_at=0.0),
        ]
    )
    ev = make_event(ip="1.2.3.4")
    assert run('ip in list("bad_ips")', event=ev, lists=lists, now=150.0) is True
    assert run('ip in list("bad_ips")', event=ev, lists=lists, now=250.0) is False  # expired
    assert run('ip in list("bad_ips")', event=ev, lists=lists, now=50.0) is False  # not yet
    assert run('ip not in list("bad_ips")', event=ev, lists=lists, now=250.0) is True
    assert run('user_id in list("bad_users")', lists=lists, now=1e12) is True
    assert run('ip in list("nope")', event=ev, lists=lists) is False
    assert run('ip not in list("bad_ips")', lists=lists) is False  # ip missing: false


def test_distance() -> None:
    beijing_shanghai = "distance(39.9042, 116.4074, 31.2304, 121.4737)"
    ev = make_event(geo={"lat": 39.9042, "lon": 116.4074})
    assert run(f"{beijing_shanghai} > 1060 and {beijing_shanghai} < 1075")
    assert run("distance(geo.lat, geo.lon, 39.9042, 116.4074) < 0.001", event=ev)
    assert run("distance(geo.lat, geo.lon, 0, 0) == null")  # no geo on the event
    assert run("distance(0, 0, 0, 180) > 20000")


def test_time_functions_use_offset() -> None:
    ev = make_event(occurred_at="2026-11-20T23:30:00+00:00")  # a Friday, UTC
    assert run("hour_of_day() == 23", event=ev)
    assert run("day_of_week() == 5", event=ev)
    # At UTC+8 it is already 07:30 on Saturday.
    assert run("hour_of_day() == 7", event=ev, offset_s=8 * 3600)
    assert run("day_of_week() == 6", event=ev, offset_s=8 * 3600)
    sunday = make_event(occurred_at="2026-11-22T12:00:00+00:00")
    assert run("day_of_week() == 7", event=sunday)


def test_string_functions() -> None:
    ev = make_event(attributes={"note": "Safe Account 123"}, merchant_id="m-77")
    assert run('lower(attributes.note) == "safe account 123"', event=ev)
    assert run('startswith(merchant_id, "m-")', event=ev)
    assert run('endswith(merchant_id, "77")', event=ev)
    assert run('contains(lower(attributes.note), "safe")', event=ev)
    assert run("len(attributes.note) == 16", event=ev)
    assert run("len(lower(merchant_id)) == 4", event=ev)
    assert run('startswith(attributes.missing, "x")', event=ev) is False
    assert run('matches(attributes.note, "^Safe\\\\s+Acc")', event=ev)
    assert run('matches(attributes.note, "[0-9]{4}")', event=ev) is False
    assert run('matches(attributes.nope, "a")', event=ev) is False


def test_numeric_functions() -> None:
    assert run("min(amount, 10, 20) == 10")
    assert run("max(amount, 10) == 5000")
    assert run("abs(0 - amount) == 5000")
    assert run("min(amount, user.amount_mean_30d) == null")
    assert run("abs(attributes.x) == null", event=make_event(attributes={"x": "7"}))


def test_constant_folding_keeps_semantics() -> None:
    assert run("amount > 2 * 1000 + 500")
    assert run("1 / 0 == null")


@pytest.mark.parametrize(
    "pattern",
    [
        "(a+)+",
        "(a*)*b",
        "(a|aa)+",
        "(\\d+)*x",
        "(a)\\1",
        "(?=a)",
        "(?<=a)b",
        "a*b*c*d*",
        "(x+){2,}",
    ],
)
def test_catastrophic_regexes_are_rejected(pattern: str) -> None:
    with pytest.raises(FunctionError):
        check_pattern(pattern)


@pytest.mark.parametrize(
    "pattern", ["^abc", "[0-9]{6}", "(foo|bar)", "\\d+-\\d+", "(ab)?c+", "[(+*]+"]
)
def test_plain_regexes_are_accepted(pattern: str) -> None:
    check_pattern(pattern)


def test_regex_input_is_capped() -> None:
    ev = make_event(attributes={"s": "a" * 10_000 + "Z"})
    assert run('matches(attributes.s, "Z")', event=ev) is False  # beyond the 512-char cap
    assert run('matches(attributes.s, "^a+")', event=ev) is True


def test_no_python_evaluation() -> None:
    # Things that would run code under eval() are plain syntax errors or unknown names.
    for text in [
        "__import__('os').system('true')",
        "().__class__",
        "amount.__class__ == 1",
        "lambda: 1",
        "[x for x in y]",
        "exec('1')",
    ]:
        with pytest.raises((RuleSyntaxError, CompileError)):
            compile_expression(text, Resolver(KNOWN))
    assert math.isfinite(1.0)
