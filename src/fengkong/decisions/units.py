"""What the engine hands between its steps: an accepted event, a unit being decided."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from fengkong.decisions.store import DecisionRecord
from fengkong.decisions.types import Decision, HeldWrite
from fengkong.events import Event

DecisionDict = dict[str, Any]


class ChallengeIssuer(Protocol):
    """Creates the step-up a ``challenge`` decision asks for (identity.challenges)."""

    def issue(self, event: Event, decision: Decision) -> Decision: ...


class IdempotencyConflict(ValueError):
    """The ``event_id`` was already used with a different body (HTTP 409)."""

    def __init__(self, event_id: str, field: str = "event_id") -> None:
        self.event_id = event_id
        self.field = field
        super().__init__(f"{field}: event {event_id!r} was already received with a different body")


@dataclass(frozen=True, slots=True)
class Accepted:
    """An event past validation, with its canonical body and fingerprint."""

    event: Event
    canonical: bytes
    digest: str


Waiter = Future[None] | asyncio.Future[None]


@dataclass(slots=True)
class Unit:
    """The events of one unit of work: their answers, records, commit and held writes."""

    results: list[DecisionDict] = field(default_factory=list)
    answers: dict[str, DecisionDict] = field(default_factory=dict)
    records: list[DecisionRecord] = field(default_factory=list)
    # The unit's own commit (``own``) and the in-flight units it reuses answers of.
    waits: list[Waiter] = field(default_factory=list)
    own: Waiter | None = None
    epoch: int = 0
    # The remote states' changes of the unit, written once it is committed.
    held: list[HeldWrite] = field(default_factory=list)
