"""Assembly of the identity pieces: challenge store, service, outcome index and stages.

:func:`fengkong.runtime.build_runtime` calls :func:`open_identity` once; servers attach
the service to the engine so that ``challenge`` decisions issue a challenge.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from fengkong.decisions import Stage
from fengkong.identity.behaviour import BehaviourStage
from fengkong.identity.challenges import ChallengeConfig, ChallengeService, Resolution
from fengkong.identity.otp_sender import ConsoleSender, FileSender, OtpSender
from fengkong.identity.outcomes import ChallengeFeaturesStage, ChallengeOutcomes
from fengkong.settings import Settings
from fengkong.storage.challenges_sqlite import SQLiteChallengeStore


@dataclass
class Identity:
    """The challenge service over its store, and the stages that read identity state."""

    store: SQLiteChallengeStore
    outcomes: ChallengeOutcomes
    service: ChallengeService
    stages: list[Stage] = field(default_factory=list)

    def close(self) -> None:
        self.store.close()


def _sender(settings: Settings) -> OtpSender:
    sink = settings.challenges.otp_sink
    return FileSender(sink) if sink is not None else ConsoleSender()


def open_identity(settings: Settings, secret: bytes) -> Identity:
    """Open the challenge tables in the database and load the recent outcomes."""
    cfg = settings.challenges
    store = SQLiteChallengeStore(settings.db_path)
    config = ChallengeConfig(
        ttl_s=cfg.ttl_s,
        max_attempts=cfg.max_attempts,
        code_digits=cfg.code_digits,
        on_fail=cfg.on_fail,
        on_expire=cfg.on_expire,
    )
    service = ChallengeService(store, secret, _sender(settings), config)
    outcomes = ChallengeOutcomes()
    for user_id, device, _ in store.bindings():
        outcomes.bind(user_id, device)
    for row in store.resolved_since(time.time() - outcomes.window_s):
        outcomes.record(
            Resolution(
                row.challenge_id,
                row.event_id,
                row.user_id,
                row.device_key,
                row.ip,
                row.kind,
                row.method,
                row.status,
                row.final_decision or "",
                row.attempts,
                row.resolved_at or 0.0,
            )
        )
    service.listeners.append(outcomes.record)
    # The audit log (issue 12's audit package) subscribes here: one listener per
    # settlement, e.g. ``service.listeners.append(audit.record_challenge)``.
    stages: list[Stage] = [ChallengeFeaturesStage(outcomes, service.clock), BehaviourStage()]
    return Identity(store, outcomes, service, stages)
