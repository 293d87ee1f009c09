"""What a risk team asks of a decision log: what was caught, how early, at whose cost.

Inputs are the three JSON Lines files of the wire format: events (in ``occurred_at``
order), labels (fraud labels on events and accounts, with ``scenario``) and decisions.
An event is *flagged* when its decision is challenge, review or block.

* Fraud events: events with a fraud label. An attack's *accounts* are the accounts that
  acted in its fraud events (attacker accounts and victims' accounts alike); an account
  counts as caught when any of its fraud events of that scenario was flagged.
* Money moved: per account, the amounts of its fraud money events that were allowed
  before the first flagged one; "money saved" is the rest.
* Honest events: events without a fraud label whose account is not a fraud account.
  Victims stay honest accounts: their own activity is honest.
* Honest account friction is per 14 days, the protocol's target: on a longer stream,
  the worst of its 14-day windows (sliding by a day from the first event), each over
  the honest accounts that acted in it.
"""

from __future__ import annotations

from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

DECISIONS = ("allow", "challenge", "review", "block")
FLAGGED = frozenset({"challenge", "review", "block"})
# Scenarios where the victim acts: a warning shown to them counts as detection.
WARNING_COUNTS = frozenset({"fake_customer_service", "phishing_qr"})
# The protocol's targets (docs/evaluation.md).
TARGET_EVENT_RECALL = 0.9
TARGET_ACCOUNT_RECALL = 0.95
TARGET_HONEST_EVENTS_NOT_ALLOWED = 0.003
TARGET_HONEST_ACCOUNTS_NOT_ALLOWED = 0.02
# The friction target counts honest accounts touched within this many days.
FRICTION_WINDOW_DAYS = 14
MONEY_TYPES = frozenset({"payment", "credit_draw", "transfer", "withdrawal"})
_SEVERITY = {d: i for i, d in enumerate(DECISIONS)}


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Decoded objects of a JSON Lines file, skipping blank lines."""
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                obj = orjson.loads(line)
                if isinstance(obj, dict):
                    yield obj


@dataclass
class ScenarioResult:
    """Detection of one scenario."""

    name: str
    events: int = 0
    flagged_events: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    accounts: int = 0
    caught_accounts: int = 0
    money_total: float = 0.0
    money_moved: float = 0.0

    @property
    def event_recall(self) -> float:
        return self.flagged_events / self.events if self.events else float("nan")

    @property
    def account_recall(self) -> float:
        return self.caught_accounts / self.accounts if self.accounts else float("nan")

    @property
    def money_saved(self) -> float:
        """Share of the attack's money that was not moved before it was first stopped."""
        if self.money_total <= 0:
            return float("nan")
        return 1.0 - self.money_moved / self.money_total


