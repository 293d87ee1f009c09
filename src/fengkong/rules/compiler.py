"""Type-check a syntax tree and compile it into nested Python closures.

Compilation resolves every name to a getter (no lookup by name at evaluation), folds
constants, turns literal sets into frozensets, and works out which event types a rule
can match at all (its *type guard*) so that rule sets can index rules by event type and
drop the guard from the compiled test. Semantics, chosen to be unsurprising for
analysts:

* a missing value is ``null``; any comparison involving ``null`` is false, except
  ``x == null`` / ``x != null`` which test presence; arithmetic on ``null`` is ``null``;
* ``and``/``or`` short-circuit; in a condition, ``null`` counts as false;
* a runtime type mismatch (say a free-form attribute holding text compared with ``>``)
  is false, never an exception.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fengkong.rules.functions import FUNCTIONS, FunctionError
from fengkong.rules.guards import pure_type, type_guard
from fengkong.rules.schema import (
    Frame,
    Getter,
    Resolver,
    Type,
    UnknownName,
    suggest_value,
)
from fengkong.rules.syntax import (
    Arith,
    BoolOp,
    Call,
    Compare,
    Const,
    In,
    ListLit,
    Name,
    Node,
    Unary,
    parse,
)

LIST_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_TYPE_WORDS = {
    "num": "a number",
    "str": "text",
    "bool": "true/false",
    "list": "a list",
    "null": "null",
    "any": "a value",
}


class CompileError(ValueError):
    """An expression that parses but cannot be compiled (unknown name, type error...)."""

    def __init__(self, message: str, suggestions: list[str] | None = None) -> None:
        self.message = message
        self.suggestions = suggestions or []
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class CompiledExpr:
    """A rule condition ready to run on a :class:`Frame`.

    ``types`` is the set of event types the condition can be true for (``None``: any);
    when the rule is indexed by these types, ``test`` no longer checks them.
    ``reads`` are the names the condition reads, with their getters, for explanations.
    ``condition`` is the syntax tree ``test`` runs (without the conjuncts the type index
    replaces), from which :mod:`fengkong.rules.codegen` writes its inline form.
    """

    text: str
    test: Callable[[Frame], Any]
    types: frozenset[str] | None
    reads: tuple[tuple[str, Getter], ...]
    lists: tuple[str, ...]
    condition: Node | None = None

    def explain(self, frame: Frame) -> dict[str, Any]:
        """The values this condition read from ``frame`` (JSON-friendly)."""
        return {name: _plain(get(frame)) for name, get in self.reads}


def _plain(v: Any) -> Any:
    if isinstance(v, str):
        return str(v)  # StrEnum → plain text
    if isinstance(v, float):
        return round(v, 6)
    return v


@dataclass(slots=True)
class _C:
    fn: Getter
    type: Type
    strict: bool = False  # fn already returns a real bool
    const: bool = False
    value: Any = None
    feature: str | None = None  # set for a bare feature/fact name: lets ops inline the lookup


def _const(value: Any) -> _C:
    if value is None:
        t: Type = "null"
    elif isinstance(value, bool):
        t = "bool"
    elif isinstance(value, int | float):
        t = "num"
    else:
        t = "str"
    return _C(lambda f: value, t, strict=isinstance(value, bool), const=True, value=value)


def _num(v: Any) -> Any:
    return None if isinstance(v, bool) or not isinstance(v, int | float) else v


def arithmetic(fop: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``fop`` on two values as rules compute: numbers only, null on a missing value,
    a division by zero or an overflow."""

    def calc(x: Any, y: Any) -> Any:
        x, y = _num(x), _num(y)
        if x is None or y is None:
            return None
        try:
            return fop(x, y)
        except (ArithmeticError, ValueError):
            return None

    return calc


