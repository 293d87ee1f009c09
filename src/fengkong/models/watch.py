"""When a stage reads again what it keeps from the database (model roles, labels)."""

from __future__ import annotations

from collections.abc import Callable

# ``topic -> version`` of a change feed (``storage.changes.ChangeFeed.version``).
Changes = Callable[[str], int]


class Watch:
    """Whether ``topic`` may have changed since it was last read: per the change feed
    when one is wired, else once every ``every_s`` of the clock.

    >>> w = Watch("models")
    >>> w.due(None, 5.0, lambda: 3.0), w.due(None, 5.0, lambda: 6.0)
    (False, True)
    >>> w.due(lambda topic: 7, 5.0, lambda: 0.0), w.due(lambda topic: 7, 5.0, lambda: 0.0)
    (True, False)
    """

    __slots__ = ("checked", "seen", "topic")

    def __init__(self, topic: str, checked: float = 0.0) -> None:
        self.topic = topic
        self.checked = checked
        self.seen: int | None = None

    def due(self, changes: Changes | None, every_s: float, clock: Callable[[], float]) -> bool:
        if changes is not None:
            version = changes(self.topic)
            if version == self.seen:
                return False
            self.seen = version
            return True
        now = clock()
        if now - self.checked < every_s:
            return False
        self.checked = now
        return True

    def forget(self) -> None:
        """Read at the next :meth:`due`, whatever the feed or the clock says."""
        self.checked = float("-inf")
        self.seen = None