@dataclass
class Evaluation:
    """Everything the table and the HTML report show."""

    scenarios: dict[str, ScenarioResult]
    honest_events: int
    honest_event_decisions: Counter[str]
    honest_accounts: int
    honest_account_worst: Counter[str]  # accounts by the most severe decision they got
    honest_accounts_with: Counter[str]  # accounts that got each decision at least once
    fraud_decisions: Counter[str]
    missing_decisions: int
    latencies_ms: np.ndarray[Any, np.dtype[np.float64]]
    honest_scores: np.ndarray[Any, np.dtype[np.float64]]
    fraud_scores: np.ndarray[Any, np.dtype[np.float64]]
    honest_accounts_not_allowed: int = 0  # accounts with any challenge, review or block
    # Honest events allowed with a warning shown to the user, and their accounts: no
    # friction in the targets' sense, but what warning fatigue is made of.
    honest_events_warned: int = 0
    honest_accounts_warned: int = 0
    # (first day, honest accounts that acted, those not allowed) per 14-day window.
    friction_windows: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def honest_events_not_allowed(self) -> int:
        return sum(self.honest_event_decisions[d] for d in FLAGGED)

    @property
    def honest_event_friction(self) -> float:
        """Share of honest events not allowed (challenged, reviewed or blocked)."""
        n = self.honest_events
        return self.honest_events_not_allowed / n if n else float("nan")

    @property
    def honest_account_friction(self) -> float:
        """Share of honest accounts that met any challenge, review or block."""
        n = self.honest_accounts
        return self.honest_accounts_not_allowed / n if n else float("nan")

    @property
    def honest_warned_shares(self) -> tuple[float, float]:
        """Shares of honest events, and of honest accounts, allowed with a warning."""
        return (
            _share(self.honest_events_warned, self.honest_events),
            _share(self.honest_accounts_warned, self.honest_accounts),
        )

    @property
    def worst_friction_window(self) -> tuple[int, int, int] | None:
        """The 14-day window with the largest share of honest accounts not allowed."""
        if not self.friction_windows:
            return None
        return max(self.friction_windows, key=lambda w: (w[2] / w[1] if w[1] else 0.0, -w[0]))

    @property
    def honest_account_friction_14d(self) -> float:
        """Share of honest accounts not allowed in the worst 14-day window (the target's
        measure); the whole stream's share when no day could be read."""
        worst = self.worst_friction_window
        if worst is None:
            return self.honest_account_friction
        return worst[2] / worst[1] if worst[1] else float("nan")

    def targets(self) -> dict[str, bool]:
        """Each target of the protocol: met or not (NaN recall counts as not met)."""
        out = {
            "honest_events_not_allowed": self.honest_event_friction
            <= TARGET_HONEST_EVENTS_NOT_ALLOWED,
            "honest_accounts_not_allowed": self.honest_account_friction_14d
            <= TARGET_HONEST_ACCOUNTS_NOT_ALLOWED,
        }
        for name, r in sorted(self.scenarios.items()):
            out[f"{name}.event_recall"] = r.event_recall >= TARGET_EVENT_RECALL
            out[f"{name}.account_recall"] = r.account_recall >= TARGET_ACCOUNT_RECALL
        return out

    def fp_rate(self, decision: str) -> float:
        """Share of honest events that got ``decision``."""
        n = self.honest_events
        return self.honest_event_decisions[decision] / n if n else float("nan")

    def account_fp_rate(self, decision: str) -> float:
        """Share of honest accounts that got ``decision`` at least once."""
        n = self.honest_accounts
        return self.honest_accounts_with[decision] / n if n else float("nan")

    def latency(self, q: float) -> float:
        return (
            float(np.percentile(self.latencies_ms, q)) if self.latencies_ms.size else float("nan")
        )

    @property
    def has_scores(self) -> bool:
        return bool(self.honest_scores.size and self.fraud_scores.size)

    def pr_curve(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], float]:
        """Precision, recall at every score threshold, and the average precision."""
        return precision_recall(self.fraud_scores, self.honest_scores)

    def totals(self) -> ScenarioResult:
        out = ScenarioResult("all")
        for r in self.scenarios.values():
            out.events += r.events
            out.flagged_events += r.flagged_events
            out.accounts += r.accounts
            out.caught_accounts += r.caught_accounts
            out.money_total += r.money_total
            out.money_moved += r.money_moved
            out.decisions.update(r.decisions)
        return out

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if x != x else round(x, 6)

        scen = {
            name: {
                "events": r.events,
                "event_recall": num(r.event_recall),
                "accounts": r.accounts,
                "account_recall": num(r.account_recall),
                "money_saved": num(r.money_saved),
                "decisions": dict(r.decisions),
            }
            for name, r in sorted(self.scenarios.items())
        }
        out: dict[str, Any] = {
            "scenarios": scen,
            "honest": {
                "events": self.honest_events,
                "accounts": self.honest_accounts,
                "event_fp_rate": {d: num(self.fp_rate(d)) for d in FLAGGED},
                "account_fp_rate": {d: num(self.account_fp_rate(d)) for d in FLAGGED},
                "decisions": dict(self.honest_event_decisions),
                "events_not_allowed": num(self.honest_event_friction),
                "accounts_not_allowed": num(self.honest_account_friction),
                "accounts_not_allowed_14d": num(self.honest_account_friction_14d),
                "events_warned": num(self.honest_warned_shares[0]),
                "accounts_warned": num(self.honest_warned_shares[1]),
                "windows_14d": [
                    {"first_day": d, "accounts": n, "not_allowed": k}
                    for d, n, k in self.friction_windows
                ],
            },
            "targets": self.targets(),
            "missing_decisions": self.missing_decisions,
            "latency_ms": {"p50": num(self.latency(50)), "p99": num(self.latency(99))},
        }
        if self.has_scores:
            out["average_precision"] = num(self.pr_curve()[2])
        return out


