"""The rule language's grammar and syntax tree.

An expression reads like a sentence::

    type == "transfer" and context.in_call and amount > 3 * user.amount_mean_30d

Parsing is done by a Lark LALR parser whose callbacks build the tree while parsing
(no recursive tree walk), with caps on length and nesting so that no input, however
hostile, can exhaust the stack or run for long. Nothing here ever evaluates Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, VisitError

MAX_EXPRESSION_CHARS = 4000
MAX_DEPTH = 48
MAX_STRING_CHARS = 1024

Literal_ = float | int | str | bool | None


class RuleSyntaxError(ValueError):
    """An expression that does not parse; ``column`` is 1-based (0 when unknown)."""

    def __init__(self, message: str, column: int = 0) -> None:
        self.message = message
        self.column = column
        super().__init__(f"{message} (column {column})" if column else message)


@dataclass(frozen=True, slots=True)
class Node:
    """Base of syntax-tree nodes; ``depth`` bounds recursion in later passes."""

    depth: int


@dataclass(frozen=True, slots=True)
class Const(Node):
    value: Literal_


@dataclass(frozen=True, slots=True)
class Name(Node):
    path: str
    column: int


@dataclass(frozen=True, slots=True)
class ListLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str  # "not" | "-"
    operand: Node


@dataclass(frozen=True, slots=True)
class Arith(Node):
    op: str  # + - * / %
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Compare(Node):
    op: str  # == != < <= > >=
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class In(Node):
    negated: bool
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class BoolOp(Node):
    op: str  # "and" | "or"
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Call(Node):
    func: str
    args: tuple[Node, ...]
    column: int


_GRAMMAR = r"""
?start: or_expr

?or_expr: and_expr (_OR and_expr)*          -> or_
?and_expr: not_expr (_AND not_expr)*        -> and_
?not_expr: _NOT not_expr                    -> not_
         | comparison

?comparison: sum
           | sum COMPOP sum                 -> compare
           | sum _IN sum                    -> in_
           | sum _NOT _IN sum               -> not_in

?sum: product
    | sum ADDOP product                     -> arith
?product: unary
        | product MULOP unary               -> arith
?unary: ADDOP unary                         -> neg
      | atom

?atom: NUMBER                               -> number
     | STRING                               -> string
     | _TRUE                                -> true
     | _FALSE                               -> false
     | _NULL                                -> null
     | NAME                                 -> name
     | NAME "(" [or_expr ("," or_expr)*] ")" -> call
     | "[" [or_expr ("," or_expr)*] "]"     -> list_lit
     | "(" or_expr ")"

_OR: "or"
_AND: "and"
_NOT: "not"
_IN: "in"
_TRUE: "true"
_FALSE: "false"
_NULL: "null"
COMPOP: "==" | "!=" | "<=" | ">=" | "<" | ">"
ADDOP: "+" | "-"
MULOP: "*" | "/" | "%"
NAME: /[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*/
NUMBER: /[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/
STRING: /"([^"\\\n]|\\.)*"/ | /'([^'\\\n]|\\.)*'/

