"""Voiceprint: WAV decoding, the embedders, enrolment and verification in the pipeline."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import orjson
import pytest

from fengkong.identity.voice import (
    AudioInvalid,
    MfccEmbedder,
    ResemblyzerEmbedder,
    Voiceprints,
    decode_wav,
)
from fengkong.runtime import Runtime, build_runtime
from fengkong.settings import Settings

from .voices import utterance, wav_b64

LOW, HIGH = (110.0, 1.0), (230.0, 1.2)


def test_decode_wav_resamples_and_refuses_bad_audio() -> None:
    x = decode_wav(wav_b64(utterance(*LOW, seed=1), rate=22_050))
    assert x.dtype == np.float32 and abs(len(x) - 2.0 * 16_000 * 16_000 / 22_050) < 50
    for bad, why in [
        ("%%%", "base64"),
        (base64.b64encode(b"RIFF\x24\x00\x00\x00WAVEfmt ").decode(), "WAV"),
        (wav_b64(np.zeros(1000)), "shorter"),
    ]:
        with pytest.raises(AudioInvalid, match=why):
            decode_wav(bad)


@pytest.mark.parametrize(
    "make",
    [
        MfccEmbedder,
        pytest.param(
            ResemblyzerEmbedder,
            marks=pytest.mark.skipif(
                not ResemblyzerEmbedder.available(), reason="pip install -e '.[voice]'"
            ),
        ),
    ],
)
def test_the_same_voice_scores_above_another(make: Any) -> None:
    prints = Voiceprints(make(), enrol_utterances=3)
    embed = prints.embedder.embed
    for seed in range(3):
        prints.enrol("low", f"e{seed}", embed(decode_wav(wav_b64(utterance(*LOW, seed)))), 0.0)
    same = prints.score("low", embed(decode_wav(wav_b64(utterance(*LOW, seed=10)))))
    other = prints.score("low", embed(decode_wav(wav_b64(utterance(*HIGH, seed=11)))))
    assert same is not None and other is not None and same > other
    assert abs(float(np.linalg.norm(embed(decode_wav(wav_b64(utterance(*LOW, 3)))))) - 1) < 1e-5


def _check(
    i: int, user: str, voice: tuple[float, float], claimed: str | None = None
) -> dict[str, Any]:
    return {
        "event_id": f"v{i}",
        "type": "voice_check",
        "user_id": user,
        "occurred_at": f"2026-11-20T10:00:{i:02d}+08:00",
        "voice": {"audio_b64": wav_b64(utterance(*voice, seed=i)), "claimed_user_id": claimed},
    }


def _features(rt: Runtime, event_id: str) -> dict[str, Any]:
    found = rt.engine.store.decision(event_id)
    assert found is not None
    features: dict[str, Any] = orjson.loads(found[1])["features"]
    return features


def test_voice_checks_enrol_then_verify_the_claimed_user(settings: Settings) -> None:
    settings.voice.model = "mfcc"
    rt = build_runtime(settings)
    try:
        for i in range(3):
            rt.engine.decide(_check(i, "u1", LOW))
        assert _features(rt, "v0")["voice.enrolled"] is False
        assert _features(rt, "v2")["voice.enrolments"] == 3
        rt.engine.decide(_check(3, "u1", LOW))
        rt.engine.decide(_check(4, "agent-7", HIGH, claimed="u1"))
        own, other = _features(rt, "v3"), _features(rt, "v4")
        assert own["voice.enrolled"] is True and own["voice.score"] > other["voice.score"]
        assert other["voice.claims_other_user"] is True
        # Someone else's voice never enrols for the claimed account.
        assert rt.identity is not None and rt.identity.voiceprints.count("u1") == 3
        stub = {**_check(5, "u2", LOW), "voice": {"audio_b64": "UklGRiQAAABXQVZF"}}
        rt.engine.decide(stub)
        assert _features(rt, "v5")["voice.audio_ok"] is False
    finally:
        rt.close()
    # Enrolments survive a restart, and a retried event does not enrol twice.
    again = build_runtime(settings)
    try:
        assert again.identity is not None and again.identity.voiceprints.count("u1") == 3
    finally:
        again.close()
