"""Storage backends behind one small interface; the embedded SQLite store is the default."""

from fengkong.storage.group import GroupCommitter
from fengkong.storage.sqlite import SQLiteStore

__all__ = [
    "GroupCommitter",
    "SQLiteStore",
]