_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
}
_ORDER: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class _Compiler:
    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.reads: dict[str, Getter] = {}
        self.lists: list[str] = []

    # -- values ---------------------------------------------------------------------
    def value(self, node: Node) -> _C:
        if isinstance(node, Const):
            return _const(node.value)
        if isinstance(node, Name):
            return self.name(node)
        if isinstance(node, Arith):
            return self.arith(node)
        if isinstance(node, Unary):
            if node.op == "not":
                inner = self.truth(node.operand)
                fn = inner.fn
                return _C(lambda f: not fn(f), "bool", strict=True)
            return self.negate(node)
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, In):
            return self.membership(node)
        if isinstance(node, BoolOp):
            return self.boolop(node)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, ListLit):
            raise CompileError("a list [...] can only stand after `in` / `not in`")
        raise CompileError(f"unsupported expression {type(node).__name__}")  # pragma: no cover

    def name(self, node: Name) -> _C:
        if node.path in FUNCTIONS or node.path == "list":
            raise CompileError(f"{node.path} is a function: write {node.path}(...)")
        try:
            info = self.resolver.resolve(node.path)
        except UnknownName as exc:
            raise CompileError(str(exc), exc.suggestions) from None
        self.reads.setdefault(info.path, info.getter)
        return _C(info.getter, info.type, feature=info.path if info.source == "feature" else None)

    def truth(self, node: Node) -> _C:
        """Compile ``node`` for use as a condition: a function returning a real bool."""
        c = self.value(node)
        if c.type not in ("bool", "any"):
            raise CompileError(f"{_describe(node)} is {_TYPE_WORDS[c.type]}, not true/false")
        if c.strict:
            return c
        if c.const:
            v = c.value is True
            return _C(lambda f: v, "bool", strict=True, const=True, value=v)
        if c.feature is not None:
            return _C(_feature_truth(c.feature), "bool", strict=True)
        g = c.fn
        return _C(lambda f: g(f) is True, "bool", strict=True)

    def arith(self, node: Arith) -> _C:
        a, b = self.value(node.left), self.value(node.right)
        op = node.op
        if op == "+" and a.type == "str" and b.type == "str":
            fa, fb = a.fn, b.fn

            def concat(f: Frame) -> Any:
                x, y = fa(f), fb(f)
                return None if x is None or y is None else x + y

            return self._fold(_C(concat, "str"), a, b)
        for side, c in ((node.left, a), (node.right, b)):
            if c.type not in ("num", "any", "null"):
                raise CompileError(
                    f"{_describe(side)} is {_TYPE_WORDS[c.type]}; `{op}` needs numbers"
                )
        fa, fb, on_values = a.fn, b.fn, arithmetic(_ARITH[op])

        def calc(f: Frame) -> Any:
            return on_values(fa(f), fb(f))

        return self._fold(_C(calc, "num"), a, b)

    def negate(self, node: Unary) -> _C:
        a = self.value(node.operand)
        if a.type not in ("num", "any", "null"):
            raise CompileError(
                f"{_describe(node.operand)} is {_TYPE_WORDS[a.type]}; `-` needs a number"
            )
        fa = a.fn

        def neg(f: Frame) -> Any:
            x = _num(fa(f))
            return None if x is None else -x

        return self._fold(_C(neg, "num"), a)

    @staticmethod
    def _fold(c: _C, *parts: _C) -> _C:
        if all(p.const for p in parts):
            return _const(c.fn(None))  # type: ignore[arg-type]  # constants never read the frame
        return c

    def compare(self, node: Compare) -> _C:
        op = node.op
        a, b = self.value(node.left), self.value(node.right)
        if op in ("==", "!=") and (a.type == "null" or b.type == "null"):
            other = b if a.type == "null" else a
            g = other.fn
            if op == "==":
                return _C(lambda f: g(f) is None, "bool", strict=True)
            return _C(lambda f: g(f) is not None, "bool", strict=True)
        self._check_enum(node.left, node.right)
        self._check_enum(node.right, node.left)
        ta, tb = a.type, b.type
        if "list" in (ta, tb):
            raise CompileError("a list can only stand after `in` / `not in`")
        if ta != "any" and tb != "any" and ta != tb:
            raise CompileError(
                f"cannot compare {_describe(node.left)} ({_TYPE_WORDS[ta]}) with "
                f"{_describe(node.right)} ({_TYPE_WORDS[tb]})"
            )
        if op not in ("==", "!=") and "bool" in (ta, tb):
            raise CompileError(f"`{op}` does not apply to true/false")
        safe = ta != "any" and tb != "any"
        if b.const and a.feature is not None:
            return _C(_feature_compare(a.feature, op, b.value), "bool", True)
        if b.const:
            return self._fold(_compare_const(op, a.fn, b.value, safe), a, b)
        return self._fold(_compare(op, a.fn, b.fn, safe), a, b)

    def _check_enum(self, name_node: Node, other: Node) -> None:
        if not isinstance(name_node, Name):
            return
        try:
            info = self.resolver.resolve(name_node.path)
        except UnknownName:
            return
        if info.enum is None:
            return
        values: list[Node] = list(other.items) if isinstance(other, ListLit) else [other]
        for v in values:
            if isinstance(v, Const) and isinstance(v.value, str) and v.value not in info.enum:
                sugg = suggest_value(v.value, info.enum)
                hint = f"; did you mean {' or '.join(repr(s) for s in sugg)}?" if sugg else ""
                raise CompileError(
                    f"{v.value!r} is not a value of {info.path} (one of "
                    f"{', '.join(sorted(info.enum))}){hint}",
                    sugg,
                )

    def membership(self, node: In) -> _C:
        a = self.value(node.left)
        neg = node.negated
        g = a.fn
        right = node.right
        if isinstance(right, Call) and right.func == "list":
            if len(right.args) != 1 or not (
                isinstance(right.args[0], Const) and isinstance(right.args[0].value, str)
            ):
                raise CompileError('list(...) takes one literal list name: list("proxy_ips")')
            lname = right.args[0].value
            if not LIST_NAME.match(lname):
                raise CompileError(f"bad list name {lname!r} (letters, digits, _ . : -)")
            if lname not in self.lists:
                self.lists.append(lname)
            if a.type not in ("str", "num", "any"):
                raise CompileError(
                    f"{_describe(node.left)} is {_TYPE_WORDS[a.type]}; lists hold text"
                )

            def in_list(f: Frame) -> Any:
                v = g(f)
                if v is None:
                    return False
                hit = f.lists.contains(lname, v if isinstance(v, str) else str(v), f.now)
                return hit is not neg

            return _C(in_list, "bool", strict=True)
        if not isinstance(right, ListLit):
            raise CompileError('`in` needs a literal list [..] or list("name") on its right')
        self._check_enum(node.left, right)
        items: list[Any] = []
        for item in right.items:
            c = self.value(item)
            if not c.const or c.value is None:
                raise CompileError("the items of a literal list must be constants (not null)")
            if a.type not in ("any", "null") and c.type != a.type:
                raise CompileError(
                    f"list item {c.value!r} is {_TYPE_WORDS[c.type]} but "
                    f"{_describe(node.left)} is {_TYPE_WORDS[a.type]}"
                )
            items.append(c.value)
        members = frozenset(items)
        if a.type == "any":

            def in_set_any(f: Frame) -> Any:
                v = g(f)
                if v is None:
                    return False
                try:
                    return (v in members) is not neg
                except TypeError:  # unhashable free-form value
                    return False

            return _C(in_set_any, "bool", strict=True)
        if neg:
            return self._fold(
                _C(lambda f: (v := g(f)) is not None and v not in members, "bool", True), a
            )
        return self._fold(_C(lambda f: g(f) in members, "bool", True), a)

    def boolop(self, node: BoolOp) -> _C:
        parts = [self.truth(item) for item in node.items]
        fns = tuple(p.fn for p in parts)
        if node.op == "and":
            if len(fns) == 2:
                x, y = fns
                return _C(lambda f: x(f) and y(f), "bool", strict=True)

            def all_(f: Frame) -> Any:
                for p in fns:  # noqa: SIM110 - a plain loop is cheaper than all(generator)
                    if not p(f):
                        return False
                return True

            return _C(all_, "bool", strict=True)
        if len(fns) == 2:
            x, y = fns
            return _C(lambda f: x(f) or y(f), "bool", strict=True)

        def any_(f: Frame) -> Any:
            for p in fns:  # noqa: SIM110 - a plain loop is cheaper than any(generator)
                if p(f):
                    return True
            return False

        return _C(any_, "bool", strict=True)

    def call(self, node: Call) -> _C:
        if node.func == "list":
            raise CompileError('list("name") can only stand after `in` / `not in`')
        spec = FUNCTIONS.get(node.func)
        if spec is None:
            sugg = difflib.get_close_matches(node.func, [*FUNCTIONS, "list"], n=2, cutoff=0.6)
            hint = f"; did you mean {' or '.join(sugg)}?" if sugg else ""
            raise CompileError(f"unknown function {node.func}(){hint}", sugg)
        n = len(node.args)
        need = len(spec.params)
        if n < need or (n > need and not spec.variadic):
            arity = f"at least {need}" if spec.variadic else str(need)
            raise CompileError(f"{spec.name}() takes {arity} argument(s), got {n}")
        args = [self.value(a) for a in node.args]
        for i, (arg_node, c) in enumerate(zip(node.args, args, strict=True)):
            allowed = spec.params[min(i, need - 1)]
            if c.type not in allowed and c.type != "null":
                raise CompileError(
                    f"argument {i + 1} of {spec.name}() is {_TYPE_WORDS[c.type]}; "
                    f"expected {' or '.join(_TYPE_WORDS[t] for t in sorted(allowed) if t != 'any')}"
                )
            if i in spec.literal_args and not (c.const and isinstance(c.value, str)):
                raise CompileError(f"argument {i + 1} of {spec.name}() must be a literal text")
            _ = arg_node
        try:
            fn = spec.build(tuple(c.fn for c in args), tuple(c.value for c in args))
        except FunctionError as exc:
            raise CompileError(f"{spec.name}(): {exc}") from None
        out = _C(fn, spec.returns, strict=spec.returns == "bool")
        # Time functions read the event: never fold them; pure ones fold on constants.
        if args and spec.name not in ("hour_of_day", "day_of_week"):
            return self._fold(out, *args)
        return out


