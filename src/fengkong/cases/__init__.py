"""Cases: the review decisions of an account or a ring, worked by analysts."""

from fengkong.cases.model import (
    ACTIVE,
    DEFAULT_INBOX,
    OUTCOMES,
    STATUSES,
    Case,
    CaseError,
    Inbox,
    LabelDraft,
    check_move,
    check_outcome,
    closing_labels,
    reason_keys,
    round_robin,
    route,
)

__all__ = [
    "ACTIVE",
    "DEFAULT_INBOX",
    "OUTCOMES",
    "STATUSES",
    "Case",
    "CaseError",
    "Inbox",
    "LabelDraft",
    "check_move",
    "check_outcome",
    "closing_labels",
    "reason_keys",
    "round_robin",
    "route",
]
