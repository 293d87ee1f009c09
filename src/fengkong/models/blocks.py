"""Point-in-time feature blocks the models add to the streaming features.

The features engine has no notion of labels, so the label-aware "known fraud" rates live
here: for an event at time t they count only labels *known by t* (``at`` ≤ t) on events
older than the label delay, exactly as a live server would have them. The same class runs
offline (training sets) and online (``ModelStage``): feed it labels and events in time
order, ask :meth:`LabelRiskBlock.compute` before :meth:`LabelRiskBlock.observe`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fengkong.events import Event

FeatureValue = float | int | str | bool | None
DAY = 86400.0

# Entities the label block can key on: the event field behind each.
_KEYS = {"user": "user_id", "merchant": "merchant_id"}


@dataclass(frozen=True)
class LabelRiskSpec:
    """Which entities get known-fraud rates, over which windows (days), with what delay."""

    entities: tuple[str, ...] = ("merchant", "user")
    windows_days: tuple[int, ...] = (1, 7, 30)
    delay_days: int = 7
    bucket_hours: int = 6

    def __post_init__(self) -> None:
        bad = [e for e in self.entities if e not in _KEYS]
        if bad:
            raise ValueError(f"label risk entities must be among {sorted(_KEYS)}, got {bad}")
        if 24 % self.bucket_hours:
            raise ValueError("bucket_hours must divide 24")
        if not self.windows_days or min(self.windows_days) < 1 or self.delay_days < 0:
            raise ValueError("windows must be ≥ 1 day and the delay ≥ 0 days")

    def names(self) -> list[str]:
        out = []
        for e in self.entities:
            for w in self.windows_days:
                out += [f"{e}.known_fraud_rate_{w}d", f"{e}.known_frauds_{w}d"]
        return out

    def definitions(self) -> dict[str, str]:
        """Each output's definition text (hashed into model metadata)."""
        out = {}
        for e in self.entities:
            for w in self.windows_days:
                lo, hi, h = self.delay_days + w, self.delay_days, self.bucket_hours
                span = f"events in [t-{lo}d, t-{hi}d) ({h} h buckets)"
                out[f"{e}.known_fraud_rate_{w}d"] = (
                    f"known_fraud_rate by {e}: frauds known at t / {span}"
                )
                out[f"{e}.known_frauds_{w}d"] = (
                    f"known_frauds by {e}: frauds known at t among {span}"
                )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "entities": list(self.entities),
            "windows_days": list(self.windows_days),
            "delay_days": self.delay_days,
            "bucket_hours": self.bucket_hours,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelRiskSpec:
        return cls(
            tuple(data["entities"]),
            tuple(int(w) for w in data["windows_days"]),
            int(data["delay_days"]),
            int(data.get("bucket_hours", 24)),
        )


@dataclass
class _EntityDays:
    """Per entity key: bucket number -> [events, known frauds]."""

    days: dict[str, dict[int, list[int]]] = field(default_factory=dict)


