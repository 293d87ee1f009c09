"""Replay: a stream of events through the same engine, in batches, one answer per line."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from typing import Any

from fengkong.decisions.engine import Engine
from fengkong.decisions.units import Accepted, IdempotencyConflict
from fengkong.events import EventValidationError


def _error(line: int, errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"line": line, "errors": errors}


def replay(
    engine: Engine, lines: Iterable[tuple[int, bytes]], batch_size: int = 1000
) -> Iterator[list[dict[str, Any]]]:
    """Decide each ``(line_number, json)``; yield each batch's answers once durable.

    Every line gets one answer, in order: its decision, or ``{"line": n, "errors": [...]}``
    when it is not a valid event (or reuses an ``event_id`` with another body).
    Already-stored events get their stored decision, which is what makes a replay
    resumable after a crash.
    """
    batch: list[tuple[int, Accepted | dict[str, Any]]] = []
    for number, raw in lines:
        try:
            batch.append((number, engine.accept(raw)))
        except EventValidationError as exc:
            batch.append((number, _error(number, [e.as_dict() for e in exc.errors])))
        if len(batch) >= batch_size:
            yield _decide_batch(engine, batch)
            batch = []
            # Feature state only grows during a replay and is freed by reference
            # counting; freezing it spares the cyclic GC from rescanning it every batch.
            gc.freeze()
    if batch:
        yield _decide_batch(engine, batch)


def _decide_batch(
    engine: Engine, batch: list[tuple[int, Accepted | dict[str, Any]]]
) -> list[dict[str, Any]]:
    items = [item for _, item in batch if isinstance(item, Accepted)]
    try:
        decided = iter(engine.decide_many(items))
    except IdempotencyConflict:
        # Rare: fall back to one at a time so only the conflicting lines fail.
        return [_decide_one(engine, number, item) for number, item in batch]
    return [next(decided) if isinstance(item, Accepted) else item for _, item in batch]


def _decide_one(engine: Engine, number: int, item: Accepted | dict[str, Any]) -> dict[str, Any]:
    if not isinstance(item, Accepted):
        return item
    try:
        return engine.decide_many([item])[0]
    except IdempotencyConflict as exc:
        return _error(number, [{"field": exc.field, "msg": str(exc), "type": "conflict"}])
