"""Pipeline stage ``rules``: runs the live rule set, lists and freezes on the context.

>>> from fengkong.rules import compile_ruleset, default_ruleset
>>> from fengkong.runtime import default_rule_names
>>> stage = RulesStage(compile_ruleset(default_ruleset(), default_rule_names()))

With the embedded store (versions, live pointer, lists, freezes)::

    store = SQLiteRuleStore(settings.db_path, default_rule_names())
    stage = RulesStage(store)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from fengkong.decisions.types import Action, DecisionContext, Reason, Stage
from fengkong.events import Event
from fengkong.rules import (
    CompiledRule,
    CompiledRuleSet,
    Freeze,
    FreezeTable,
    ListLookup,
    ListSnapshot,
    SnapshotSource,
    Type,
    default_known_names,
)
from fengkong.rules.schema import Frame

_ACTIONS = {
    "allow": Action.ALLOW,
    "challenge": Action.CHALLENGE,
    "review": Action.REVIEW,
    "block": Action.BLOCK,
}
MAX_DETAIL_CHARS = 300


def declared_names(stages: Iterable[object]) -> dict[str, Type]:
    """The ``outputs`` the stages (classes or instances) declare, first declaration wins."""
    names: dict[str, Type] = {}
    for stage in stages:
        for name, kind in getattr(stage, "outputs", {}).items():
            names.setdefault(name, kind)
    return names


def rule_known_names(stages: Iterable[object]) -> dict[str, Type]:
    """Names rules may read besides event paths: the ``stages``' declared outputs.

    The default features and facts are always known (a rule set stays publishable
    whatever feature set a server runs); ``runtime.default_rule_names`` gives the names
    of the default pipeline's stages.
    """
    names = default_known_names()
    for name, kind in declared_names(stages).items():
        names.setdefault(name, kind)
    return names


def _detail(values: dict[str, Any]) -> str:
    text = ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in values.items())
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"


class RulesStage:
    """Applies freezes, then evaluates the live rule set.

    ``source`` is a compiled rule set (fixed) or a :class:`SnapshotSource` such as
    :class:`fengkong.storage.rules_sqlite.SQLiteRuleStore`, asked once per event for
    its cached snapshot (live version, lists, freezes). ``lists`` and ``freezes`` are
    used only with a fixed rule set. ``clock`` gives the server time at which list
    entries and freezes are checked (never the client's ``occurred_at``).
    """

    name = "rules"

    def __init__(
        self,
        source: CompiledRuleSet | SnapshotSource,
        lists: ListLookup | None = None,
        freezes: FreezeTable | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fixed = source if isinstance(source, CompiledRuleSet) else None
        self._source = None if isinstance(source, CompiledRuleSet) else source
        self._lists: ListLookup = lists if lists is not None else ListSnapshot()
        self._freezes = freezes if freezes is not None else FreezeTable()
        self._clock = clock

    def run(self, ctx: DecisionContext) -> None:
        lists: ListLookup
        if self._source is not None:
            snap = self._source.snapshot()
            ruleset, lists, freezes = snap.ruleset, snap.lists, snap.freezes
        else:
            ruleset, lists, freezes = self._fixed, self._lists, self._freezes
        now = self._clock()
        if freezes:
            for f in freezes.match(ctx.event, ctx.facts, now):
                apply_freeze(ctx, f)
        if ruleset is None:
            return
        ctx.versions["rules"] = ruleset.version
        frame = ruleset.frame(ctx.fields, ctx.features, ctx.facts, lists, now)
        hits = ruleset.evaluate(frame)
        if hits:
            apply_hits(ctx, ruleset, hits, frame)


def apply_freeze(ctx: DecisionContext, freeze: Freeze) -> None:
    """A freeze proposes its action with the analyst's reason."""
    kind, _, challenge = freeze.action.partition(":")
    reason = Reason("rule", f"freeze:{freeze.kind}", f"{freeze.value}: {freeze.reason}")
    ctx.propose(_ACTIONS[kind], reason, challenge or None)  # type: ignore[arg-type]
    ctx.explain.setdefault("freezes", []).append(freeze.as_dict())


def apply_hits(
    ctx: DecisionContext, ruleset: CompiledRuleSet, hits: Sequence[CompiledRule], frame: Frame
) -> None:
    """Turn rule hits into proposals, warnings, points and explanations."""
    for rule in hits:
        values = rule.expr.explain(frame)
        entry = {
            "rule": rule.name,
            "action": rule.action_text,
            "score": rule.score,
            "values": values,
        }
        if rule.status == "shadow":
            ctx.explain.setdefault("shadow", []).append(entry)
            continue
        ctx.explain.setdefault("rules", []).append(entry)
        reason = Reason("rule", rule.name, _detail(values))
        if rule.decision is not None:
            ctx.propose(_ACTIONS[rule.decision], reason, rule.challenge)
        elif rule.warn is not None or rule.score:
            ctx.reasons.append(reason)
        if rule.warn is not None:
            ctx.warn(rule.warn, ruleset.message(rule.warn))
        ctx.rule_points += rule.score


def replay_contexts(events: Iterable[Event], stages: Sequence[Stage]) -> Iterator[DecisionContext]:
    """Contexts of ``events`` (in time order) as ``stages`` see them, point in time.

    Each stateful stage reads its state *before* the event and then adds the event, so
    a replay computes exactly what the live pipeline computed at the time.
    """
    for event in events:
        ctx = DecisionContext(event)
        for stage in stages:
            stage.run(ctx)
        yield ctx