%ignore /[ \t\r\n]+/
%ignore /#[^\n]*/
"""

_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


def _unquote(token: str) -> str:
    body = token[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            if nxt not in _ESCAPES:
                raise ValueError(f"unknown escape \\{nxt} in a string (use \\\\ for a backslash)")
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _depth(*nodes: Node) -> int:
    d = 1 + max((n.depth for n in nodes), default=0)
    if d > MAX_DEPTH:
        raise ValueError(f"expression nested deeper than {MAX_DEPTH} levels")
    return d


class _Build(Transformer[Token, Node]):
    """Callbacks run by the LALR parser as it reduces: the tree is built bottom-up."""

    def or_(self, items: list[Node]) -> Node:
        return items[0] if len(items) == 1 else BoolOp(_depth(*items), "or", tuple(items))

    def and_(self, items: list[Node]) -> Node:
        return items[0] if len(items) == 1 else BoolOp(_depth(*items), "and", tuple(items))

    def not_(self, items: list[Node]) -> Node:
        return Unary(_depth(items[0]), "not", items[0])

    def compare(self, items: list[Any]) -> Node:
        left, op, right = items
        return Compare(_depth(left, right), str(op), left, right)

    def in_(self, items: list[Node]) -> Node:
        return In(_depth(*items), False, items[0], items[1])

    def not_in(self, items: list[Node]) -> Node:
        return In(_depth(*items), True, items[0], items[1])

    def arith(self, items: list[Any]) -> Node:
        left, op, right = items
        return Arith(_depth(left, right), str(op), left, right)

    def neg(self, items: list[Any]) -> Node:
        op, operand = items
        if str(op) == "+":
            return operand  # type: ignore[no-any-return]
        v = operand.value if isinstance(operand, Const) else None
        if isinstance(v, int | float) and not isinstance(v, bool):
            return Const(operand.depth, -v)
        return Unary(_depth(operand), "-", operand)

    def number(self, items: list[Token]) -> Node:
        text = str(items[0])
        value: float | int = int(text) if text.isdigit() else float(text)
        return Const(1, value)

    def string(self, items: list[Token]) -> Node:
        value = _unquote(str(items[0]))
        if len(value) > MAX_STRING_CHARS:
            raise ValueError(f"string literal longer than {MAX_STRING_CHARS} characters")
        return Const(1, value)

    def true(self, items: list[Token]) -> Node:
        return Const(1, True)

    def false(self, items: list[Token]) -> Node:
        return Const(1, False)

    def null(self, items: list[Token]) -> Node:
        return Const(1, None)

    def name(self, items: list[Token]) -> Node:
        tok = items[0]
        return Name(1, str(tok), tok.column or 0)

    def call(self, items: list[Any]) -> Node:
        tok, *args = items
        nodes = tuple(a for a in args if a is not None)
        return Call(_depth(*nodes), str(tok), nodes, tok.column or 0)

    def list_lit(self, items: list[Node | None]) -> Node:
        nodes = tuple(a for a in items if a is not None)
        return ListLit(_depth(*nodes), nodes)


_PARSER = Lark(_GRAMMAR, parser="lalr", transformer=_Build(), maybe_placeholders=True)


def parse(text: str) -> Node:
    """Parse one expression into a syntax tree, or raise :class:`RuleSyntaxError`."""
    if not isinstance(text, str):
        raise RuleSyntaxError("an expression must be text")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise RuleSyntaxError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    if not text.strip():
        raise RuleSyntaxError("empty expression")
    # Cheap pre-check so that bracket towers fail before the parser stacks them up.
    depth = 0
    for ch in text:
        if ch in "([":
            depth += 1
            if depth > MAX_DEPTH:
                raise RuleSyntaxError(f"expression nested deeper than {MAX_DEPTH} levels")
        elif ch in ")]":
            depth -= 1
    try:
        tree = _PARSER.parse(text)
    except UnexpectedCharacters as exc:
        raise RuleSyntaxError(
            f"unexpected character {text[exc.pos_in_stream or 0]!r}", exc.column
        ) from None
    except UnexpectedInput as exc:
        got = getattr(exc, "token", None)
        what = "end of expression" if got is None or got.type == "$END" else repr(str(got))
        expected = sorted(getattr(exc, "expected", None) or ())
        hint = (
            f"; expected one of {', '.join(_pretty(e) for e in expected[:8])}" if expected else ""
        )
        raise RuleSyntaxError(f"unexpected {what}{hint}", getattr(exc, "column", 0)) from None
    except VisitError as exc:
        raise RuleSyntaxError(str(exc.orig_exc)) from None
    except ValueError as exc:  # raised by the tree callbacks (depth, escapes, sizes)
        raise RuleSyntaxError(str(exc)) from None
    except LarkError as exc:
        raise RuleSyntaxError(str(exc).splitlines()[0]) from None
    if not isinstance(tree, Node):  # pragma: no cover - the grammar always yields a Node
        raise RuleSyntaxError("not an expression")
    return tree


_PRETTY = {
    "_OR": "or",
    "_AND": "and",
    "_NOT": "not",
    "_IN": "in",
    "_TRUE": "true",
    "_FALSE": "false",
    "_NULL": "null",
    "LPAR": "(",
    "RPAR": ")",
    "LSQB": "[",
    "RSQB": "]",
    "COMMA": ",",
    "$END": "end",
}


def _pretty(terminal: str) -> str:
    return _PRETTY.get(terminal, terminal.lower())
