"""The function library of the rule language.

Each function is described by a :class:`FunctionSpec` (arity, argument types, result
type) and built into a closure at compile time. Functions never raise at evaluation:
wrong or missing inputs give ``null`` (or ``false`` for predicates).

``matches(text, "regex")`` is the one function with a cost that depends on its input.
It runs on RE2 (``google-re2``), whose matching time is linear in the text, so no
pattern can make it backtrack; the pattern must be a literal, may hold at most two
unbounded repetitions and bounded repetitions (``{m,n}``) of at most
:data:`MAX_BOUNDED_REPEATS` in all (they multiply RE2's automaton), is refused when RE2
would need more than :data:`RE2_MAX_MEM` bytes for it, and the text is cut to
:data:`MAX_MATCH_INPUT` characters. The shapes that would backtrack under Python's
``re`` (nested or alternated repetition, backreferences, look-arounds) stay refused, so
a rule means the same under any engine.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import re2

from fengkong.rules.schema import Frame, Getter, Type

MAX_PATTERN_CHARS = 256
MAX_MATCH_INPUT = 512
MAX_UNBOUNDED_REPEATS = 2
MAX_BOUNDED_REPEATS = 256
RE2_MAX_MEM = 1 << 20
EARTH_RADIUS_KM = 6371.0088


class FunctionError(ValueError):
    """A function used wrongly (unknown, wrong arity, bad literal argument)."""


def _num(v: Any) -> float | int | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return v


def check_pattern(pattern: str) -> Any:
    """Compile a regex with RE2 after rejecting costly or backtracking shapes."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise FunctionError(f"regex longer than {MAX_PATTERN_CHARS} characters")
    for bad, why in (
        ("(?=", "look-ahead"),
        ("(?!", "look-ahead"),
        ("(?<=", "look-behind"),
        ("(?<!", "look-behind"),
        ("(?P=", "backreference"),
        ("(?(", "conditional group"),
    ):
        if bad in pattern:
            raise FunctionError(f"regex {why} is not allowed")
    # Groups: for each open group, does it hold a repetition or an alternation?
    stack: list[dict[str, bool]] = [{"rep": False, "alt": False}]
    unbounded = 0
    bounded = 0
    i, n = 0, len(pattern)
    last_group: dict[str, bool] | None = None
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 < n and pattern[i + 1].isdigit() and pattern[i + 1] != "0":
                raise FunctionError("regex backreference is not allowed")
            i += 2
            last_group = None
            continue
        if ch == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            last_group = None
            continue
        if ch == "(":
            stack.append({"rep": False, "alt": False})
            i += 1
            continue
        if ch == ")":
            if len(stack) == 1:
                raise FunctionError("regex has an unbalanced ')'")
            last_group = stack.pop()
            if last_group["rep"] or last_group["alt"]:
                stack[-1]["rep"] = stack[-1]["rep"] or last_group["rep"]
            i += 1
            continue
        if ch == "|":
            stack[-1]["alt"] = True
        if ch in "*+{":
            repeating = True
            if ch == "{":
                m = re.match(r"\{(\d*)(,?)(\d*)\}", pattern[i:])
                if m is None:
                    i += 1
                    last_group = None
                    continue
                lo, comma, hi = m.groups()
                bounded += int(hi or lo or 0)
                repeating = (bool(comma) and (hi == "" or int(hi) > 1)) or (
                    not comma and int(lo or 0) > 1
                )
                if comma and hi == "":
                    unbounded += 1
                i += len(m.group(0)) - 1
            else:
                unbounded += 1
            if repeating:
                if last_group is not None and (last_group["rep"] or last_group["alt"]):
                    raise FunctionError(
                        "regex repeats a group that itself repeats or alternates "
                        "(catastrophic backtracking); simplify it"
                    )
                stack[-1]["rep"] = True
        last_group = None
        i += 1
    if len(stack) != 1:
        raise FunctionError("regex has an unbalanced '('")
    if unbounded > MAX_UNBOUNDED_REPEATS:
        raise FunctionError(
            f"regex has more than {MAX_UNBOUNDED_REPEATS} unbounded repetitions (* + {{n,}})"
        )
    if bounded > MAX_BOUNDED_REPEATS:
        raise FunctionError(
            f"regex repeats {bounded} times in {{m,n}} counts, more than "
            f"{MAX_BOUNDED_REPEATS}; use fewer or smaller counts"
        )
    try:
        re.compile(pattern)  # the same syntax under both engines
        options = re2.Options()
        options.max_mem = RE2_MAX_MEM
        options.log_errors = False
        return re2.compile(pattern, options)
    except (re.error, re2.error) as exc:
        raise FunctionError(f"bad regex: {exc}") from None


Builder = Callable[[tuple[Getter, ...], tuple[Any, ...]], Getter]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """Signature and builder of one function; ``consts`` are literal argument values."""

    name: str
    params: tuple[frozenset[Type], ...]
    returns: Type
    build: Builder
    doc: str
    variadic: bool = False
    literal_args: tuple[int, ...] = ()


