"""Rules and rule sets: the data an analyst writes, its validation and compiled form.

A rule set is plain data (TOML or JSON)::

    name = "default"
    utc_offset_hours = 8
    [messages]
    scam_in_call = "Official staff never ask you to ... ; hang up."
    [[rules]]
    name = "transfer_in_call"
    when = 'type == "transfer" and context.in_call'
    action = ["warn:scam_in_call", "challenge:voice"]
    score = 30

:func:`compile_ruleset` validates *everything* first and reports every problem at once
(unknown names with suggestions, type errors, unreachable rules, missing messages), so
that a rule set is either wholly usable or not published at all.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fengkong.events.fields import EventLike
from fengkong.rules.codegen import RuleFunction, rule_functions
from fengkong.rules.compiler import CompiledExpr, CompileError, compile_expression
from fengkong.rules.schema import EVENT_TYPES, NO_LISTS, Frame, ListLookup, Resolver, Type
from fengkong.rules.syntax import RuleSyntaxError

Status = Literal["active", "shadow", "disabled"]
Decision = Literal["allow", "challenge", "review", "block"]
Challenge = Literal["otp", "biometric", "voice"]
_NAME = r"^[A-Za-z0-9_.-]{1,64}$"
_WARN = re.compile(r"^[a-z0-9_]{1,64}$")
_ACTION = re.compile(
    r"^(allow|review|block|challenge:(otp|biometric|voice)|warn:([a-z0-9_]{1,64}))$"
)


class Rule(BaseModel):
    """One rule as written: a condition (``when``) and what a hit does."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    description: str = Field(default="", max_length=2000)
    when: str = Field(min_length=1, max_length=4000)
    action: str | list[str]
    score: float = Field(default=0.0, ge=-100, le=100, allow_inf_nan=False)
    tags: list[str] = Field(default_factory=list, max_length=20)
    status: Status = "active"

    @field_validator("action")
    @classmethod
    def _actions(cls, value: str | list[str]) -> str | list[str]:
        items = [value] if isinstance(value, str) else value
        if not items:
            raise ValueError("give at least one action")
        bad = [a for a in items if not _ACTION.match(a)]
        if bad:
            raise ValueError(
                f"unknown action {bad[0]!r}: use allow, challenge:otp|biometric|voice, "
                "review, block or warn:<code>"
            )
        if sum(1 for a in items if not a.startswith("warn:")) > 1:
            raise ValueError("at most one of allow / challenge / review / block per rule")
        if sum(1 for a in items if a.startswith("warn:")) > 1:
            raise ValueError("at most one warn:<code> per rule")
        return value

    @property
    def actions(self) -> list[str]:
        return [self.action] if isinstance(self.action, str) else list(self.action)