def precision_recall(
    fraud: np.ndarray[Any, Any], honest: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], float]:
    """Precision and recall over descending score thresholds; AP = Σ ΔR·P (ties grouped)."""
    scores = np.concatenate([fraud, honest])
    truth = np.concatenate([np.ones(fraud.size), np.zeros(honest.size)])
    if not fraud.size:
        return np.array([1.0]), np.array([0.0]), float("nan")
    order = np.argsort(-scores, kind="stable")
    scores, truth = scores[order], truth[order]
    tp = np.cumsum(truth)
    fp = np.cumsum(1 - truth)
    # Only the last index of each run of equal scores is a real threshold.
    last = np.r_[np.nonzero(np.diff(scores))[0], scores.size - 1]
    precision = tp[last] / (tp[last] + fp[last])
    recall = tp[last] / fraud.size
    delta = np.diff(np.r_[0.0, recall])
    return precision, recall, float(np.sum(delta * precision))


@dataclass(slots=True)
class _Decision:
    decision: str
    score: float | None
    latency_ms: float | None
    warned: bool = False


def friction_windows(
    active: dict[str, int], touched: dict[str, int], window: int = FRICTION_WINDOW_DAYS
) -> list[tuple[int, int, int]]:
    """(first day, accounts active, accounts touched) of each ``window``-day window.

    ``active`` and ``touched`` map an account to a bit mask of days (bit d: day d).
    Windows slide by one day and lie inside the stream; a shorter stream is one window.

    >>> friction_windows({"a": 0b11, "b": 0b100}, {"a": 0b10}, window=2)
    [(0, 1, 1), (1, 2, 1)]
    """
    if not active:
        return []
    last = max(mask.bit_length() for mask in active.values()) - 1
    out = []
    for first in range(max(1, last - window + 2)):
        span = ((1 << window) - 1) << first
        n = sum(1 for mask in active.values() if mask & span)
        k = sum(1 for mask in touched.values() if mask & span)
        out.append((first, n, k))
    return out