_NUM: frozenset[Type] = frozenset({"num", "any"})
_STR: frozenset[Type] = frozenset({"str", "any"})
_SEQ: frozenset[Type] = frozenset({"str", "list", "any"})
_LIT: frozenset[Type] = frozenset({"str"})


def _distance(args: tuple[Getter, ...], _c: tuple[Any, ...]) -> Getter:
    a, b, c, d = args

    def fn(f: Frame) -> Any:
        lat1, lon1, lat2, lon2 = _num(a(f)), _num(b(f)), _num(c(f)), _num(d(f))
        if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
            return None
        p1, p2 = math.radians(lat1), math.radians(lat2)
        dp, dl = p2 - p1, math.radians(lon2 - lon1)
        h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))

    return fn


def _hour(_a: tuple[Getter, ...], _c: tuple[Any, ...]) -> Getter:
    def fn(f: Frame) -> Any:
        return int(((f.ev.occurred_at.timestamp() + f.offset_s) % 86400) // 3600)

    return fn


def _weekday(_a: tuple[Getter, ...], _c: tuple[Any, ...]) -> Getter:
    # 1970-01-01 was a Thursday (ISO day 4); result is ISO: 1 = Monday ... 7 = Sunday.
    def fn(f: Frame) -> Any:
        return int(((f.ev.occurred_at.timestamp() + f.offset_s) // 86400 + 3) % 7) + 1

    return fn


def _matches(args: tuple[Getter, ...], consts: tuple[Any, ...]) -> Getter:
    text = args[0]
    search = check_pattern(consts[1]).search

    def fn(f: Frame) -> Any:
        s = text(f)
        return isinstance(s, str) and search(s[:MAX_MATCH_INPUT]) is not None

    return fn


def _str_pred(method: str) -> Builder:
    def build(args: tuple[Getter, ...], _c: tuple[Any, ...]) -> Getter:
        a, b = args
        pred = getattr(str, method)

        def fn(f: Frame) -> Any:
            s, p = a(f), b(f)
            return isinstance(s, str) and isinstance(p, str) and bool(pred(s, p))

        return fn

    return build


def _contains(args: tuple[Getter, ...], _c: tuple[Any, ...]) -> Getter:
    a, b = args

    def fn(f: Frame) -> Any:
        s, p = a(f), b(f)
        return isinstance(s, str) and isinstance(p, str) and p in s

    return fn


def _lower(args: tuple[Getter, ...], _c: tuple[Any, ...]) -> Getter:
    (a,) = args

    def fn(f: Frame) -> Any:
        s = a(f)
        return s.lower() if isinstance(s, str) else None

    return fn


def _len(args: tuple[Getter, ...], _c: tuple[Any, ...]) -> Getter:
    (a,) = args

    def fn(f: Frame) -> Any:
        s = a(f)
        return len(s) if isinstance(s, str | list | tuple | frozenset | dict) else None

    return fn


def _extreme(pick: Callable[..., Any]) -> Builder:
    def build(args: tuple[Getter, ...], _c: tuple[Any, ...]) -> Getter:
        def fn(f: Frame) -> Any:
            vals = [_num(a(f)) for a in args]
            return None if any(v is None for v in vals) else pick(vals)

        return fn

    return build


def _abs(args: tuple[Getter, ...], _c: tuple[Any, ...]) -> Getter:
    (a,) = args

    def fn(f: Frame) -> Any:
        v = _num(a(f))
        return None if v is None else abs(v)

    return fn


FUNCTIONS: dict[str, FunctionSpec] = {
    s.name: s
    for s in (
        FunctionSpec(
            "distance",
            (_NUM,) * 4,
            "num",
            _distance,
            "great-circle distance in km between (lat1, lon1) and (lat2, lon2)",
        ),
        FunctionSpec(
            "hour_of_day",
            (),
            "num",
            _hour,
            "hour 0-23 of the event time at the rule set's UTC offset",
        ),
        FunctionSpec(
            "day_of_week",
            (),
            "num",
            _weekday,
            "ISO weekday 1 (Monday) - 7 (Sunday) of the event time",
        ),
        FunctionSpec(
            "matches",
            (_STR, _LIT),
            "bool",
            _matches,
            "regex search, literal pattern, bounded cost",
            literal_args=(1,),
        ),
        FunctionSpec(
            "startswith", (_STR, _STR), "bool", _str_pred("startswith"), "text starts with prefix"
        ),
        FunctionSpec(
            "endswith", (_STR, _STR), "bool", _str_pred("endswith"), "text ends with suffix"
        ),
        FunctionSpec("contains", (_STR, _STR), "bool", _contains, "text contains part"),
        FunctionSpec("lower", (_STR,), "str", _lower, "text in lower case"),
        FunctionSpec("len", (_SEQ,), "num", _len, "length of a text or list"),
        FunctionSpec(
            "min", (_NUM, _NUM), "num", _extreme(min), "smallest of the numbers", variadic=True
        ),
        FunctionSpec(
            "max", (_NUM, _NUM), "num", _extreme(max), "largest of the numbers", variadic=True
        ),
        FunctionSpec("abs", (_NUM,), "num", _abs, "absolute value"),
    )
}
