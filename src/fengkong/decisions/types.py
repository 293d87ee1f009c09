"""What a decision is made of: actions, reasons, warnings and the working context."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal, Protocol

from fengkong.events import Event, Label
from fengkong.events.fields import EventFields

ChallengeKind = Literal["otp", "biometric", "voice"]
CHALLENGE_KINDS: tuple[ChallengeKind, ...] = ("otp", "biometric", "voice")
# The wire format (EVENTS.md) knows these four sources; clients may check them.
ReasonSource = Literal["rule", "model", "list", "graph"]
FeatureValue = float | int | str | bool | None


class Action(IntEnum):
    """Decision outcomes in severity order: the most severe proposal wins."""

    ALLOW = 0
    CHALLENGE = 1
    REVIEW = 2
    BLOCK = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Action:
        return cls[text.upper()]


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a decision came out as it did: a rule hit, a model reason code, a list match."""

    source: ReasonSource
    name: str
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"source": self.source, "name": self.name, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class UserWarning:
    """A message to show the user (e.g. a scam warning); it can stand on an ``allow``."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class Proposal:
    """One stage's wish for the outcome, with the reason behind it."""

    action: Action
    reason: Reason
    challenge: ChallengeKind | None = None


@dataclass(slots=True)
class DecisionContext:
    """Everything the stages learn about one event, filled in stage by stage.

    ``features`` holds point-in-time values (state *before* this event) keyed by
    dotted names such as ``user.amount_zscore_30d``; ``facts`` holds enrichment
    (device key, IP facts, ...) keyed the same way (``ip.is_datacenter``).
    """

    event: Event
    facts: dict[str, FeatureValue] = field(default_factory=dict)
    features: dict[str, FeatureValue] = field(default_factory=dict)
    proposals: list[Proposal] = field(default_factory=list)
    warnings: list[UserWarning] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)
    rule_points: float = 0.0
    model_score: float | None = None
    versions: dict[str, str] = field(default_factory=dict)
    explain: dict[str, Any] = field(default_factory=dict)
    # A credit offer (tier, limit, rate, term) for credit applications and limit raises.
    offer: dict[str, Any] | None = None
    # The event's fields as plain attributes, for the stages' hot reads (copied once).
    fields: EventFields = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.fields = EventFields(self.event)

    def propose(
        self, action: Action, reason: Reason, challenge: ChallengeKind | None = None
    ) -> None:
        self.proposals.append(Proposal(action, reason, challenge))

    def warn(self, code: str, message: str) -> None:
        if all(w.code != code for w in self.warnings):
            self.warnings.append(UserWarning(code, message))

    def value(self, name: str) -> FeatureValue:
        """A feature or fact by its dotted name (features win), ``None`` when unknown."""
        if name in self.features:
            return self.features[name]
        return self.facts.get(name)


class Stage(Protocol):
    """One step of the pipeline; it reads and extends the context.

    A stage with state learnt from events splits its step in two (see
    :class:`StatefulStage`): ``read`` (its outputs for this event from the state before
    it) and ``update`` (add this event). The engine reads every stage, decides, and
    applies the updates in log order; ``run`` stays the whole step (read, then update)
    for callers outside the engine. A stage with only ``run`` is stateless: the engine
    calls ``run`` while reading and nothing after.
    """

    name: str

    def run(self, ctx: DecisionContext) -> None: ...


class HeldWrite(Protocol):
    """A decided event's changes to a remote state, held until its decision is in the
    log: ``committed`` set once it is, ``written`` once the state has them."""

    committed: bool
    written: bool


class EventCycle(Protocol):
    """Per-event I/O that several stages' remote states share (the ``cycle`` attribute
    of a stage, the same object for all of them): :meth:`open_event` before the stages
    read (fetch every stage's entities of the event at once), :meth:`close_event`
    after their updates (hold all their changes, visible to the next events of this
    process, until the decision is committed); :meth:`flush` writes the held changes of
    the committed decisions, in order; :meth:`settle`, after a failed commit, writes
    those and drops the rest."""

    def open_event(self, event: Event) -> None: ...

    def close_event(self, event_id: str) -> HeldWrite | None: ...

    def flush(self) -> None: ...

    def settle(self) -> None: ...


class StatefulStage(Stage, Protocol):
    """A stage with state learnt from events (features, graph); rebuilt on restart.

    ``read`` must not change what later events see (lazy expiry and caches are fine);
    ``update`` and ``observe`` add the event (``observe`` without a decision context,
    for rebuilds). ``snapshot`` / ``restore`` save and reload the whole state (a pickle
    of plain data: restart and recovery aid, never an exchange format); ``restore``
    raises ``ValueError`` for a snapshot it cannot take.
    """

    def read(self, ctx: DecisionContext) -> None:
        """Write this stage's outputs for ``ctx.event`` from the state before it."""
        ...

    def update(self, ctx: DecisionContext) -> None:
        """Add ``ctx.event`` to the state (after :meth:`read`, with its context)."""
        ...

    def observe(self, event: Event) -> None:
        """Update state with ``event`` as :meth:`update` would, without deciding."""
        ...

    def horizon_seconds(self) -> float:
        """How far back events matter for the state (the longest window)."""
        ...

    def snapshot(self) -> bytes: ...

    def restore(self, data: bytes) -> None: ...


class Declared(Protocol):
    """What a stage declares: the names it writes (with their rule types) and reads.

    ``outputs`` maps each feature or fact name it writes to ``"num"``, ``"bool"``,
    ``"str"`` or ``"any"``; ``inputs`` lists the context names it reads (``"device.key"``).
    The names rules may read are derived from these declarations (``rule_known_names``).
    """

    outputs: dict[str, str]
    inputs: tuple[str, ...]


class LabelAware(Protocol):
    """A stage that learns from labels (e.g. the graph's known-fraud accounts)."""

    def apply_label(self, label: Label) -> None:
        """Take ``label`` into account from its ``at`` time on."""
        ...


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one event, in the wire format of EVENTS.md."""

    event_id: str
    decision: Action
    challenge: ChallengeKind | None
    score: float
    warnings: tuple[UserWarning, ...]
    reasons: tuple[Reason, ...]
    versions: dict[str, str]
    latency_ms: float
    durable: bool = True
    offer: dict[str, Any] | None = None
    # Set when a challenge service issued the step-up this decision asks for.
    challenge_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "decision": self.decision.label,
            "challenge": self.challenge,
            "score": round(self.score, 6),
            "warnings": [w.as_dict() for w in self.warnings],
            "reasons": [r.as_dict() for r in self.reasons],
            "versions": self.versions,
            "latency_ms": round(self.latency_ms, 3),
        }
        if self.offer is not None:
            out["offer"] = self.offer
        if self.challenge_id is not None:
            out["challenge_id"] = self.challenge_id
        if not self.durable:
            out["durable"] = False
        return out