def _day(occurred_at: Any, start: list[float]) -> int | None:
    """Days since the stream's first readable ``occurred_at`` (kept in ``start``)."""
    try:
        t = datetime.fromisoformat(str(occurred_at)).timestamp()
    except ValueError:
        return None
    if not start:
        start.append(t)
    return max(0, int((t - start[0]) // 86_400))


def load_decisions(path: Path) -> dict[str, _Decision]:
    out: dict[str, _Decision] = {}
    for d in read_jsonl(path):
        eid = d.get("event_id")
        kind = d.get("decision")
        if not isinstance(eid, str) or kind not in _SEVERITY:
            continue
        score = d.get("score")
        lat = d.get("latency_ms")
        out[eid] = _Decision(
            str(kind),
            float(score) if isinstance(score, int | float) else None,
            float(lat) if isinstance(lat, int | float) else None,
            bool(d.get("warnings")),
        )
    return out


def load_labels(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Fraud events and fraud accounts, each mapped to its scenario (or "unknown")."""
    events: dict[str, str] = {}
    accounts: dict[str, str] = {}
    for lab in read_jsonl(path):
        if lab.get("label") != "fraud":
            continue
        scenario = str(lab.get("scenario") or "unknown")
        if isinstance(lab.get("event_id"), str):
            events[lab["event_id"]] = scenario
        elif isinstance(lab.get("user_id"), str):
            accounts[lab["user_id"]] = scenario
    return events, accounts


def evaluate(
    events: Iterable[dict[str, Any]],
    fraud_events: dict[str, str],
    fraud_accounts: dict[str, str],
    decisions: dict[str, _Decision],
) -> Evaluation:
    """Compute the evaluation from events in time order, labels and decisions."""
    scen: dict[str, ScenarioResult] = {}
    # (scenario, user) -> [first flagged seen?, caught?]; accounts are few, fine in memory.
    acct_stopped: dict[tuple[str, str], bool] = {}
    honest_worst: dict[str, int] = {}
    honest_with: defaultdict[str, set[str]] = defaultdict(set)
    honest_dec: Counter[str] = Counter()
    fraud_dec: Counter[str] = Counter()
    latencies = array("d")
    h_scores, f_scores = array("d"), array("d")
    missing = 0
    honest_n = 0
    honest_warned = 0
    warned_users: set[str] = set()
    start: list[float] = []
    active_days: defaultdict[str, int] = defaultdict(int)
    touched_days: defaultdict[str, int] = defaultdict(int)
    for ev in events:
        eid, user = ev.get("event_id"), ev.get("user_id")
        if not isinstance(eid, str) or not isinstance(user, str):
            continue
        dec = decisions.get(eid)
        if dec is None:
            missing += 1
            continue
        if dec.latency_ms is not None:
            latencies.append(dec.latency_ms)
        scenario = fraud_events.get(eid)
        flagged = dec.decision in FLAGGED
        if scenario is not None:
            flagged = flagged or (dec.warned and scenario in WARNING_COUNTS)
            r = scen.setdefault(scenario, ScenarioResult(scenario))
            r.events += 1
            r.flagged_events += flagged
            r.decisions[dec.decision] += 1
            fraud_dec[dec.decision] += 1
            if dec.score is not None:
                f_scores.append(dec.score)
            key = (scenario, user)
            stopped = acct_stopped.get(key)
            if stopped is None:
                r.accounts += 1
                stopped = False
            if flagged and not stopped:
                r.caught_accounts += 1
                stopped = True
            acct_stopped[key] = stopped
            if ev.get("type") in MONEY_TYPES:
                amount = _amount(ev.get("amount"))
                r.money_total += amount
                if not stopped:
                    r.money_moved += amount
        elif user not in fraud_accounts:
            honest_n += 1
            honest_dec[dec.decision] += 1
            sev = _SEVERITY[dec.decision]
            if sev > honest_worst.get(user, -1):
                honest_worst[user] = sev
            if flagged:
                honest_with[dec.decision].add(user)
            elif dec.warned:
                honest_warned += 1
                warned_users.add(user)
            day = _day(ev.get("occurred_at"), start)
            if day is not None:
                active_days[user] |= 1 << day
                if flagged:
                    touched_days[user] |= 1 << day
            if dec.score is not None:
                h_scores.append(dec.score)
    return Evaluation(
        scenarios=scen,
        honest_events=honest_n,
        honest_event_decisions=honest_dec,
        honest_accounts=len(honest_worst),
        honest_account_worst=Counter(DECISIONS[s] for s in honest_worst.values()),
        honest_accounts_with=Counter({d: len(users) for d, users in honest_with.items()}),
        fraud_decisions=fraud_dec,
        missing_decisions=missing,
        latencies_ms=np.frombuffer(latencies, dtype=np.float64),
        honest_scores=np.frombuffer(h_scores, dtype=np.float64),
        fraud_scores=np.frombuffer(f_scores, dtype=np.float64),
        honest_accounts_not_allowed=len(set().union(*honest_with.values())),
        friction_windows=friction_windows(active_days, touched_days),
        honest_events_warned=honest_warned,
        honest_accounts_warned=len(warned_users),
    )


def _share(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")


def _amount(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def evaluate_files(events: Path, labels: Path, decisions: Path) -> Evaluation:
    """:func:`evaluate` over the three JSON Lines files."""
    fraud_events, fraud_accounts = load_labels(labels)
    return evaluate(read_jsonl(events), fraud_events, fraud_accounts, load_decisions(decisions))
