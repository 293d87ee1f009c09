"""Voiceprint: enrol a customer's voice from ``voice_check`` events and verify speakers.

Two embedders behind one interface:

- ``resemblyzer`` (default when installed: ``pip install 'fengkong[voice]'``): the GE2E
  speaker encoder (3-layer LSTM, 256-d) whose weights ship inside the ``resemblyzer``
  wheel; it runs on CPU with torch and is loaded on the first voice to embed, never at
  import or start.
- ``mfcc`` (always available, **weak**): a classical baseline, the mean and spread of
  MFCCs and their deltas over the voiced frames, compared by cosine. It tells very
  different voices apart and little more (see docs/identity.md for both EERs).

A user's first ``enrol_utterances`` voice checks of their own voice enrol it (mean of
the normalised embeddings); later checks are scored against ``claimed_user_id`` (or the
acting user) by cosine similarity. Neither embedder detects replayed recordings or
synthetic speech: a voice match is evidence, not proof.
"""

from __future__ import annotations

import base64
import binascii
import io
import threading
import time
import wave
from collections.abc import Callable, Iterator, Mapping
from math import gcd
from typing import Any, Literal, Protocol

import numpy as np

from fengkong.decisions.types import DecisionContext, FeatureValue
from fengkong.identity.challenges import AnswerInvalid

SAMPLE_RATE = 16_000
MIN_SECONDS = 0.5
MAX_SECONDS = 30.0
EmbedderKind = Literal["auto", "resemblyzer", "mfcc"]

FEATURE_NAMES: dict[str, str] = {
    "voice.audio_ok": "bool",
    "voice.enrolled": "bool",
    "voice.score": "num",
    "voice.match": "bool",
    "voice.enrolments": "num",
    "voice.claims_other_user": "bool",
}

_ABSENT: dict[str, FeatureValue] = dict.fromkeys(FEATURE_NAMES)


class AudioInvalid(ValueError):
    """The audio is not a usable WAV (the message says why)."""


