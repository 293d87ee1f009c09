"""Assembly of the identity pieces: challenge store, service, outcome index and stages.

:func:`fengkong.runtime.build_runtime` calls :func:`open_identity` once; servers attach
the service to the engine so that ``challenge`` decisions issue a challenge.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field

from fengkong.decisions import Stage
from fengkong.identity.behaviour import BehaviourStage
from fengkong.identity.challenges import ChallengeConfig, ChallengeService, Resolution
from fengkong.identity.otp_sender import ConsoleSender, FileSender, OtpSender
from fengkong.identity.outcomes import ChallengeFeaturesStage, ChallengeOutcomes
from fengkong.identity.voice import (
    Voiceprints,
    VoiceprintStore,
    VoiceStage,
    VoiceVerifier,
    load_embedder,
)
from fengkong.settings import Settings
from fengkong.storage.challenges_sqlite import SQLiteChallengeStore
from fengkong.storage.voiceprints_sqlite import SQLiteVoiceprintStore


@dataclass
class Identity:
    """The challenge service over its store, and the stages that read identity state."""

    store: SQLiteChallengeStore
    outcomes: ChallengeOutcomes
    service: ChallengeService
    voiceprints: Voiceprints
    voice_store: VoiceprintStore
    stages: list[Stage] = field(default_factory=list)

    def close(self) -> None:
        self.store.close()
        self.voice_store.close()


def _voiceprints(settings: Settings) -> tuple[Voiceprints, VoiceprintStore]:
    """Enrolled voices of the configured embedder (its model is loaded on first use)."""
    embedder = load_embedder(settings.voice.model)
    if settings.voice.threshold is not None:
        embedder.threshold = settings.voice.threshold
    store: VoiceprintStore = SQLiteVoiceprintStore(settings.shared_db())
    prints = Voiceprints(embedder, settings.voice.enrol_utterances, persist=store.add)
    for user_id, event_id, embedding in store.load(embedder.name):
        prints.load(user_id, event_id, embedding)
    return prints, store


def _sender(settings: Settings) -> OtpSender:
    """The configured sender: a ``module:factory`` gateway, the file sink, or the log."""
    target = settings.challenges.otp_sender
    if target is not None:
        module, _, attr = target.partition(":")
        factory = getattr(importlib.import_module(module), attr)
        sender: OtpSender = factory()
        return sender
    sink = settings.challenges.otp_sink
    return FileSender(sink) if sink is not None else ConsoleSender()


def open_identity(settings: Settings, secret: bytes) -> Identity:
    """Open the challenge tables in the database and load the recent outcomes."""
    cfg = settings.challenges
    store = SQLiteChallengeStore(settings.shared_db())
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
    voiceprints, voice_store = _voiceprints(settings)
    service.verifiers["voice"] = VoiceVerifier(voiceprints)
    stages: list[Stage] = [
        ChallengeFeaturesStage(outcomes, service.clock),
        BehaviourStage(),
        VoiceStage(voiceprints),
    ]
    return Identity(store, outcomes, service, voiceprints, voice_store, stages)
