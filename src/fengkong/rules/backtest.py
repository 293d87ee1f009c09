"""Backtest: what rule sets would have done on past events, rule by rule, side by side.

The caller replays history through the enrich/features stages (point in time: each
event sees only what came before it) and hands the resulting contexts here; every rule
set is evaluated on the very same contexts, so differences are the rules' alone.

Labels (``event_id`` or ``user_id`` → fraud / legit) are hindsight: a label marks its
event, or every event of its account; an event label wins over an account label.
Unlabelled events count as not fraud. Shadow rules are counted like active ones (that
is what they are for) but never change the set's decision.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from fengkong.rules.ruleset import CompiledRuleSet
from fengkong.rules.schema import NO_LISTS, ListLookup

_RANK = {"allow": 0, "challenge": 1, "review": 2, "block": 3}
DECISIONS = ("allow", "challenge", "review", "block")


class Row(Protocol):
    """An event with its point-in-time values (a ``DecisionContext`` is one)."""

    @property
    def event(self) -> Any: ...

    @property
    def features(self) -> Mapping[str, Any]: ...

    @property
    def facts(self) -> Mapping[str, Any]: ...


@dataclass
class LabelIndex:
    """Fraud/legit verdicts by event id and by account, with the attack's name if any."""

    by_event: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    by_user: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    @classmethod
    def from_labels(cls, labels: Iterable[Any]) -> LabelIndex:
        """From :class:`fengkong.events.Label` objects (or anything with those fields)."""
        idx = cls()
        for lab in labels:
            value = (str(lab.label), getattr(lab, "scenario", None))
            if lab.event_id is not None:
                idx.by_event[lab.event_id] = value
            elif lab.user_id is not None:
                idx.by_user[lab.user_id] = value
        return idx

    def outcome(self, event_id: str, user_id: str) -> tuple[str, str | None] | None:
        return self.by_event.get(event_id) or self.by_user.get(user_id)

    def __bool__(self) -> bool:
        return bool(self.by_event or self.by_user)


@dataclass
class RuleStats:
    name: str
    status: str
    action: str
    hits: int = 0
    fraud_hits: int = 0
    legit_labelled_hits: int = 0
    fraud_amount: float = 0.0
    unique_hits: int = 0
    overlaps: Counter[str] = field(default_factory=Counter)

    def as_dict(self, events: int, fraud_events: int | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.name,
            "status": self.status,
            "action": self.action,
            "hits": self.hits,
            "hit_rate": self.hits / events if events else 0.0,
            "unique_hits": self.unique_hits,
            "overlap": [
                {"rule": other, "shared": n, "share": n / self.hits}
                for other, n in self.overlaps.most_common(3)
            ],
        }
        if fraud_events is not None:
            out["fraud_hits"] = self.fraud_hits
            out["legit_labelled_hits"] = self.legit_labelled_hits
            out["precision"] = self.fraud_hits / self.hits if self.hits else None
            out["recall"] = self.fraud_hits / fraud_events if fraud_events else None
            out["fraud_amount_caught"] = round(self.fraud_amount, 2)
        return out


@dataclass
class SetStats:
    """One rule set's results: its decisions and every rule's statistics."""

    label: str
    version: str
    decisions: Counter[str] = field(default_factory=Counter)
    acted: int = 0
    fraud_acted: int = 0
    fraud_amount_acted: float = 0.0
    rules: dict[str, RuleStats] = field(default_factory=dict)
    by_scenario: Counter[str] = field(default_factory=Counter)


@dataclass
class BacktestReport:
    events: int = 0
    fraud_events: int = 0
    legit_labelled_events: int = 0
    fraud_amount_total: float = 0.0
    has_labels: bool = False
    sets: dict[str, SetStats] = field(default_factory=dict)
    scenarios: Counter[str] = field(default_factory=Counter)
    changes: Counter[str] = field(default_factory=Counter)
    change_examples: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        fraud = self.fraud_events if self.has_labels else None
        sets = {}
        for label, s in self.sets.items():
            item: dict[str, Any] = {
                "version": s.version,
                "decisions": {d: s.decisions.get(d, 0) for d in DECISIONS},
                "acted": s.acted,
                "rules": [r.as_dict(self.events, fraud) for r in s.rules.values()],
            }
            if fraud is not None:
                item["precision"] = s.fraud_acted / s.acted if s.acted else None
                item["recall"] = s.fraud_acted / fraud if fraud else None
                item["fraud_amount_caught"] = round(s.fraud_amount_acted, 2)
                item["recall_by_scenario"] = {
                    sc: s.by_scenario.get(sc, 0) / n for sc, n in sorted(self.scenarios.items())
                }
            sets[label] = item
        out: dict[str, Any] = {
            "events": self.events,
            "labels": self.has_labels,
            "sets": sets,
            "changes": dict(self.changes),
            "change_examples": self.change_examples,
        }
        if self.has_labels:
            out["fraud_events"] = self.fraud_events
            out["legit_labelled_events"] = self.legit_labelled_events
            out["fraud_amount_total"] = round(self.fraud_amount_total, 2)
        return out