def decode_wav(audio_b64: str) -> np.ndarray:
    """Base64 WAV (PCM 8/16/32-bit, any rate, mono or stereo) → float32 mono at 16 kHz."""
    try:
        raw = base64.b64decode(audio_b64, validate=True)
    except (binascii.Error, ValueError):
        raise AudioInvalid("audio_b64 is not base64") from None
    try:
        with wave.open(io.BytesIO(raw)) as w:
            rate, width, channels, frames = (
                w.getframerate(),
                w.getsampwidth(),
                w.getnchannels(),
                w.getnframes(),
            )
            if width not in (1, 2, 4) or rate < 8_000 or not 1 <= channels <= 2:
                raise AudioInvalid("give PCM WAV of 8, 16 or 32 bits, ≥ 8 kHz, mono or stereo")
            if frames > MAX_SECONDS * rate:
                raise AudioInvalid(f"audio longer than {MAX_SECONDS:.0f} s")
            data = w.readframes(frames)
    except (wave.Error, EOFError):
        raise AudioInvalid("audio_b64 is not a PCM WAV file") from None
    dtype = {1: np.uint8, 2: np.int16, 4: np.int32}[width]
    pcm = np.frombuffer(data[: len(data) - len(data) % (width * channels)], dtype=dtype)
    x = pcm.astype(np.float32)
    x = (x - 128.0) / 128.0 if width == 1 else x / float(2 ** (8 * width - 1))
    x = x.reshape(-1, channels).mean(axis=1)
    if rate != SAMPLE_RATE:
        # Imported here: scipy.signal (and the scipy.stats it loads) is half a second
        # of every server start, and only audio at another rate needs it.
        from scipy.signal import resample_poly

        g = gcd(rate, SAMPLE_RATE)
        x = resample_poly(x, SAMPLE_RATE // g, rate // g).astype(np.float32)
    if len(x) < MIN_SECONDS * SAMPLE_RATE:
        raise AudioInvalid(f"audio shorter than {MIN_SECONDS} s")
    return np.asarray(x, dtype=np.float32)


class Embedder(Protocol):
    name: str
    # Cosine similarity at or above which two utterances count as one speaker.
    threshold: float

    def embed(self, wav: np.ndarray) -> np.ndarray:
        """A unit-length speaker embedding of 16 kHz mono audio."""
        ...


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def _mel_filters(n_fft: int, n_mels: int, low: float, high: float) -> np.ndarray:
    def mel(f: np.ndarray) -> np.ndarray:
        return np.asarray(2595.0 * np.log10(1.0 + f / 700.0))

    def hz(m: np.ndarray) -> np.ndarray:
        return np.asarray(700.0 * (10.0 ** (m / 2595.0) - 1.0))

    edges = hz(np.linspace(mel(np.array(low)), mel(np.array(high)), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / SAMPLE_RATE)
    filters = np.zeros((n_mels, len(bins)))
    for i in range(n_mels):
        lo, mid, hi = edges[i : i + 3]
        filters[i] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0, 1)
    return filters


class MfccEmbedder:
    """Weak classical baseline: MFCC (+ delta) statistics over voiced frames."""

    name = "mfcc-stats-v1"
    threshold = 0.98

    def __init__(self, n_mfcc: int = 20) -> None:
        self.n_mfcc = n_mfcc
        self._filters = _mel_filters(512, 40, 60.0, 7600.0)

    def embed(self, wav: np.ndarray) -> np.ndarray:
        x = np.append(wav[0], wav[1:] - 0.97 * wav[:-1])
        frames = np.lib.stride_tricks.sliding_window_view(x, 400)[::160] * np.hamming(400)
        power = np.abs(np.fft.rfft(frames, 512)) ** 2
        energy = np.log(power.sum(axis=1) + 1e-10)
        voiced = energy > energy.max() - np.log(10.0) * 3.0  # within 30 dB of the peak
        logmel = np.log(power[voiced] @ self._filters.T + 1e-10)
        from scipy.fft import dct  # not at import: see decode_wav

        cep = dct(logmel, type=2, axis=1, norm="ortho")[:, 1 : self.n_mfcc + 1]
        delta = np.gradient(cep, axis=0) if len(cep) > 1 else np.zeros_like(cep)
        stats = np.concatenate([cep.mean(0), cep.std(0), delta.std(0)])
        return _unit(stats).astype(np.float32)


class ResemblyzerEmbedder:
    """The GE2E encoder shipped in the ``resemblyzer`` wheel, loaded on first use."""

    name = "resemblyzer-ge2e"
    threshold = 0.86

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._encoder: Any = None
        self._lock = threading.Lock()

    @staticmethod
    def available() -> bool:
        import importlib.util

        return importlib.util.find_spec("resemblyzer") is not None

    def _load(self) -> Any:
        import torch
        from resemblyzer import VoiceEncoder

        torch.set_num_threads(self.threads)
        return VoiceEncoder("cpu", verbose=False)

    def embed(self, wav: np.ndarray) -> np.ndarray:
        from resemblyzer import preprocess_wav

        with self._lock:
            if self._encoder is None:
                self._encoder = self._load()
            trimmed = preprocess_wav(wav, source_sr=SAMPLE_RATE)
            if len(trimmed) < MIN_SECONDS * SAMPLE_RATE:
                trimmed = wav  # mostly silence by the VAD: embed it whole
            return _unit(np.asarray(self._encoder.embed_utterance(trimmed), dtype=np.float32))


def load_embedder(kind: EmbedderKind = "auto") -> Embedder:
    """The configured embedder; ``auto`` prefers resemblyzer when it is installed."""
    if kind == "resemblyzer" or (kind == "auto" and ResemblyzerEmbedder.available()):
        return ResemblyzerEmbedder()
    return MfccEmbedder()


class VoiceprintStore(Protocol):
    """Where enrolments are kept (the storage layer implements it, on a file or PostgreSQL)."""

    def add(
        self, event_id: str, user_id: str, model: str, embedding: np.ndarray, at: float
    ) -> bool:
        """Store one enrolment; ``False`` if this event enrolled before."""
        ...

    def load(self, model: str) -> Iterator[tuple[str, str, np.ndarray]]:
        """``(user_id, event_id, embedding)`` of every enrolment made with ``model``."""
        ...

    def close(self) -> None: ...


class Voiceprints:
    """Enrolment embeddings per user; a template is their normalised mean."""

    def __init__(
        self,
        embedder: Embedder,
        enrol_utterances: int = 3,
        persist: Callable[[str, str, str, np.ndarray, float], bool] | None = None,
    ) -> None:
        self.embedder = embedder
        self.enrol_utterances = enrol_utterances
        self.persist = persist
        self._enrolled: dict[str, list[np.ndarray]] = {}
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def load(self, user_id: str, event_id: str, embedding: np.ndarray) -> None:
        with self._lock:
            if event_id not in self._seen:
                self._seen.add(event_id)
                self._enrolled.setdefault(user_id, []).append(embedding)

    def count(self, user_id: str) -> int:
        return len(self._enrolled.get(user_id, ()))

    def ready(self, user_id: str) -> bool:
        return self.count(user_id) >= self.enrol_utterances

    def score(self, user_id: str, embedding: np.ndarray) -> float | None:
        """Cosine similarity to the user's template; ``None`` until enrolled."""
        if not self.ready(user_id):
            return None
        template = _unit(np.mean(self._enrolled[user_id][: self.enrol_utterances], axis=0))
        return float(np.dot(template, embedding))

    def enrol(self, user_id: str, event_id: str, embedding: np.ndarray, at: float) -> None:
        if event_id in self._seen or self.ready(user_id):
            return
        if self.persist is not None:
            self.persist(event_id, user_id, self.embedder.name, embedding, at)
        self.load(user_id, event_id, embedding)


class VoiceStage:
    """Fills ``voice.*`` for ``voice_check`` events: enrol, or score against the claim."""

    name = "voice"
    outputs = FEATURE_NAMES
    inputs: tuple[str, ...] = ()

    def __init__(self, voiceprints: Voiceprints, clock: Callable[[], float] = time.time) -> None:
        self.voiceprints = voiceprints
        self.clock = clock

    def run(self, ctx: DecisionContext) -> None:
        voice = ctx.event.voice
        if voice is None:
            ctx.features.update(_ABSENT)
            return
        out: dict[str, FeatureValue] = dict.fromkeys(FEATURE_NAMES)
        self._check(ctx, voice.audio_b64, voice.claimed_user_id, out)
        ctx.features.update(out)

    def _check(
        self, ctx: DecisionContext, audio: str, claimed: str | None, out: dict[str, FeatureValue]
    ) -> None:
        event = ctx.event
        target = claimed or event.user_id
        out["voice.claims_other_user"] = target != event.user_id
        try:
            wav = decode_wav(audio)
        except AudioInvalid as exc:
            out["voice.audio_ok"] = False
            ctx.explain["voice_error"] = str(exc)
            return
        prints = self.voiceprints
        embedding = prints.embedder.embed(wav)
        score = prints.score(target, embedding)
        out["voice.audio_ok"] = True
        out["voice.enrolled"] = score is not None
        if score is not None:
            out["voice.score"] = round(score, 4)
            out["voice.match"] = score >= prints.embedder.threshold
        elif target == event.user_id:
            prints.enrol(target, event.event_id, embedding, self.clock())
        out["voice.enrolments"] = prints.count(target)
        ctx.versions.setdefault("voice", prints.embedder.name)


class VoiceVerifier:
    """Answers ``voice`` challenges: the spoken answer must match the account's voiceprint."""

    field = "audio_b64"

    def __init__(self, voiceprints: Voiceprints) -> None:
        self.voiceprints = voiceprints

    def ready(self, user_id: str) -> bool:
        return self.voiceprints.ready(user_id)

    def prepare(self, answer: Mapping[str, Any]) -> np.ndarray:
        audio = answer.get(self.field)
        if not isinstance(audio, str):
            raise AnswerInvalid(self.field, "give the recorded answer as base64 WAV")
        try:
            return decode_wav(audio)
        except AudioInvalid as exc:
            raise AnswerInvalid(self.field, str(exc)) from None

    def verify(self, user_id: str, prepared: Any) -> bool:
        score = self.voiceprints.score(user_id, self.voiceprints.embedder.embed(prepared))
        return score is not None and score >= self.voiceprints.embedder.threshold