class RuleSet(BaseModel):
    """A named, ordered collection of rules plus the user messages their warnings show."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="rules", pattern=_NAME)
    description: str = Field(default="", max_length=4000)
    utc_offset_hours: float = Field(default=0.0, ge=-12, le=14, allow_inf_nan=False)
    messages: dict[str, str] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list, max_length=2000)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON form: equal content, equal digest."""
        body = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation finding; ``rule`` is ``None`` for rule-set-level problems."""

    rule: str | None
    message: str
    suggestions: tuple[str, ...] = ()
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"rule {self.rule}: " if self.rule else ""
        return f"{self.severity}: {where}{self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "message": self.message,
            "suggestions": list(self.suggestions),
            "severity": self.severity,
        }


class RuleSetInvalid(ValueError):
    """A rule set with at least one error; ``problems`` lists all findings."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        head = "; ".join(str(p) for p in errors[:3])
        more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(f"{len(errors)} error(s): {head}{more}")


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule ready to run: its decision, challenge, warning code and compiled test."""

    name: str
    description: str
    decision: Decision | None
    challenge: Challenge | None
    warn: str | None
    score: float
    tags: tuple[str, ...]
    status: Status
    expr: CompiledExpr

    @property
    def action_text(self) -> str:
        parts = [f"warn:{self.warn}"] if self.warn else []
        if self.decision == "challenge":
            parts.append(f"challenge:{self.challenge}")
        elif self.decision is not None:
            parts.append(self.decision)
        return ",".join(parts)


@dataclass(slots=True)
class CompiledRuleSet:
    """A validated rule set, indexed by event type; ``version`` names it in decisions."""

    source: RuleSet
    version: str
    rules: tuple[CompiledRule, ...]
    warnings: tuple[Problem, ...] = ()
    by_type: dict[str, tuple[CompiledRule, ...]] = field(default_factory=dict)
    offset_s: float = 0.0
    resolver: Resolver | None = None
    inlined: dict[str, int] = field(default_factory=dict)
    _tests: dict[str, tuple[tuple[Callable[[Frame], Any], CompiledRule], ...]] = field(
        default_factory=dict
    )
    _functions: dict[str, RuleFunction] = field(default_factory=dict)

    def __post_init__(self) -> None:
        live = [r for r in self.rules if r.status != "disabled"]
        self.by_type = {
            t: tuple(r for r in live if r.expr.types is None or t in r.expr.types)
            for t in sorted(EVENT_TYPES)
        }
        # (test, rule) pairs: the evaluation loop then does no attribute lookups.
        self._tests = {t: tuple((r.expr.test, r) for r in rs) for t, rs in self.by_type.items()}
        # One generated function per event type (``inlined``: the rules written inline,
        # per type); without the resolver the rules were compiled with, the closures.
        if self.resolver is not None:
            self._functions, self.inlined = rule_functions(self.by_type, self.resolver)
        self.offset_s = self.source.utc_offset_hours * 3600.0

    def frame(
        self,
        event: EventLike,
        features: Mapping[str, Any],
        facts: Mapping[str, Any],
        lists: ListLookup = NO_LISTS,
        now: float | None = None,
    ) -> Frame:
        return Frame(event, features, facts, lists, now, self.offset_s)

    def evaluate(self, frame: Frame) -> list[CompiledRule]:
        """The active and shadow rules that hit, in rule-set order."""
        event_type = frame.ev.type
        function = self._functions.get(event_type)
        if function is not None:
            return function(frame)
        return [r for test, r in self._tests.get(event_type, ()) if test(frame)]

    def evaluate_generic(self, frame: Frame) -> list[CompiledRule]:
        """:meth:`evaluate` by each rule's closure, rule by rule (the reference the
        generated functions are tested against)."""
        return [r for test, r in self._tests.get(frame.ev.type, ()) if test(frame)]

    def message(self, code: str) -> str:
        return self.source.messages.get(code, code)

    def lists_used(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.rules:
            for name in r.expr.lists:
                seen.setdefault(name, None)
        return list(seen)


def _split_actions(rule: Rule) -> tuple[Decision | None, Challenge | None, str | None]:
    decision: Decision | None = None
    challenge: Challenge | None = None
    warn: str | None = None
    for a in rule.actions:
        if a.startswith("warn:"):
            warn = a[5:]
        elif a.startswith("challenge:"):
            decision, challenge = "challenge", a[10:]  # type: ignore[assignment]
        else:
            decision = a  # type: ignore[assignment]
    return decision, challenge, warn


def compile_ruleset(
    ruleset: RuleSet,
    known_names: Mapping[str, Type] | Iterable[str],
    *,
    version: str | None = None,
    known_lists: Iterable[str] | None = None,
) -> CompiledRuleSet:
    """Validate and compile every rule; raise :class:`RuleSetInvalid` listing all errors."""
    resolver = Resolver(known_names)
    problems: list[Problem] = []
    compiled: list[CompiledRule] = []
    seen: set[str] = set()
    for rule in ruleset.rules:
        if rule.name in seen:
            problems.append(Problem(rule.name, "duplicate rule name"))
            continue
        seen.add(rule.name)
        try:
            expr = compile_expression(rule.when, resolver)
        except RuleSyntaxError as exc:
            problems.append(Problem(rule.name, f"syntax: {exc}"))
            continue
        except CompileError as exc:
            problems.append(Problem(rule.name, exc.message, tuple(exc.suggestions)))
            continue
        decision, challenge, warn = _split_actions(rule)
        if warn is not None and warn not in ruleset.messages:
            problems.append(
                Problem(rule.name, f"warn:{warn} has no user message; add it under [messages]")
            )
        if decision is None and warn is None and rule.score == 0:
            problems.append(Problem(rule.name, "the rule does nothing: no action and no score"))
        compiled.append(
            CompiledRule(
                rule.name,
                rule.description,
                decision,
                challenge,
                warn,
                rule.score,
                tuple(rule.tags),
                rule.status,
                expr,
            )
        )
    for code in ruleset.messages:
        if not _WARN.match(code):
            problems.append(Problem(None, f"bad message code {code!r} (a-z, 0-9, _)"))
    if known_lists is not None:
        known = set(known_lists)
        for c in compiled:
            for lname in c.expr.lists:
                if lname not in known:
                    sugg = tuple(difflib.get_close_matches(lname, sorted(known), n=2))
                    problems.append(
                        Problem(
                            c.name,
                            f'list("{lname}") does not exist yet (empty until filled)',
                            sugg,
                            "warning",
                        )
                    )
    if any(p.severity == "error" for p in problems):
        raise RuleSetInvalid(problems)
    return CompiledRuleSet(
        ruleset,
        version or f"sha-{ruleset.digest()[:12]}",
        tuple(compiled),
        tuple(problems),
        resolver=resolver,
    )


def parse_ruleset(data: Mapping[str, Any] | str | bytes, fmt: str = "json") -> RuleSet:
    """A :class:`RuleSet` from a dict, JSON or TOML text (bad shapes: :class:`RuleSetInvalid`)."""
    try:
        if isinstance(data, Mapping):
            raw: Any = data
        elif fmt == "toml":
            raw = tomllib.loads(data.decode() if isinstance(data, bytes) else data)
        else:
            raw = json.loads(data)
        return RuleSet.model_validate(raw)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RuleSetInvalid([Problem(None, f"not valid {fmt.upper()}: {exc}")]) from None
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = err["loc"]
            rule = None
            if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
                rules = raw.get("rules") if isinstance(raw, Mapping) else None
                item = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else None
                rule = str(item.get("name")) if isinstance(item, dict) else f"#{loc[1] + 1}"
                loc = loc[2:]
            where = ".".join(str(p) for p in loc)
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(Problem(rule, f"{where}: {msg}" if where else msg))
        raise RuleSetInvalid(problems) from None


def load_ruleset(path: str | Path) -> RuleSet:
    """Read a rule set file (``.toml`` or ``.json``)."""
    p = Path(path)
    fmt = "toml" if p.suffix.lower() == ".toml" else "json"
    return parse_ruleset(p.read_bytes(), fmt)


DEFAULT_PACK = Path(__file__).parent / "packs" / "default.toml"


def default_ruleset() -> RuleSet:
    """The default rule pack shipped with fengkong (``rules/packs/default.toml``)."""
    return load_ruleset(DEFAULT_PACK)
