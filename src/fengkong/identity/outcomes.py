"""What settled challenges teach: failures per user, device and IP; bound devices.

:class:`ChallengeOutcomes` is the in-process index the ``challenges`` stage reads; the
challenge service feeds it on every settlement, and at start it is loaded from the
store. Times are the server's clock (when the challenge settled), not the events'
``occurred_at``: outcomes happen in the live system, after the decision, so a replay
of the event log sees the outcomes known when it runs.

>>> idx = ChallengeOutcomes(window_s=3600)
>>> idx.add_failure("u1", "dk_1", "1.2.3.4", at=100.0)
>>> idx.failures("user", "u1", now=200.0), idx.failures("user", "u1", now=4000.0)
(1, 0)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Literal

from fengkong.decisions.types import DecisionContext, FeatureValue
from fengkong.identity.challenges import Resolution
from fengkong.identity.device import client_device_key

Entity = Literal["user", "device", "ip"]

FEATURE_NAMES: dict[str, str] = {
    "challenge.failed_user_24h": "num",
    "challenge.failed_device_24h": "num",
    "challenge.failed_ip_24h": "num",
    "challenge.device_bound": "bool",
    "challenge.bound_devices": "num",
}


class ChallengeOutcomes:
    """Failed / expired challenges in a sliding window, and (user, device) bindings."""

    def __init__(self, window_s: float = 86_400.0) -> None:
        self.window_s = window_s
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._bound: dict[str, set[str]] = {}
        # Answers settle on worker threads while the pipeline reads on the event loop.
        self._lock = threading.Lock()

    def add_failure(self, user_id: str, device: str | None, ip: str | None, at: float) -> None:
        with self._lock:
            self._add_failure(user_id, device, ip, at)

    def _add_failure(self, user_id: str, device: str | None, ip: str | None, at: float) -> None:
        for entity, key in (("user", user_id), ("device", device), ("ip", ip)):
            if key is not None:
                self._failures.setdefault((entity, key), deque()).append(at)

    def bind(self, user_id: str, device: str) -> None:
        with self._lock:
            self._bound.setdefault(user_id, set()).add(device)

    def record(self, resolution: Resolution) -> None:
        """Listener for :class:`~fengkong.identity.challenges.ChallengeService`."""
        if resolution.status == "passed":
            if resolution.device_key is not None:
                self.bind(resolution.user_id, resolution.device_key)
        else:
            self.add_failure(
                resolution.user_id, resolution.device_key, resolution.ip, resolution.at
            )

    def failures(self, entity: Entity, key: str | None, now: float) -> int:
        # Most keys never failed: a plain read (atomic) spares the lock on the hot path.
        if key is None or (entity, key) not in self._failures:
            return 0
        with self._lock:
            return self._count(entity, key, now)

    def _count(self, entity: Entity, key: str, now: float) -> int:
        times = self._failures.get((entity, key))
        if times is None:
            return 0
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[(entity, key)]
            return 0
        return len(times)

    def is_bound(self, user_id: str, device: str) -> bool:
        return device in self._bound.get(user_id, ())

    def has_bindings(self, user_id: str) -> bool:
        return user_id in self._bound

    def bound_devices(self, user_id: str) -> int:
        return len(self._bound.get(user_id, ()))

    def expire(self, now: float) -> int:
        """Drop failure times that left the window; how many keys were dropped."""
        with self._lock:
            return self._expire(now)

    def _expire(self, now: float) -> int:
        stale = [k for k, t in self._failures.items() if not t or t[-1] <= now - self.window_s]
        for k in stale:
            del self._failures[k]
        return len(stale)


class ChallengeFeaturesStage:
    """Fills the ``challenge.*`` features (docs/identity.md) from :class:`ChallengeOutcomes`."""

    name = "challenges"
    outputs = FEATURE_NAMES
    inputs: tuple[str, ...] = ()

    def __init__(self, outcomes: ChallengeOutcomes, clock: Callable[[], float] = time.time) -> None:
        self.outcomes = outcomes
        self.clock = clock

    def run(self, ctx: DecisionContext) -> None:
        event = ctx.fields
        if "device.key_strength" in ctx.facts:  # enrich has derived it already
            key = ctx.facts.get("device.key")
            client = ctx.facts["device.key_strength"] == "client_id" and isinstance(key, str)
            device = key if client and isinstance(key, str) else None
        else:
            device = client_device_key(event.device)
        now = self.clock()
        out: dict[str, FeatureValue] = {
            "challenge.failed_user_24h": self.outcomes.failures("user", event.user_id, now),
            "challenge.failed_device_24h": self.outcomes.failures("device", device, now),
            "challenge.failed_ip_24h": self.outcomes.failures("ip", event.ip, now),
            "challenge.device_bound": None
            if device is None
            else self.outcomes.is_bound(event.user_id, device),
            "challenge.bound_devices": self.outcomes.bound_devices(event.user_id),
        }
        ctx.features.update(out)

    def maintain(self, now: float) -> None:
        self.outcomes.expire(self.clock())