def _feature_truth(name: str) -> Getter:
    def truth(f: Frame) -> Any:
        v = f.feat.get(name)
        if v is None:
            v = f.facts.get(name)
        return v is True

    return truth


def _feature_compare(name: str, op: str, c: Any) -> Getter:
    """``feature OP constant`` in one closure (the most common shape in rule packs)."""
    if op in ("==", "!="):
        eq = op == "=="

        def equal(f: Frame) -> Any:
            v = f.feat.get(name)
            if v is None:
                v = f.facts.get(name)
                if v is None:
                    return False
            return (v == c) is eq

        return equal
    fop = _ORDER[op]

    def order(f: Frame) -> Any:
        v = f.feat.get(name)
        if v is None:
            v = f.facts.get(name)
            if v is None:
                return False
        try:
            return fop(v, c) is True
        except TypeError:  # a value of another type than the rule expects
            return False

    return order


def _compare_const(op: str, g: Getter, c: Any, safe: bool) -> _C:
    if op == "==":
        return _C(lambda f: g(f) == c, "bool", True)
    if op == "!=":
        return _C(lambda f: (v := g(f)) is not None and v != c, "bool", True)
    if safe:
        if op == ">":
            return _C(lambda f: (v := g(f)) is not None and v > c, "bool", True)
        if op == ">=":
            return _C(lambda f: (v := g(f)) is not None and v >= c, "bool", True)
        if op == "<":
            return _C(lambda f: (v := g(f)) is not None and v < c, "bool", True)
        return _C(lambda f: (v := g(f)) is not None and v <= c, "bool", True)
    return _compare(op, g, lambda f: c, False)


