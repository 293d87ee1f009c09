"""Type guards: the event types for which a rule's condition can be true at all.

Rule sets index rules by event type and drop the guard from the compiled test.

>>> from fengkong.rules.syntax import parse
>>> sorted(type_guard(parse('type in ["login", "register"] and amount > 5')))
['login', 'register']
>>> type_guard(parse("amount > 5")) is None
True
"""

from __future__ import annotations

from fengkong.rules.schema import EVENT_TYPES
from fengkong.rules.syntax import BoolOp, Compare, Const, In, ListLit, Name, Node, Unary


def _is_type_name(node: Node) -> bool:
    return isinstance(node, Name) and node.path == "type"


def pure_type(node: Node) -> bool:
    """True when ``node`` depends on the event type only (so an index can replace it)."""
    if isinstance(node, Compare) and node.op in ("==", "!="):
        return (_is_type_name(node.left) and isinstance(node.right, Const)) or (
            _is_type_name(node.right) and isinstance(node.left, Const)
        )
    if isinstance(node, In):
        return (
            _is_type_name(node.left)
            and isinstance(node.right, ListLit)
            and all(isinstance(i, Const) for i in node.right.items)
        )
    if isinstance(node, BoolOp):
        return all(pure_type(i) for i in node.items)
    if isinstance(node, Unary) and node.op == "not":
        return pure_type(node.operand)
    return False


def type_guard(node: Node) -> frozenset[str] | None:
    """The event types for which ``node`` can be true; ``None`` when it does not say."""
    if isinstance(node, Compare) and pure_type(node):
        const = node.right if isinstance(node.right, Const) else node.left
        assert isinstance(const, Const)
        one = frozenset({str(const.value)}) & EVENT_TYPES
        return one if node.op == "==" else EVENT_TYPES - one
    if isinstance(node, In) and pure_type(node):
        assert isinstance(node.right, ListLit)
        vals = frozenset(str(i.value) for i in node.right.items if isinstance(i, Const))
        vals &= EVENT_TYPES
        return EVENT_TYPES - vals if node.negated else vals
    if isinstance(node, Unary) and node.op == "not" and pure_type(node.operand):
        inner = type_guard(node.operand)
        return None if inner is None else EVENT_TYPES - inner
    if isinstance(node, BoolOp):
        sets = [type_guard(i) for i in node.items]
        if node.op == "and":
            known = [s for s in sets if s is not None]
            if not known:
                return None
            out = EVENT_TYPES
            for s in known:
                out = out & s
            return out
        if any(s is None for s in sets):
            return None
        return frozenset().union(*(s for s in sets if s is not None))
    return None
