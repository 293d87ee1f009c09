"""Storage backends behind one small interface; the embedded SQLite store is the default."""

from fengkong.storage.base import (
    DecisionRecord,
    DuplicateRecord,
    LabelRecord,
    NotAttempted,
    Stale,
    Store,
    StoredDecision,
)
from fengkong.storage.group import GroupCommitter
from fengkong.storage.sqlite import SQLiteStore

__all__ = [
    "DecisionRecord",
    "DuplicateRecord",
    "GroupCommitter",
    "LabelRecord",
    "NotAttempted",
    "SQLiteStore",
    "Stale",
    "Store",
    "StoredDecision",
]