def run_backtest(
    rows: Iterable[Row],
    rulesets: Mapping[str, CompiledRuleSet],
    labels: LabelIndex | None = None,
    *,
    lists: ListLookup = NO_LISTS,
    max_examples: int = 20,
) -> BacktestReport:
    """Evaluate every rule set on every row; the first two sets are compared event by event.

    Lists are checked as of each event's time (entries added later do not count).
    """
    labels = labels if labels is not None else LabelIndex()
    report = BacktestReport(has_labels=bool(labels))
    names = list(rulesets)
    for label, rs in rulesets.items():
        stats = SetStats(label, rs.version)
        for r in rs.rules:
            if r.status != "disabled":
                stats.rules[r.name] = RuleStats(r.name, r.status, r.action_text)
        report.sets[label] = stats
    for row in rows:
        ev = row.event
        report.events += 1
        verdict = labels.outcome(ev.event_id, ev.user_id)
        is_fraud = verdict is not None and verdict[0] == "fraud"
        amount = float(ev.amount) if ev.amount is not None else 0.0
        if is_fraud:
            report.fraud_events += 1
            report.fraud_amount_total += amount
            if verdict is not None and verdict[1]:
                report.scenarios[verdict[1]] += 1
        elif verdict is not None:
            report.legit_labelled_events += 1
        decided: list[str] = []
        for label, rs in rulesets.items():
            stats = report.sets[label]
            frame = rs.frame(ev, row.features, row.facts, lists, None)
            hits = rs.evaluate(frame)
            decision = "allow"
            for r in hits:
                rstat = stats.rules[r.name]
                rstat.hits += 1
                if is_fraud:
                    rstat.fraud_hits += 1
                    rstat.fraud_amount += amount
                elif verdict is not None:
                    rstat.legit_labelled_hits += 1
                if len(hits) == 1:
                    rstat.unique_hits += 1
                for other in hits:
                    if other is not r:
                        rstat.overlaps[other.name] += 1
                if r.status == "active" and r.decision and _RANK[r.decision] > _RANK[decision]:
                    decision = r.decision
            stats.decisions[decision] += 1
            if decision != "allow":
                stats.acted += 1
                if is_fraud:
                    stats.fraud_acted += 1
                    stats.fraud_amount_acted += amount
                    if verdict is not None and verdict[1]:
                        stats.by_scenario[verdict[1]] += 1
            decided.append(decision)
        if len(decided) >= 2 and decided[0] != decided[1]:
            report.changes[f"{decided[1]}->{decided[0]}"] += 1
            if len(report.change_examples) < max_examples:
                report.change_examples.append(
                    {
                        "event_id": ev.event_id,
                        "type": str(ev.type),
                        names[1]: decided[1],
                        names[0]: decided[0],
                        "label": verdict[0] if verdict else None,
                    }
                )
    return report


def format_report(report: BacktestReport) -> str:
    """A plain-text table of the report for the terminal."""
    d = report.as_dict()
    lines = [f"events: {d['events']}"]
    if report.has_labels:
        lines.append(
            f"labelled fraud events: {d['fraud_events']} (amount {d['fraud_amount_total']:,.2f}); "
            f"labelled legit: {d['legit_labelled_events']}; unlabelled count as not fraud"
        )
    for label, s in d["sets"].items():
        lines.append("")
        dec = ", ".join(f"{k} {v}" for k, v in s["decisions"].items())
        lines.append(f"[{label}] {s['version']}: {dec}")
        if report.has_labels:
            p, r = s["precision"], s["recall"]
            lines.append(
                f"  acted on {s['acted']}: precision {_pct(p)}, recall {_pct(r)}, "
                f"fraud amount caught {s['fraud_amount_caught']:,.2f}"
            )
            if s["recall_by_scenario"]:
                lines.append(
                    "  recall by scenario: "
                    + ", ".join(f"{k} {_pct(v)}" for k, v in s["recall_by_scenario"].items())
                )
        head = f"  {'rule':36s} {'hits':>6s} {'rate':>7s} {'uniq':>5s}"
        if report.has_labels:
            head += f" {'prec':>6s} {'recall':>6s} {'fraud amt':>12s}"
        lines.append(head + "  top overlap")
        for r in s["rules"]:
            row = (
                f"  {r['rule'][:36]:36s} {r['hits']:6d} {r['hit_rate']:7.2%} {r['unique_hits']:5d}"
            )
            if report.has_labels:
                row += f" {_pct(r['precision']):>6s} {_pct(r['recall']):>6s} "
                row += f"{r['fraud_amount_caught']:12,.0f}"
            ov = r["overlap"][0] if r["overlap"] else None
            row += f"  {ov['rule']} ({ov['share']:.0%})" if ov else ""
            row += "  [shadow]" if r["status"] == "shadow" else ""
            lines.append(row)
    if d["changes"]:
        lines.append("")
        lines.append(
            "decision changes (baseline->candidate): "
            + ", ".join(f"{k} {v}" for k, v in sorted(d["changes"].items()))
        )
    return "\n".join(lines)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"
