"""A rule set compiled to one Python function per event type.

The closures of :mod:`fengkong.rules.compiler` cost a Python call per node of every
rule, and the evaluation loop a call per rule. Here, for each event type, the live rules
that can match it become the body of one generated function that tests them in order
and returns the hits: feature and event reads, comparisons, ``and`` / ``or`` / ``not``
and literal sets are written inline, with each node's expression the same as its
closure's (so the values, and the hits, are the same); arithmetic calls one helper on
the values read inline. A sub-expression of another shape (functions, named lists, the
free-form ``attributes.*`` paths) calls its closure; a rule nested deeper than
:data:`MAX_INLINE_DEPTH` calls its whole test; an event type whose function does not
compile keeps the generic evaluator.

The source is generated from the validated syntax tree only (after
:func:`~fengkong.rules.compiler.compile_expression` accepted it): every constant, name
and closure enters as a global of the function (``K0``, ``K1``, ...), never as text,
and the only identifiers written in are the whitelisted event attributes.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from fengkong.rules.compiler import _ARITH, _C, _Compiler, _num, arithmetic
from fengkong.rules.schema import EVENT_PATHS, Frame, Resolver
from fengkong.rules.syntax import Arith, BoolOp, Call, Compare, In, ListLit, Name, Node, Unary

if TYPE_CHECKING:
    from fengkong.rules.ruleset import CompiledRule

# Python's parser refuses expressions nested past ~200 parentheses; a rule deeper than
# this (each level writes up to three) is tested by its closure.
MAX_INLINE_DEPTH = 40

RuleFunction = Callable[[Frame], list["CompiledRule"]]

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _order_or_false(fop: Callable[[Any, Any], Any]) -> Callable[[Any, Any], bool]:
    """``fop(v, c) is True``, false on a type mismatch (a feature compared with a constant)."""

    def order(v: Any, c: Any) -> bool:
        try:
            return fop(v, c) is True
        except TypeError:
            return False

    return order


def _bool_or_false(fop: Callable[[Any, Any], Any]) -> Callable[[Any, Any], bool]:
    """``bool(fop(x, y))``, false on a type mismatch (two values of unknown types)."""

    def order(x: Any, y: Any) -> bool:
        try:
            return bool(fop(x, y))
        except TypeError:
            return False

    return order


def _concat(x: Any, y: Any) -> Any:
    return None if x is None or y is None else x + y


def _negate(x: Any) -> Any:
    x = _num(x)
    return None if x is None else -x


def _in_any(v: Any, members: frozenset[Any], negated: bool) -> bool:
    try:
        return (v in members) is not negated
    except TypeError:  # unhashable free-form value
        return False


_ARITH_NAMES = {"+": "ADD", "-": "SUB", "*": "MUL", "/": "DIV", "%": "MOD"}


class _Writer:
    """Writes the Python expression of each node, mirroring the closure compiler."""

    def __init__(self, resolver: Resolver) -> None:
        self.comp = _Compiler(resolver)
        self.env: dict[str, Any] = {"type": type}
        for name, fop in _OPS.items():
            self.env["ORDER" + _op_name(name)] = _order_or_false(fop)
            self.env["BOOL" + _op_name(name)] = _bool_or_false(fop)
        for sign, name in _ARITH_NAMES.items():
            self.env[name] = arithmetic(_ARITH[sign])
        self.env.update(CONCAT=_concat, NEG=_negate, IN_ANY=_in_any)
        self._tmp = 0
        self.calls = 0  # sub-expressions left to their closures

    def const(self, value: Any) -> str:
        name = f"K{len(self.env)}"
        self.env[name] = value
        return name

    def tmp(self) -> str:
        self._tmp += 1
        return f"t{self._tmp}"

    def call(self, fn: Callable[[Frame], Any]) -> str:
        self.calls += 1
        return f"{self.const(fn)}(f)"

    def truth(self, node: Node) -> str:
        c = self.comp.value(node)
        if c.strict:
            return self.value(node, c)
        if c.const:
            return "True" if c.value is True else "False"
        if c.feature is not None:
            return f"({self.feature(c.feature)} is True)"
        return f"({self.value(node, c)} is True)"

    def value(self, node: Node, c: _C | None = None) -> str:
        c = self.comp.value(node) if c is None else c
        if c.const:
            return self.const(c.value)
        if isinstance(node, Name):
            return self.name(node, c)
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, In):
            return self.membership(node, c)
        if isinstance(node, BoolOp):
            joint = f" {node.op} "
            return "(" + joint.join(self.truth(i) for i in node.items) + ")"
        if isinstance(node, Unary):
            if node.op == "not":
                return f"(not {self.truth(node.operand)})"
            return f"NEG({self.value(node.operand)})"
        if isinstance(node, Arith):
            a, b = self.comp.value(node.left), self.comp.value(node.right)
            left, right = self.value(node.left, a), self.value(node.right, b)
            if node.op == "+" and a.type == "str" and b.type == "str":
                return f"CONCAT({left}, {right})"
            return f"{_ARITH_NAMES[node.op]}({left}, {right})"
        return self.call(c.fn)  # function calls

    def feature(self, name: str) -> str:
        t = self.tmp()
        key = self.const(name)
        return f"({t} if ({t} := feat.get({key})) is not None else facts.get({key}))"

    def name(self, node: Name, c: _C) -> str:
        if c.feature is not None:
            return self.feature(c.feature)
        path = node.path
        if path == "amount":
            return "f.amount"
        if path == "type":
            return "ev.type"
        parts = path.split(".")
        if path not in EVENT_PATHS or not all(p.isidentifier() for p in parts):
            return self.call(c.fn)  # free-form paths walk dicts: the closure does
        if len(parts) == 1:
            return f"ev.{path}"
        if parts[:2] == ["device", "fingerprint"]:
            d, p = self.tmp(), self.tmp()
            return (
                f"(None if ({d} := ev.device) is None or ({p} := {d}.fingerprint) is None "
                f"else {p}.{parts[2]})"
            )
        o = self.tmp()
        return f"(None if ({o} := ev.{parts[0]}) is None else {o}.{parts[1]})"

    def compare(self, node: Compare) -> str:
        op = node.op
        a, b = self.comp.value(node.left), self.comp.value(node.right)
        if op in ("==", "!=") and (a.type == "null" or b.type == "null"):
            other = self.value(node.right) if a.type == "null" else self.value(node.left)
            return f"({other} is None)" if op == "==" else f"({other} is not None)"
        safe = a.type != "any" and b.type != "any"
        if b.const and a.feature is not None:
            return self.feature_compare(a.feature, op, b.value)
        left = self.value(node.left, a)
        if b.const:
            return self.compare_const(op, left, b.value, safe)
        return self.compare_values(op, left, self.value(node.right, b), safe)

    def feature_compare(self, name: str, op: str, c: Any) -> str:
        v, k = self.tmp(), self.const(c)
        head = f"(False if ({v} := {self.feature(name)}) is None else "
        if op in ("==", "!="):
            return head + f"({v} == {k}) is {op == '=='})"
        slow = f"ORDER{_op_name(op)}({v}, {k})"
        if isinstance(c, bool) or not isinstance(c, int | float):
            return head + slow + ")"
        # A number against a number never raises: the common case needs no call.
        return head + f"({v} {op} {k} if type({v}) is float or type({v}) is int else {slow}))"

    def compare_const(self, op: str, left: str, c: Any, safe: bool) -> str:
        k = self.const(c)
        if op == "==":
            return f"({left} == {k})"
        v = self.tmp()
        if op == "!=" or safe:
            return f"(({v} := {left}) is not None and {v} {op} {k})"
        return self.compare_values(op, left, k, False)

    def compare_values(self, op: str, left: str, right: str, safe: bool) -> str:
        v, w = self.tmp(), self.tmp()
        if op == "==":
            return f"(({v} := {left}) is not None and {v} == {right})"
        if op == "!=":
            return f"(({v} := {left}) is not None and ({w} := {right}) is not None and {v} != {w})"
        test = f"{v} {op} {w}" if safe else f"BOOL{_op_name(op)}({v}, {w})"
        return f"(False if ({v} := {left}) is None or ({w} := {right}) is None else {test})"

    def membership(self, node: In, c: _C) -> str:
        a = self.comp.value(node.left)
        if isinstance(node.right, Call):
            return self.call(c.fn)  # a named list
        assert isinstance(node.right, ListLit)  # the compiler accepts nothing else here
        members = self.const(frozenset(self.comp.value(i).value for i in node.right.items))
        left = self.value(node.left, a)
        if a.type == "any":
            v, neg = self.tmp(), node.negated
            # Text is hashable: only other values may need the guarded test.
            fast = f"(({v} in {members}) is not {neg}) if type({v}) is str"
            slow = f"IN_ANY({v}, {members}, {neg})"
            return f"(False if ({v} := {left}) is None else {fast} else {slow})"
        if node.negated:
            v = self.tmp()
            return f"(({v} := {left}) is not None and {v} not in {members})"
        return f"({left} in {members})"


def _op_name(op: str) -> str:
    return {"<": "LT", "<=": "LE", ">": "GT", ">=": "GE"}[op]


def rule_functions(
    rules_by_type: dict[str, tuple[CompiledRule, ...]], resolver: Resolver
) -> tuple[dict[str, RuleFunction], dict[str, int]]:
    """One function per event type, and how many rules were written inline per type
    (the others call their closure); a type whose function fails to compile is left
    out (its rules go through the generic evaluator)."""
    functions: dict[str, RuleFunction] = {}
    inlined: dict[str, int] = {}
    for event_type, rules in rules_by_type.items():
        built = _function(event_type, rules, resolver)
        if built is not None:
            functions[event_type], inlined[event_type] = built
    return functions, inlined


def _function(
    event_type: str, rules: Iterable[CompiledRule], resolver: Resolver
) -> tuple[RuleFunction, int] | None:
    w = _Writer(resolver)
    body = ["ev = f.ev", "feat = f.feat", "facts = f.facts", "hits = []"]
    inlined = 0
    for rule in rules:
        cond = rule.expr.condition
        if cond is None or cond.depth > MAX_INLINE_DEPTH:
            test = f"{w.const(rule.expr.test)}(f)"  # no tree (built by hand), or too deep
        else:
            calls = w.calls
            test = w.truth(cond)
            inlined += w.calls == calls
        body += [f"if {test}:", f"    hits.append({w.const(rule)})"]
    body.append("return hits")
    source = "def rules(f):\n" + "".join(f"    {line}\n" for line in body)
    try:
        code = compile(source, f"<fengkong rules: {event_type}>", "exec")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return None
    exec(code, w.env)  # source written above from the validated tree only
    fn: RuleFunction = w.env["rules"]
    return fn, inlined
