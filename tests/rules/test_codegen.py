"""The generated per-event-type functions hit exactly what the closures hit.

Over the default pack and random events and values near its thresholds, over random
rules of every node shape, and over the demo stream: same hits in the same order, so
the same values, reasons and decisions.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fengkong.decisions.types import DecisionContext
from fengkong.events import Event, EventType
from fengkong.events.models import Context, Device, Fingerprint
from fengkong.rules import (
    CompiledRuleSet,
    ListEntry,
    ListSnapshot,
    Resolver,
    RuleSet,
    codegen,
    compile_ruleset,
    default_ruleset,
)
from fengkong.rules.schema import EVENT_PATHS, Frame
from fengkong.rules.stage import apply_hits
from fengkong.rules.syntax import Const, Node
from fengkong.runtime import default_rule_names
from tests.rules.helpers import KNOWN, make_event, spy_on_dynamic_code

PACK = compile_ruleset(default_ruleset(), default_rule_names())
_GENERATED = CompiledRuleSet.evaluate  # the demo-stream test wraps it


def _nodes(node: Node) -> list[Node]:
    out = [node]
    for f in dataclasses.fields(node):
        v = getattr(node, f.name)
        for child in v if isinstance(v, tuple) else (v,):
            if isinstance(child, Node):
                out += _nodes(child)
    return out


def _constants(rs: CompiledRuleSet) -> list[Any]:
    found = {
        (type(n.value), n.value)
        for r in rs.rules
        if r.expr.condition is not None
        for n in _nodes(r.expr.condition)
        if isinstance(n, Const) and n.value is not None
    }
    return sorted((v for _, v in found), key=repr)


def _value(consts: list[Any]) -> st.SearchStrategy[Any]:
    numbers = [0, 1, *(c for c in consts if isinstance(c, int | float) and not isinstance(c, bool))]
    texts = ["a", *(c for c in consts if isinstance(c, str))]
    near = st.sampled_from(numbers).flatmap(
        lambda c: st.sampled_from([c, c - 1, c + 1, c * 0.5, c * 2, -c, 0, float(c) + 1e-9])
    )
    return st.one_of(
        st.none(),
        st.booleans(),
        near,
        st.sampled_from(texts),
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=4),
        st.lists(st.integers(), max_size=2),
    )


def _names(rs: CompiledRuleSet) -> list[str]:
    return sorted({n for r in rs.rules for n, _ in r.expr.reads if n not in EVENT_PATHS})


def _frames(rs: CompiledRuleSet) -> st.SearchStrategy[Frame]:
    return _frames_of(tuple(_names(rs)), tuple(_constants(rs)))


@st.composite
def _frames_of(draw: st.DrawFn, names: tuple[str, ...], consts: tuple[Any, ...]) -> Frame:
    values = _value(list(consts))
    features: dict[str, Any] = {}
    facts: dict[str, Any] = {}
    for name in names:
        where = draw(st.sampled_from(["feat", "facts", "both", "neither"]))
        if where in ("feat", "both"):
            features[name] = draw(values)
        if where in ("facts", "both"):
            facts[name] = draw(values)
    texts = st.sampled_from([c for c in consts if isinstance(c, str)] + ["x"])
    amount = draw(st.one_of(st.none(), st.decimals(0, 10**6, places=2)))
    fingerprint = Fingerprint.model_construct(
        platform=draw(st.none() | texts), is_emulator=draw(st.none() | st.booleans())
    )
    event = Event.model_construct(
        event_id="e1",
        type=draw(st.sampled_from(list(EventType))),
        occurred_at=datetime(2026, 11, 20, draw(st.integers(0, 23)), tzinfo=UTC),
        user_id="u1",
        ip=draw(st.none() | st.sampled_from(["1.2.3.4", "10.0.0.1"])),
        amount=None if amount is None else Decimal(amount),
        operation=draw(st.none() | texts),
        device=draw(st.none() | st.just(Device.model_construct(fingerprint=fingerprint))),
        context=draw(
            st.none()
            | st.builds(
                lambda call, entry: Context.model_construct(in_call=call, entry=entry),
                st.none() | st.booleans(),
                st.none() | texts,
            )
        ),
        attributes=draw(st.none() | st.fixed_dictionaries({"purpose": values})),
    )
    lists = ListSnapshot([ListEntry("blocked_ips", "1.2.3.4", 0.0)])
    return Frame(event, features, facts, lists, 1.0e9, 8 * 3600.0)


def _outcome(evaluate: Any, frame: Frame) -> Any:
    try:
        return evaluate(frame)
    except Exception as exc:  # a value of another type than declared: raises in both
        return type(exc)


def _same(rs: CompiledRuleSet, frame: Frame) -> list[str]:
    """Both evaluators agree, down to the values and reasons the hits produce."""
    got = _outcome(lambda fr: _GENERATED(rs, fr), frame)
    want = _outcome(rs.evaluate_generic, frame)
    if not isinstance(want, list):
        assert got is want
        return []
    assert [r.name for r in got] == [r.name for r in want]
    contexts = []
    for hits in (got, want):
        ctx = DecisionContext(getattr(frame.ev, "event", frame.ev))  # fields in the pipeline
        apply_hits(ctx, rs, hits, frame)
        contexts.append((ctx.explain, ctx.reasons, ctx.proposals, ctx.warnings, ctx.rule_points))
    assert repr(contexts[0]) == repr(contexts[1])
    return [r.name for r in got]


def test_the_default_pack_is_generated_for_every_type() -> None:
    assert set(PACK.inlined) == {t.value for t in EventType}
    # Only rules reading a named list or a free-form attribute call a closure.
    for event_type, rules in PACK.by_type.items():
        calling = [
            r
            for r in rules
            if r.expr.lists or any(n.startswith("attributes.") for n, _ in r.expr.reads)
        ]
        assert PACK.inlined[event_type] == len(rules) - len(calling), event_type


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_frames(PACK))
def test_default_pack_same_hits_on_random_events(frame: Frame) -> None:
    _same(PACK, frame)


# -- random rules of every shape ---------------------------------------------------------
_OPERANDS = [
    "amount",
    "type",
    "operation",
    "context.in_call",
    "context.entry",
    "device.fingerprint.platform",
    "device.fingerprint.is_emulator",
    "attributes.purpose",
    "user.amount_mean_30d",
    "user.amount_zscore_30d",
    "user.is_new_payee",
    "user.secs_since_account_change",
    "user.last_account_change",
    "ip.is_datacenter",
    "device.key",
    "1",
    "2.5",
    "0",
    '"a"',
    '"transfer"',
    "true",
    "null",
    "hour_of_day()",
    "abs(user.amount_zscore_30d)",
    "lower(device.key)",
]


def _expressions() -> st.SearchStrategy[str]:
    leaf = st.sampled_from(_OPERANDS)

    def grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        two = st.tuples(inner, inner)
        return st.one_of(
            st.builds(
                lambda p, op: f"({p[0]} {op} {p[1]})",
                two,
                st.sampled_from(
                    ["==", "!=", "<", "<=", ">", ">=", "and", "or", "+", "-", "*", "/", "%"]
                ),
            ),
            inner.map(lambda e: f"(not {e})"),
            inner.map(lambda e: f"(-{e})"),
            st.builds(
                lambda e, neg, items: f"({e} {'not in' if neg else 'in'} [{items}])",
                inner,
                st.booleans(),
                st.sampled_from(['"a", "b"', "1, 2.5", '"transfer", "login"', "true"]),
            ),
            inner.map(lambda e: f'({e} in list("blocked_ips"))'),
        )

    return st.recursive(leaf, grow, max_leaves=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_expressions(), min_size=1, max_size=12), st.data())
def test_random_rules_same_hits(texts: list[str], data: st.DataObject) -> None:
    rules = [{"name": f"r{i}", "when": t, "action": "review"} for i, t in enumerate(texts)]
    valid = []
    for rule in rules:  # keep those the compiler accepts (types must agree)
        try:
            compile_ruleset(RuleSet.model_validate({"rules": [rule]}), KNOWN)
        except ValueError:
            continue
        valid.append(rule)
    assume(valid)
    rs = compile_ruleset(RuleSet.model_validate({"rules": valid}), KNOWN)
    for _ in range(5):
        _same(rs, data.draw(_frames(rs)))


# -- fallbacks ---------------------------------------------------------------------------
def _ruleset(*whens: str) -> CompiledRuleSet:
    rules = [{"name": f"r{i}", "when": w, "action": "review"} for i, w in enumerate(whens)]
    return compile_ruleset(RuleSet.model_validate({"rules": rules}), KNOWN)


def test_deep_rules_call_their_closure() -> None:
    deep = "not " * (codegen.MAX_INLINE_DEPTH + 2) + "ip.is_datacenter"
    rs = _ruleset(deep, "ip.is_datacenter")
    assert rs.inlined["transfer"] == 1  # the shallow one only
    for dc in (True, False, None):
        frame = Frame(make_event(), {}, {"ip.is_datacenter": dc})
        _same(rs, frame)


def test_nested_paths_and_lists_call_their_closure() -> None:
    rs = _ruleset('attributes.a.b == "x"', 'ip in list("blocked_ips")', "amount > 10")
    assert rs.inlined["transfer"] == 1
    lists = ListSnapshot([ListEntry("blocked_ips", "1.2.3.4", 0.0)])
    for attrs in (None, {"a": {"b": "x"}}, {"a": "x"}, {"a": {"b": ["x"]}}):
        event = make_event(ip="1.2.3.4", attributes=attrs)
        hits = _same(rs, Frame(event, {}, {}, lists, 1.0))
        assert ("r0" in hits) is (attrs == {"a": {"b": "x"}}) and "r1" in hits


def test_a_type_whose_function_does_not_compile_uses_the_closures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: Any) -> Any:
        raise SyntaxError("too many nested parentheses")

    monkeypatch.setattr(codegen, "compile", refuse, raising=False)
    rs = _ruleset("amount > 10", 'type == "login"')
    assert rs.inlined == {}
    assert _same(rs, Frame(make_event(), {}, {})) == ["r0"]


def test_without_a_resolver_the_closures_run() -> None:
    rs = CompiledRuleSet(PACK.source, PACK.version, PACK.rules)
    assert rs.inlined == {}
    frame = Frame(make_event(), {"user.amount_zscore_30d": 9.0}, {})
    assert [r.name for r in rs.evaluate(frame)] == [r.name for r in PACK.evaluate(frame)]


def test_names_and_texts_never_enter_the_source() -> None:
    """A hostile-looking constant stays a value: the source only holds K names."""
    rs = _ruleset('device.key == "\\") or __import__(\'os\') or ("')
    hostile = "\") or __import__('os') or ("
    assert _same(rs, Frame(make_event(), {"device.key": hostile}, {})) == ["r0"]
    assert _same(rs, Frame(make_event(), {"device.key": "os"}, {})) == []
    assert Resolver(KNOWN).resolve("device.key").source == "feature"


# -- the demo stream ---------------------------------------------------------------------
def test_demo_stream_same_hits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.integration.golden import digests, stream

    seen = {"events": 0, "hits": 0}

    def both(self: CompiledRuleSet, frame: Frame) -> list[Any]:
        assert self.inlined, "the runtime's rule set runs generated functions"
        names = _same(self, frame)
        seen["events"] += 1
        seen["hits"] += len(names)
        return _GENERATED(self, frame)

    monkeypatch.setattr(CompiledRuleSet, "evaluate", both)
    digests(tmp_path / "golden.db", stream())
    assert seen["events"] > 2000 and seen["hits"] > 100


def test_generated_source_holds_no_text_of_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only fixed words, whitelisted event attributes and K/t names: no literal at all."""
    import builtins
    import io
    import keyword
    import re
    import tokenize

    sources: list[str] = []
    real = builtins.compile

    def spy(source: str, *args: Any) -> Any:
        sources.append(source)
        return real(source, *args)

    monkeypatch.setattr(codegen, "compile", spy, raising=False)
    rules = [r.model_dump() for r in default_ruleset().rules]
    rules.append(
        {
            "name": "x",
            "when": "device.key == \"__import__('os')\" or amount > 1e3",
            "action": "review",
        }
    )
    compile_ruleset(
        RuleSet.model_validate({"rules": rules, "messages": PACK.source.messages}),
        default_rule_names(),
    )
    monkeypatch.undo()
    assert len(sources) == len(EventType)
    attributes = {p for path in EVENT_PATHS for p in path.split(".")}
    words = {"rules", "f", "ev", "feat", "facts", "hits", "append", "get", "amount", "type"}
    helpers = {"CONCAT", "NEG", "IN_ANY", "ADD", "SUB", "MUL", "DIV", "MOD"}
    generated = re.compile(r"^(K|t)\d+$|^(ORDER|BOOL)(LT|LE|GT|GE)$")
    for source in sources:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            assert tok.type not in (tokenize.STRING, tokenize.NUMBER), tok
            if tok.type == tokenize.NAME:
                name = tok.string
                assert (
                    keyword.iskeyword(name)
                    or name in words | helpers | attributes | {"int", "float", "str", "fingerprint"}
                    or generated.match(name)
                ), name


def test_evaluating_calls_no_eval_exec_or_import(monkeypatch: pytest.MonkeyPatch) -> None:
    called = spy_on_dynamic_code(monkeypatch)
    for event_type in ("transfer", "login", "register"):
        PACK.evaluate(Frame(make_event(type=event_type), {"user.amount_zscore_30d": 9.0}, {}))
    monkeypatch.undo()
    assert called == []
