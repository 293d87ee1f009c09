"""The edge's limits: what any JSON a client sends must respect before it is validated.

One set of limits holds on every path that reads events or labels (the single and
batch endpoints, labels, replay, the analyst API's backtest), so what one path accepts
another never refuses, and nothing accepted can break a restart later:

- JSON is decoded by one parser (orjson): ``NaN``/``Infinity`` are refused, numbers
  beyond a double are refused, objects nest at most ``max_depth`` levels;
- object keys are at most ``max_key`` characters, free-form strings at most
  ``max_string`` (the media fields keep their own, larger limits), an event holds at
  most ``max_nodes`` JSON values;
- timestamps lie between ``earliest`` and the server's clock plus ``future_skew_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Base64 media: bounded by the model (and the body limit), not by ``max_string``.
_MEDIA_KEYS = frozenset({"image_b64", "audio_b64"})


@dataclass(frozen=True, slots=True)
class Limits:
    """Structural and time limits of the wire format (see docs/events.md, "Limits")."""

    max_depth: int = 32
    max_key: int = 128
    max_string: int = 8192
    max_nodes: int = 20_000
    future_skew_s: float = 300.0
    earliest: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def time_problem(self, at: datetime) -> str | None:
        """Why ``at`` (UTC) is outside the accepted range, or ``None``."""
        if at < self.earliest:
            return f"must not be before {self.earliest.isoformat()}"
        if at.timestamp() > self.clock() + self.future_skew_s:
            return (
                f"is in the future: more than {self.future_skew_s:g} s ahead of the server's clock"
            )
        return None


DEFAULT_LIMITS = Limits()

# Rebuilding from the store must never refuse what was accepted when it arrived.
STORED_LIMITS = Limits(future_skew_s=float("inf"), earliest=datetime.min.replace(tzinfo=UTC))


def structure_problem(value: Any, limits: Limits) -> tuple[tuple[str | int, ...], str] | None:
    """The first place where ``value`` breaks the structural limits: ``(path, message)``.

    Iterative, so a hostile nesting depth cannot exhaust the Python stack.
    """
    stack: list[tuple[Any, tuple[str | int, ...], int]] = [(value, (), 1)]
    nodes = 0
    while stack:
        node, path, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            return (), f"holds more than {limits.max_nodes} JSON values"
        if isinstance(node, dict):
            if depth > limits.max_depth:
                return path, f"nests deeper than {limits.max_depth} levels"
            for key, item in node.items():
                if len(key) > limits.max_key:
                    return (*path, key[:32]), f"key longer than {limits.max_key} characters"
                if isinstance(item, str):
                    if key not in _MEDIA_KEYS and len(item) > limits.max_string:
                        return (*path, key), f"longer than {limits.max_string} characters"
                elif isinstance(item, dict | list):
                    stack.append((item, (*path, key), depth + 1))
        elif isinstance(node, list):
            if depth > limits.max_depth:
                return path, f"nests deeper than {limits.max_depth} levels"
            for index, item in enumerate(node):
                if isinstance(item, str):
                    if len(item) > limits.max_string:
                        return (*path, index), f"longer than {limits.max_string} characters"
                elif isinstance(item, dict | list):
                    stack.append((item, (*path, index), depth + 1))
    return None
