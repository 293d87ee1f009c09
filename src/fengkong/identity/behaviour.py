"""Behavioural biometrics: keystroke and touch timings against per-user templates.

The detector is the scaled Manhattan distance of Killourhy & Maxion (2009, the CMU
keystroke benchmark): a template keeps the mean ``μ`` and the mean absolute deviation
``a`` of each timing over the user's enrolment samples, and a new sample ``x`` scores
``Σ |x_i − μ_i| / a_i``. We divide by the number of timings so one threshold fits fields
of any length, and turn the distance into a match score ``1 / (1 + d)`` in (0, 1].

Keystroke templates are kept per user and typed field (``password``, ``pin``...) and
length; touch templates per user, on summary statistics of the session's gestures.
A template answers once ``enrol_samples`` samples are in; after that a sample updates
it only when it matches (distance ≤ ``update_below``), so an impostor's typing does not
teach the template (a few good-looking impostor samples still can: see docs/identity.md).

>>> t = ScaledManhattan.fit([[100.0, 50.0], [110.0, 60.0], [90.0, 40.0]])
>>> round(t.distance([100.0, 50.0]), 3), round(t.distance([160.0, 110.0]), 3)
(0.0, 9.0)
"""

from __future__ import annotations

import pickle
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fengkong.decisions.types import DecisionContext, FeatureValue
from fengkong.events import Event, Keystrokes, Touch

FEATURE_NAMES: dict[str, str] = {
    "behaviour.keystroke_distance": "num",
    "behaviour.keystroke_match": "num",
    "behaviour.touch_distance": "num",
    "behaviour.touch_match": "num",
    "behaviour.match_score": "num",
    "behaviour.enrolled": "bool",
}

_ABSENT: dict[str, FeatureValue] = dict.fromkeys(FEATURE_NAMES)
# A deviation below this (ms, or the statistic's unit) is treated as this: a timing
# that never varied in enrolment must not make every later sample infinitely far.
_MIN_DEVIATION = 1e-3


@dataclass(frozen=True, slots=True)
class ScaledManhattan:
    """Mean and mean absolute deviation of each timing over the training samples."""

    mean: np.ndarray
    mad: np.ndarray

    @classmethod
    def fit(cls, samples: Sequence[Sequence[float]] | np.ndarray) -> ScaledManhattan:
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim != 2 or len(x) < 1:
            raise ValueError("fit needs a 2-D array of one or more samples")
        mean = x.mean(axis=0)
        mad = np.abs(x - mean).mean(axis=0)
        floor = max(float(np.median(mad)) * 0.1, _MIN_DEVIATION)
        return cls(mean, np.maximum(mad, floor))

    def distance(self, sample: Sequence[float] | np.ndarray) -> float:
        """Scaled Manhattan distance per timing (0 = the template's mean)."""
        x = np.asarray(sample, dtype=np.float64)
        return float(np.mean(np.abs(x - self.mean) / self.mad))

    def distances(self, samples: np.ndarray) -> np.ndarray:
        """Distances of many samples at once (rows)."""
        return np.asarray(np.mean(np.abs(samples - self.mean) / self.mad, axis=1))


def match_score(distance: float) -> float:
    return 1.0 / (1.0 + distance)


def keystroke_vector(ks: Keystrokes) -> np.ndarray:
    """Hold times then flight times, the timing vector of the CMU benchmark (H and UD)."""
    return np.asarray([*ks.hold_ms, *ks.flight_ms], dtype=np.float64)


def _stats(values: Sequence[float]) -> list[float]:
    if not values:
        return [0.0, 0.0]
    arr = np.asarray(values, dtype=np.float64)
    return [float(np.median(arr)), float(np.std(arr))]


def touch_vector(touch: Touch) -> np.ndarray | None:
    """Median and spread of tap duration, pressure, size and swipe speed; ``None``
    when the session has fewer than three taps."""
    if len(touch.tap_ms) < 3:
        return None
    parts = [touch.tap_ms, touch.pressure, touch.size, touch.swipe_speed]
    return np.asarray([v for p in parts for v in _stats(p)], dtype=np.float64)


