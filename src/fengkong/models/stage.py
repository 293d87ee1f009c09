"""Pipeline stage ``models``: the champion scores, the challenger shadows, drift is counted.

Place it after ``features`` and before ``rules`` (rules can then read
``model.anomaly_score``):

    registry = Registry(SQLiteModelStore(db))
    stage = ModelStage.from_registry(registry, defined=serving_definitions(engine),
                                     labels=SQLiteStore(db).labels)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Protocol

import numpy as np

from fengkong.decisions.state import dump_state, load_state
from fengkong.decisions.types import DecisionContext, FeatureValue, Reason
from fengkong.events import Event
from fengkong.features import FeatureEngine, feature_names
from fengkong.models.dataset import CONTEXT_DEFINITION, PointInTime
from fengkong.models.drift import ALERT_AT, psi
from fengkong.models.model import Model, ModelLoadError
from fengkong.models.registry import Registry
from fengkong.models.watch import Changes, Watch

log = logging.getLogger(__name__)
ANOMALY_FEATURE = "model.anomaly_score"


class _LabelLike(Protocol):
    @property
    def event_id(self) -> str | None: ...
    @property
    def label(self) -> str: ...
    @property
    def at(self) -> float: ...


def serving_definitions(engine: FeatureEngine) -> dict[str, str]:
    """Feature name -> definition text of the serving features engine."""
    out: dict[str, str] = {}
    for d in engine.definitions:
        for name in feature_names([d]):
            out[name] = d.text
    return out


class _Slot:
    """A loaded model with its own point-in-time blocks and live drift counts."""

    def __init__(
        self, model: Model, defined: Mapping[str, str], context: Iterable[str] = ()
    ) -> None:
        texts = model.feature_set.definition_texts()
        serving = dict(defined)
        # Context inputs are served by the stages composed before this one.
        for name in set(model.feature_set.context) & set(context):
            serving.setdefault(name, CONTEXT_DEFINITION)
        # The stage computes the models' own blocks itself: those are defined here.
        for name in model.feature_set.own_names():
            serving.setdefault(name, texts[name])
        model.check_features(serving)
        self.model = model
        self.pit = PointInTime(model.feature_set)
        self.live: list[tuple[float, ...]] = []
        self.version = model.version


class ModelStage:
    """Sets ``ctx.model_score`` and model reasons for the event types the champion knows.

    ``defined``: the serving features engine's definitions (:func:`serving_definitions`);
    a model whose inputs are not defined, or defined differently, refuses to load.
    ``reasons_at``: reason codes only for scores at or above it (set it to the policy's
    lowest score threshold, ``policy.challenge_at``; 0 explains every score).
    ``labels``: ``since -> label records`` (``SQLiteStore.labels``), polled at most every
    ``label_poll_s`` so the known-fraud features see labels as they arrive.
    """

    name = "models"
    outputs: ClassVar[Mapping[str, str]] = {ANOMALY_FEATURE: "num"}
    inputs: tuple[str, ...] = ()  # the champion's features, known once it is loaded

    def __init__(
        self,
        champion: Model | None,
        challenger: Model | None = None,
        *,
        defined: Mapping[str, str],
        labels: Callable[[float | None], Iterable[_LabelLike]] | None = None,
        label_poll_s: float = 5.0,
        reasons: int = 3,
        reasons_at: float = 0.5,
        drift_window: int = 10_000,
        clock: Callable[[], float] = time.time,
        context: Iterable[str] = (),
    ) -> None:
        self.defined = dict(defined)
        self.context = tuple(context)
        self.champion = None if champion is None else _Slot(champion, self.defined, self.context)
        self.challenger = (
            None if challenger is None else _Slot(challenger, self.defined, self.context)
        )
        self.labels = labels
        self.label_poll_s = label_poll_s
        self.reasons = reasons
        self.reasons_at = reasons_at
        self.drift_window = drift_window
        self.clock = clock
        self._label_since: float | None = None
        self._at_since: set[tuple[str | None, str]] = set()
        self._pending: list[tuple[float, str | None, str]] = []
        self.last_psi: dict[str, float] = {}
        self._registry: Registry | None = None
        self._roles: tuple[int | None, int | None] = (None, None)
        self.refresh_s = 5.0
        # With a change feed (the runtime wires it), roles and labels are read only
        # when they changed; else every ``refresh_s`` and ``label_poll_s``.
        self.changes: Changes | None = None
        self._watches = {"models": Watch("models"), "labels": Watch("labels", float("-inf"))}

    @classmethod
    def from_registry(
        cls, registry: Registry, *, defined: Mapping[str, str], **options: Any
    ) -> ModelStage:
        """Champion and challenger from the registry; role changes are picked up live."""
        stage = cls(None, None, defined=defined, **options)
        stage._registry = registry
        stage._reload(force=True)
        return stage

    def close(self) -> None:
        """Close the registry the stage was built from (its connection to the database)."""
        if self._registry is not None:
            self._registry.close()

    def _reload(self, force: bool = False) -> None:
        reg = self._registry
        if reg is None:
            return
        if not force and not self._due("models"):
            return
        roles = (reg.role("champion"), reg.role("challenger"))
        if roles == self._roles and not force:
            return
        slots = []
        for v in roles:
            try:
                slots.append(None if v is None else _Slot(reg.load(v), self.defined, self.context))
            except ModelLoadError as exc:
                if force:
                    raise
                log.error("model v%s not loaded, keeping the previous one: %s", v, exc)
                return
        self.champion, self.challenger = slots
        self._roles = roles

    def _slots(self) -> list[_Slot]:
        return [s for s in (self.champion, self.challenger) if s is not None]

    def _due(self, topic: str) -> bool:
        """Whether ``topic`` may have changed: per the change feed, else per poll interval."""
        every = self.refresh_s if topic == "models" else self.label_poll_s
        return self._watches[topic].due(self.changes, every, self.clock)

    def _poll_labels(self, now: float) -> None:
        if self.labels is not None and self._due("labels"):
            for rec in self.labels(self._label_since):
                at, key = float(rec.at), (rec.event_id, rec.label)
                # The source returns labels from ``since`` on, the boundary included:
                # skip the ones at that instant already taken.
                if at == self._label_since and key in self._at_since:
                    continue
                if at != self._label_since:
                    self._label_since, self._at_since = at, set()
                self._at_since.add(key)
                self._pending.append((at, rec.event_id, rec.label))
            self._pending.sort(key=lambda p: p[0])
        # Only labels known by the event's time reach the features (point-in-time).
        i = 0
        while i < len(self._pending) and self._pending[i][0] <= now:
            _, event_id, label = self._pending[i]
            for slot in self._slots():
                if slot.pit.block is not None:
                    slot.pit.block.add_label(event_id, label)
            i += 1
        del self._pending[:i]

    def add_label(self, event_id: str | None, label: str) -> None:
        """Apply a label known from now on (for callers that push instead of polling)."""
        for slot in self._slots():
            if slot.pit.block is not None:
                slot.pit.block.add_label(event_id, label)

    def _vector(self, slot: _Slot, ctx: DecisionContext) -> tuple[list[float], bool]:
        own: dict[str, FeatureValue] = {}
        slot.pit.read_features(ctx.event, ctx.features, own)
        x = slot.model.vector(own, ctx.features)
        return x, ctx.event.type.value in slot.model.event_types

    def run(self, ctx: DecisionContext) -> None:
        self.read(ctx)
        self.update(ctx)

    def update(self, ctx: DecisionContext) -> None:
        self.observe(ctx.event)

    def read(self, ctx: DecisionContext) -> None:
        self._reload()
        self._poll_labels(ctx.event.ts)
        champ, chall = self.champion, self.challenger
        if champ is not None:
            x, applies = self._vector(champ, ctx)
            if applies:
                s = champ.model.score_vector(x, 0)
                ctx.model_score = s.score
                ctx.versions["model"] = champ.version
                # Explaining costs more than scoring: only scores that will not be a
                # plain allow (at or above the policy's lowest threshold) need reasons.
                if s.score >= self.reasons_at:
                    for code, detail, _feature, _c in champ.model.reasons(x, self.reasons):
                        ctx.reasons.append(Reason("model", code, detail))
                if s.anomaly is not None:
                    ctx.features[ANOMALY_FEATURE] = s.anomaly
                self._count(champ, x, s.score)
        if chall is not None:
            x, applies = self._vector(chall, ctx)
            if applies:
                s = chall.model.score_vector(x, 0)
                # Shadow only: logged with the decision, never acted upon.
                ctx.explain["challenger"] = {"version": chall.version, "score": s.score}

    def _count(self, slot: _Slot, x: list[float], score: float) -> None:
        # Rows are kept and binned in one numpy pass per window: cheaper per event.
        slot.live.append((*x, score))
        if len(slot.live) >= self.drift_window:
            arr = np.asarray(slot.live, dtype=np.float64)
            names = [*slot.model.features, "score"]
            refs = slot.model.psi_refs
            self.last_psi = {n: psi(refs[n], arr[:, j]) for j, n in enumerate(names) if n in refs}
            slot.live.clear()

    def observe(self, event: Event) -> None:
        for slot in self._slots():
            if slot.pit.block is not None:
                slot.pit.block.observe(event)

    def horizon_seconds(self) -> float:
        return max(
            (s.pit.block.horizon_seconds() for s in self._slots() if s.pit.block is not None),
            default=0.0,
        )

    def snapshot(self) -> bytes:
        blocks = {s.version: s.pit.block for s in self._slots()}
        cursor = (self._label_since, self._at_since, self._pending)
        return dump_state("models", (blocks, cursor))

    def restore(self, data: bytes) -> None:
        blocks, cursor = load_state("models", data)
        for slot in self._slots():
            # A model promoted since starts with a fresh block, as a live promotion does.
            slot.pit.block = blocks.get(slot.version, PointInTime(slot.model.feature_set).block)
        self._label_since, self._at_since, self._pending = cursor
        self._watches["labels"].forget()

    def drift_gauges(self) -> dict[str, float]:
        """PSI per variable (``score`` and each feature) of the last full live window."""
        return dict(self.last_psi)

    def drift_alert(self) -> bool:
        return any(v > ALERT_AT for v in self.last_psi.values())
