"""The rule language: parse, validate and compile analyst rules; rule sets, lists, freezes.

Rules are data, never Python: an expression is parsed by a restricted grammar and
compiled to closures over whitelisted event paths and named features (docs/rules.md).
"""

from fengkong.rules.compiler import CompiledExpr, CompileError, compile_expression
from fengkong.rules.functions import FUNCTIONS
from fengkong.rules.lists import (
    FREEZE_ACTIONS,
    FREEZE_KINDS,
    Freeze,
    FreezeTable,
    ListEntry,
    ListSnapshot,
)
from fengkong.rules.names import default_known_names
from fengkong.rules.ruleset import (
    DEFAULT_PACK,
    CompiledRule,
    CompiledRuleSet,
    Problem,
    Rule,
    RuleSet,
    RuleSetInvalid,
    compile_ruleset,
    default_ruleset,
    load_ruleset,
    parse_ruleset,
)
from fengkong.rules.schema import EVENT_PATHS, Frame, ListLookup, Resolver, Type
from fengkong.rules.store import RulesSnapshot, RuleStore, SnapshotSource, VersionInfo
from fengkong.rules.syntax import RuleSyntaxError, parse

__all__ = [
    "DEFAULT_PACK",
    "EVENT_PATHS",
    "FREEZE_ACTIONS",
    "FREEZE_KINDS",
    "FUNCTIONS",
    "CompileError",
    "CompiledExpr",
    "CompiledRule",
    "CompiledRuleSet",
    "Frame",
    "Freeze",
    "FreezeTable",
    "ListEntry",
    "ListLookup",
    "ListSnapshot",
    "Problem",
    "Resolver",
    "Rule",
    "RuleSet",
    "RuleSetInvalid",
    "RuleStore",
    "RuleSyntaxError",
    "RulesSnapshot",
    "SnapshotSource",
    "Type",
    "VersionInfo",
    "compile_expression",
    "compile_ruleset",
    "default_known_names",
    "default_ruleset",
    "load_ruleset",
    "parse",
    "parse_ruleset",
]