class _Profile:
    """The last ``keep`` accepted samples of one (user, modality, field) and its template."""

    __slots__ = ("samples", "template")

    def __init__(self, keep: int) -> None:
        self.samples: deque[np.ndarray] = deque(maxlen=keep)
        self.template: ScaledManhattan | None = None


class BehaviourTemplates:
    """Per-user templates, enrolled from the first samples and kept up to date."""

    def __init__(self, enrol_samples: int = 5, keep: int = 50, update_below: float = 1.5) -> None:
        self.enrol_samples = enrol_samples
        self.keep = keep
        self.update_below = update_below
        self._profiles: dict[tuple[str, str], _Profile] = {}

    def score(self, user_id: str, key: str, sample: np.ndarray) -> float | None:
        """The sample's distance to the user's template; ``None`` while enrolling."""
        profile = self._profiles.get((user_id, key))
        if profile is None or profile.template is None:
            return None
        return profile.template.distance(sample)

    def add(self, user_id: str, key: str, sample: np.ndarray, distance: float | None) -> None:
        """Learn from a sample: always while enrolling, after that only if it matched."""
        profile = self._profiles.get((user_id, key))
        if profile is None:
            profile = self._profiles[(user_id, key)] = _Profile(self.keep)
        if profile.template is not None and (distance is None or distance > self.update_below):
            return
        profile.samples.append(sample)
        if len(profile.samples) >= self.enrol_samples:
            profile.template = ScaledManhattan.fit(np.stack(profile.samples))

    def __len__(self) -> int:
        return len(self._profiles)


def _samples(event: Event) -> list[tuple[str, str, np.ndarray]]:
    behaviour = event.behaviour
    if behaviour is None:
        return []
    out: list[tuple[str, str, np.ndarray]] = []
    if behaviour.keystrokes is not None:
        ks = behaviour.keystrokes
        out.append(("keystroke", f"ks:{ks.field or ''}:{len(ks.hold_ms)}", keystroke_vector(ks)))
    if behaviour.touch is not None:
        vec = touch_vector(behaviour.touch)
        if vec is not None:
            out.append(("touch", "touch", vec))
    return out


class BehaviourStage:
    """Fills ``behaviour.*`` (docs/identity.md): distances and match scores of the
    event's keystroke and touch timings to the user's templates, point in time."""

    name = "behaviour"
    outputs = FEATURE_NAMES
    inputs: tuple[str, ...] = ()

    def __init__(self, templates: BehaviourTemplates | None = None) -> None:
        self.templates = templates or BehaviourTemplates()

    def run(self, ctx: DecisionContext) -> None:
        event = ctx.event
        if event.behaviour is None:
            ctx.features.update(_ABSENT)
            return
        out: dict[str, FeatureValue] = dict.fromkeys(FEATURE_NAMES)
        samples = _samples(event)
        matches: list[float] = []
        for modality, key, vec in samples:
            distance = self.templates.score(event.user_id, key, vec)
            if distance is not None:
                out[f"behaviour.{modality}_distance"] = round(distance, 4)
                out[f"behaviour.{modality}_match"] = round(match_score(distance), 4)
                matches.append(match_score(distance))
            self.templates.add(event.user_id, key, vec, distance)
        if samples:
            out["behaviour.enrolled"] = bool(matches)
        if matches:
            out["behaviour.match_score"] = round(min(matches), 4)
        ctx.features.update(out)

    def observe(self, event: Event) -> None:
        for _, key, vec in _samples(event):
            self.templates.add(
                event.user_id, key, vec, self.templates.score(event.user_id, key, vec)
            )

    def horizon_seconds(self) -> float:
        # At a restart templates are relearnt from the last 30 days of events.
        return 30 * 86_400.0

    def snapshot(self) -> bytes:
        # A restart aid read back only by this installation (see decisions.state).
        return pickle.dumps((self.name, self.templates), pickle.HIGHEST_PROTOCOL)

    def restore(self, data: bytes) -> None:
        try:
            name, templates = pickle.loads(data)
        except Exception as exc:
            raise ValueError(f"unreadable behaviour state: {exc}") from exc
        if name != self.name:
            raise ValueError(f"a {name!r} state is not a behaviour state")
        self.templates = templates
