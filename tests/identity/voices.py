"""Test voices without a recording: a source-filter model (pulse train through formants).

A "speaker" is a pitch and a vocal-tract scale; an utterance walks through vowels with
jitter and noise. Enough to tell two such speakers apart, nothing like real speech.
"""

from __future__ import annotations

import base64
import io
import wave

import numpy as np
from scipy.signal import lfilter

VOWELS = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480)]


def utterance(pitch_hz: float, tract: float, seed: int, seconds: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rate = 16_000
    out = []
    for vowel in rng.permutation(len(VOWELS)).tolist() * 2:
        n = int(rate * seconds / 8)
        f0 = pitch_hz * rng.uniform(0.95, 1.05)
        period = rate / f0
        source = np.zeros(n)
        source[
            (np.arange(0, n, period) + rng.normal(0, 0.3, len(np.arange(0, n, period))))
            .astype(int)
            .clip(0, n - 1)
        ] = 1.0
        y = source
        for formant in VOWELS[vowel]:
            f = formant * tract
            r = np.exp(-np.pi * 80.0 / rate)
            theta = 2 * np.pi * f / rate
            y = lfilter([1.0], [1.0, -2 * r * np.cos(theta), r * r], y)
        out.append(y / (np.abs(y).max() + 1e-9))
    x = np.concatenate(out)
    return x + rng.normal(0, 0.01, len(x))


def wav_b64(x: np.ndarray, rate: int = 16_000) -> str:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(x, -1, 1) * 32767 * 0.8).astype(np.int16).tobytes())
    return base64.b64encode(buf.getvalue()).decode()