def _compare(op: str, ga: Getter, gb: Getter, safe: bool) -> _C:
    if op == "==":
        return _C(lambda f: (v := ga(f)) is not None and v == gb(f), "bool", True)
    if op == "!=":

        def ne(f: Frame) -> Any:
            x, y = ga(f), gb(f)
            return x is not None and y is not None and x != y

        return _C(ne, "bool", True)
    fop = _ORDER[op]

    def order(f: Frame) -> Any:
        x, y = ga(f), gb(f)
        if x is None or y is None:
            return False
        if safe:
            return fop(x, y)
        try:
            return bool(fop(x, y))
        except TypeError:
            return False

    return _C(order, "bool", True)


def _describe(node: Node) -> str:
    if isinstance(node, Name):
        return node.path
    if isinstance(node, Const):
        return repr(node.value) if node.value is not None else "null"
    if isinstance(node, Call):
        return f"{node.func}(...)"
    return "the expression"


def compile_expression(text: str, resolver: Resolver) -> CompiledExpr:
    """Parse, check and compile one rule condition; raises ``RuleSyntaxError``/``CompileError``."""
    tree = parse(text)
    comp = _Compiler(resolver)
    comp.truth(tree)  # type-check the whole condition (and collect reads) first
    types = type_guard(tree)
    if types is not None and not types:
        raise CompileError("unreachable: no event type satisfies this rule's type guard")
    # With a type index in front, conjuncts about the type alone are already true.
    conjuncts = list(tree.items) if isinstance(tree, BoolOp) and tree.op == "and" else [tree]
    rest = conjuncts if types is None else [c for c in conjuncts if not pure_type(c)]
    if not rest:
        condition: Node = Const(1, True)
        test: Callable[[Frame], Any] = _always
    else:
        condition = (
            rest[0]
            if len(rest) == 1
            else BoolOp(max(c.depth for c in rest) + 1, "and", tuple(rest))
        )
        test = comp.truth(condition).fn
    reads, lists = tuple(comp.reads.items()), tuple(comp.lists)
    return CompiledExpr(text, test, types, reads, lists, condition)


def _always(f: Frame) -> bool:
    return True