class LabelRiskBlock:
    """Known-fraud counts and rates per entity, from labels known at the event's time.

    Events are counted in UTC time buckets of ``bucket_hours``; the window of an event at
    t is the ``w`` days of whole buckets before the bucket of ``t - delay``, so every
    event counted is at least ``delay`` old and its label has had that long to arrive.
    """

    def __init__(self, spec: LabelRiskSpec) -> None:
        self.spec = spec
        self._tables = {e: _EntityDays() for e in spec.entities}
        # Window sums per entity key for the current window end: most events of a busy
        # entity share their window end, and only a label on that entity changes them.
        self._cache: dict[str, dict[str, tuple[int, list[tuple[float | None, int]]]]] = {
            e: {} for e in spec.entities
        }
        self._index: dict[str, tuple[int, tuple[str | None, ...]]] = {}
        self._order: deque[tuple[int, str]] = deque()
        self._fraud: set[str] = set()
        self._width = spec.bucket_hours * 3600.0
        per_day = 24 // spec.bucket_hours
        # "days" below are buckets: everything is counted in bucket units.
        self._keep_days = (spec.delay_days + max(spec.windows_days) + 2) * per_day
        self._names = [
            (
                e,
                [
                    (w * per_day, f"{e}.known_fraud_rate_{w}d", f"{e}.known_frauds_{w}d")
                    for w in sorted(spec.windows_days)
                ],
            )
            for e in spec.entities
        ]

    def horizon_seconds(self) -> float:
        return self._keep_days * self._width

    def _keys(self, event: Event) -> tuple[str | None, ...]:
        return tuple(getattr(event, _KEYS[e]) for e in self.spec.entities)

    def observe(self, event: Event) -> None:
        """Count ``event`` in its day (call after :meth:`compute` for the same event)."""
        day = int(event.ts // self._width)
        keys = self._keys(event)
        if event.event_id in self._index:
            return
        self._index[event.event_id] = (day, keys)
        self._order.append((day, event.event_id))
        for e, key in zip(self.spec.entities, keys, strict=True):
            if key is not None:
                self._bucket(e, key, day)[0] += 1
                cached = self._cache[e].get(key)
                if cached is not None and day < cached[0]:
                    del self._cache[e][key]  # a late event inside a cached window
        # Forget events whose labels could no longer reach any window.
        while self._order and self._order[0][0] < day - self._keep_days:
            _, old = self._order.popleft()
            self._index.pop(old, None)
            self._fraud.discard(old)

    def _bucket(self, entity: str, key: str, day: int) -> list[int]:
        per_key = self._tables[entity].days.setdefault(key, {})
        b = per_key.get(day)
        if b is None:
            b = per_key[day] = [0, 0]
            if len(per_key) > self._keep_days + 8:
                for d in [d for d in per_key if d < day - self._keep_days]:
                    del per_key[d]
        return b

    def add_label(self, event_id: str | None, label: str) -> None:
        """Apply a label known from now on; the caller feeds labels in ``at`` order."""
        if event_id is None:
            return
        seen = self._index.get(event_id)
        if seen is None:
            return
        fraud = label == "fraud"
        if fraud == (event_id in self._fraud):
            return
        day, keys = seen
        step = 1 if fraud else -1
        if fraud:
            self._fraud.add(event_id)
        else:
            self._fraud.discard(event_id)
        for e, key in zip(self.spec.entities, keys, strict=True):
            if key is not None:
                self._bucket(e, key, day)[1] += step
                self._cache[e].pop(key, None)

    def compute(self, event: Event, out: dict[str, FeatureValue]) -> None:
        """Write this event's known-fraud features into ``out`` (state before it)."""
        end = int((event.ts - self.spec.delay_days * DAY) // self._width)
        keys = self._keys(event)
        for (entity, outs), key in zip(self._names, keys, strict=True):
            per_key = None if key is None else self._tables[entity].days.get(key)
            if per_key is None:
                # No key: unknown; a key without history: no known fraud yet.
                for _, rate, frauds in outs:
                    out[rate] = None
                    out[frauds] = None if key is None else 0
                continue
            cache = self._cache[entity]
            hit = cache.get(key)  # type: ignore[arg-type]
            if hit is None or hit[0] != end:
                n = f = 0
                back = 0
                sums: list[tuple[float | None, int]] = []
                for w, _, _ in outs:
                    while back < w:
                        b = per_key.get(end - 1 - back)
                        if b is not None:
                            n += b[0]
                            f += b[1]
                        back += 1
                    sums.append((f / n if n else None, f))
                hit = cache[key] = (end, sums)  # type: ignore[index]
            for (_, rate, frauds), (r, k) in zip(outs, hit[1], strict=True):
                out[rate] = r
                out[frauds] = k


def derived_features(
    event: Event, features: Mapping[str, FeatureValue], out: dict[str, FeatureValue]
) -> None:
    """The event's own amount and its ratio to the user's windowed mean amounts."""
    amount = None if event.amount is None else float(event.amount)
    out["event.amount"] = amount
    means = [(n, v) for n, v in features.items() if n.startswith("user.amount_mean_")]
    for name, value in means:
        ratio = None
        if amount is not None and isinstance(value, int | float) and value > 0:
            ratio = amount / float(value)
        out["user.amount_ratio_" + name[len("user.amount_mean_") :]] = ratio


DERIVED_DEFINITIONS = {
    "event.amount": "the event's amount",
    "user.amount_ratio_": "amount / user.amount_mean_<window>",
}


def derived_names(engine_names: list[str]) -> list[str]:
    # ``value(amount)`` in the engine is the same input: the engine defines it then.
    own = [] if "event.amount" in engine_names else ["event.amount"]
    return own + [
        "user.amount_ratio_" + n[len("user.amount_mean_") :]
        for n in engine_names
        if n.startswith("user.amount_mean_")
    ]
