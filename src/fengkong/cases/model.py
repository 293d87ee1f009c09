"""The case model: what a case is, how it moves, where it goes, what closing it teaches.

Pure: no I/O. The storage layer keeps cases in the database
(:mod:`fengkong.storage.cases_sqlite`); the console and the API act on them.

A case gathers the ``review`` decisions of one account, or of one ring (the accounts
``fengkong graph mine`` found together). It moves open → investigating → closed, and
closes with an outcome: confirmed fraud, false positive, or inconclusive. Closing as
fraud or false positive writes labels on the case's accounts and events, so the models
and the rules' precision learn from the analysts' answers.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

Status = Literal["open", "investigating", "closed"]
Outcome = Literal["confirmed_fraud", "false_positive", "inconclusive"]
Kind = Literal["account", "ring"]

STATUSES: Final[tuple[Status, ...]] = ("open", "investigating", "closed")
OUTCOMES: Final[tuple[Outcome, ...]] = ("confirmed_fraud", "false_positive", "inconclusive")
ACTIVE: Final[tuple[Status, ...]] = ("open", "investigating")

# The label each outcome writes (inconclusive writes none: nothing was learnt).
OUTCOME_LABEL: Final[dict[str, str | None]] = {
    "confirmed_fraud": "fraud",
    "false_positive": "legit",
    "inconclusive": None,
}

# Which status a case may move to from which.
_MOVES: Final[dict[str, frozenset[str]]] = {
    "open": frozenset({"investigating", "closed"}),
    "investigating": frozenset({"open", "closed"}),
    "closed": frozenset({"open"}),
}


class CaseError(ValueError):
    """A case action that the case's state does not allow; ``field`` names the input."""

    def __init__(self, message: str, field: str = "case") -> None:
        super().__init__(message)
        self.field = field


def check_move(current: str, target: str) -> None:
    """Raise :class:`CaseError` unless a case in ``current`` may move to ``target``."""
    if target not in STATUSES:
        raise CaseError(f"unknown status {target!r}; one of {', '.join(STATUSES)}", "status")
    if target not in _MOVES.get(current, frozenset()):
        raise CaseError(f"a {current} case cannot move to {target}", "status")


def check_outcome(outcome: str) -> Outcome:
    for known in OUTCOMES:
        if outcome == known:
            return known
    raise CaseError(f"unknown outcome {outcome!r}; one of {', '.join(OUTCOMES)}", "outcome")


@dataclass(frozen=True, slots=True)
class Inbox:
    """A queue of cases: the reasons it takes (glob patterns on ``source:name``) and its SLA.

    >>> Inbox("money", ("rule:money_*",), 3600).takes(["rule:money_after_failed_challenges"])
    True
    """

    name: str
    patterns: tuple[str, ...]
    sla_s: float
    title: str = ""

    def takes(self, reasons: Iterable[str]) -> bool:
        return any(fnmatch.fnmatchcase(r, p) for r in reasons for p in self.patterns)


DEFAULT_INBOX: Final = Inbox("general", ("*",), 24 * 3600.0, "General review")


def route(inboxes: Sequence[Inbox], reasons: Iterable[str]) -> Inbox:
    """The first inbox (in order) that takes any of ``reasons``; else the general one."""
    names = list(reasons)
    for inbox in inboxes:
        if inbox.takes(names):
            return inbox
    return DEFAULT_INBOX


def reason_keys(decision: dict[str, Any]) -> list[str]:
    """``source:name`` of a decision's reasons (``rule:velocity``, ``model:r3``, ...)."""
    return [f"{r.get('source', '')}:{r.get('name', '')}" for r in decision.get("reasons", [])]


@dataclass(slots=True)
class Case:
    """One case as stored."""

    case_id: str
    kind: str
    subject: str
    status: str
    inbox: str
    opened_at: float
    updated_at: float
    due_at: float
    outcome: str | None = None
    assignee: str | None = None
    closed_at: float | None = None
    decisions: int = 0
    top_score: float = 0.0
    last_event_id: str | None = None
    escalated: bool = False
    members: list[str] = field(default_factory=list)

    def breached(self, now: float) -> bool:
        """Past its SLA while still open or under investigation."""
        return self.status != "closed" and now > self.due_at

    def as_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "kind": self.kind,
            "subject": self.subject,
            "status": self.status,
            "outcome": self.outcome,
            "inbox": self.inbox,
            "assignee": self.assignee,
            "opened_at": self.opened_at,
            "updated_at": self.updated_at,
            "due_at": self.due_at,
            "closed_at": self.closed_at,
            "decisions": self.decisions,
            "top_score": self.top_score,
            "last_event_id": self.last_event_id,
            "escalated": self.escalated,
            "members": self.members,
        }


@dataclass(frozen=True, slots=True)
class LabelDraft:
    """A label a closing writes: on an event or on an account, never both."""

    event_id: str | None
    user_id: str | None
    label: str
    at: float


def closing_labels(
    outcome: str, accounts: Sequence[str], event_ids: Sequence[str], at: float
) -> list[LabelDraft]:
    """The labels closing with ``outcome`` writes: every account and every reviewed event."""
    value = OUTCOME_LABEL[check_outcome(outcome)]
    if value is None:
        return []
    drafts = [LabelDraft(None, a, value, at) for a in dict.fromkeys(accounts)]
    drafts += [LabelDraft(e, None, value, at) for e in dict.fromkeys(event_ids)]
    return drafts


def round_robin(analysts: Sequence[str], last: str | None) -> str:
    """The analyst after ``last`` in ``analysts`` (the first when ``last`` is not there)."""
    if not analysts:
        raise CaseError("no analyst to assign to", "assignee")
    if last is not None and last in analysts:
        return analysts[(list(analysts).index(last) + 1) % len(analysts)]
    return analysts[0]
