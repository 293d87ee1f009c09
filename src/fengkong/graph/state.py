"""The interface of the graph's state: what the graph stage runs on.

The graph stage reads an event's ring features from the state before it and, once the
event is committed, links it in; labels take effect from their own time. The in-memory
:class:`~fengkong.graph.online.OnlineGraph` (union-find generations) is the default and
the test double; a shared backend implements the same calls.
"""

from __future__ import annotations

from typing import Protocol


class GraphState(Protocol):
    """Ring features by account, point in time, over links aged by ``horizon``."""

    horizon: float
    # Nodes one generation may hold (0: no cap); beyond it the oldest history goes first.
    max_nodes: int
    clock: float

    def features(self, ts: float, account: str, keys: list[str]) -> dict[str, float | int | None]:
        """Ring features of ``account`` about to link to ``keys``, from the state before."""
        ...

    def observe_links(self, ts: float, account: str, keys: list[str]) -> None:
        """Link ``account`` to its identifier ``keys`` at ``ts`` (the update)."""
        ...

    def add_label(self, account: str, fraud: bool, at: float) -> None:
        """Mark ``account`` known-fraud (or clear it) from ``at`` on."""
        ...

    def node_count(self) -> int: ...
