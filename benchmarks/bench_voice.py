"""Voiceprint EER and latency, speaker-embedding model against the MFCC baseline.

    python benchmarks/bench_voice.py [--speakers 40 --utterances 8 --seed 5]

Data: **synthetic voices from espeak-ng** (the Debian package; no public multi-speaker
speech corpus is obtainable from a package registry here). A "speaker" is an espeak-ng
accent × voice variant with its own base pitch and rate; each utterance says another
sentence with jittered pitch (±5) and rate (±8 %), a random gain and white noise at
25 dB SNR. Protocol: each speaker enrols with 3 utterances (``Voiceprints``, as in the
pipeline); their other utterances are genuine trials, every other speaker's are
impostor trials claiming that speaker; one global threshold (pooled EER).
A spoofing trial: the attacker's TTS uses the target's own accent and variant with a
guessed pitch and rate (±15, ±20 %) — the rate it passes at the model's threshold.
Latency: decode + embed + score of one ~3 s utterance, after the model is loaded.
"""

from __future__ import annotations

import argparse
import base64
import io
import shutil
import subprocess
import sys
import time
import wave
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from fengkong.identity.eer import equal_error_rate
from fengkong.identity.voice import (
    Embedder,
    MfccEmbedder,
    ResemblyzerEmbedder,
    Voiceprints,
    decode_wav,
)

ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp"]
VARIANTS = [
    "adam", "Alex", "Alicia", "Andrea", "Andy", "Annie", "aunty", "belinda", "benjamin",
    "boris", "caleb", "david", "ed", "edward", "Gene", "gustave", "Hugo", "iven", "Jacky",
    "john", "Lee", "linda", "max", "Michael", "Mike", "paul", "quincy", "rob", "steph",
    "travis", "victor", "zac", "anika", "f1", "f2", "f3", "f4", "f5", "m1", "m2", "m3",
    "m4", "m5", "m6", "m7", "m8", "norbert", "shelby", "grandpa", "grandma",
]  # fmt: skip
SENTENCES = [
    "My voice is my password, please verify me.",
    "I would like to check the balance of my credit line.",
    "Please transfer two hundred yuan to my savings account.",
    "The quick brown fox jumps over the lazy dog.",
    "I did not ask anyone to close my account today.",
    "Could you read me the last three payments, please?",
    "Today is a good day to pay back the loan in full.",
    "I am calling about a card payment I do not recognise.",
    "Seven, four, nine, two, six, one, eight, three.",
    "Yes, this is me, and I confirm the new phone number.",
    "Please raise my limit before the end of the month.",
    "I lost my phone yesterday evening near the station.",
]


@dataclass(frozen=True)
class Speaker:
    accent: str
    variant: str
    pitch: int
    rate: int


def _say(speaker: Speaker, text: str, pitch: int, rate: int, rng: np.random.Generator) -> str:
    voice = f"{speaker.accent}+{speaker.variant}"
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(rate), "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    with wave.open(io.BytesIO(wav)) as w:
        rate_hz, pcm = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), np.int16)
    x = pcm.astype(np.float64) * rng.uniform(0.5, 1.0)
    noise = rng.normal(0.0, 1.0, len(x)) * np.sqrt(np.mean(x**2) / 10 ** (25 / 10))
    y = np.clip(x + noise, -32768, 32767).astype(np.int16)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate_hz)
        w.writeframes(y.tobytes())
    return base64.b64encode(out.getvalue()).decode()


def _utterances(speaker: Speaker, n: int, rng: np.random.Generator) -> list[str]:
    picks = rng.permutation(len(SENTENCES))[:n]
    return [
        _say(
            speaker,
            SENTENCES[i],
            int(np.clip(speaker.pitch + rng.integers(-5, 6), 0, 99)),
            int(speaker.rate * rng.uniform(0.92, 1.08)),
            rng,
        )
        for i in picks
    ]


def _spoof(speaker: Speaker, rng: np.random.Generator) -> str:
    pitch = int(np.clip(speaker.pitch + rng.integers(-15, 16), 0, 99))
    rate = int(speaker.rate * rng.uniform(0.8, 1.2))
    return _say(speaker, SENTENCES[int(rng.integers(len(SENTENCES)))], pitch, rate, rng)


def _evaluate(embedder: Embedder, clips: list[list[str]], spoofs: list[str]) -> None:
    started = time.perf_counter()
    embedder.embed(decode_wav(clips[0][0]))
    load_s = time.perf_counter() - started
    prints = Voiceprints(embedder, enrol_utterances=3)
    tests: list[list[np.ndarray]] = []
    latencies = []
    for s, utterances in enumerate(tqdm(clips, desc=embedder.name, leave=False)):
        embs = []
        for clip in utterances:
            t0 = time.perf_counter()
            emb = embedder.embed(decode_wav(clip))
            prints.score(f"s{s}", emb)
            latencies.append(time.perf_counter() - t0)
            embs.append(emb)
        for i, emb in enumerate(embs[:3]):
            prints.enrol(f"s{s}", f"s{s}-{i}", emb, 0.0)
        tests.append(embs[3:])
    genuine, impostor = [], []
    for s in range(len(clips)):
        for t, embs in enumerate(tests):
            for emb in embs:
                score = prints.score(f"s{s}", emb)
                assert score is not None
                (genuine if s == t else impostor).append(-score)  # EER takes distances
    eer = equal_error_rate(genuine, impostor)
    spoofed = [prints.score(f"s{s}", embedder.embed(decode_wav(c))) for s, c in enumerate(spoofs)]
    passed = np.mean([x is not None and x >= embedder.threshold for x in spoofed])
    cosines = np.sort(-np.array(genuine + impostor))
    at_eer = min(
        cosines,
        key=lambda t: abs(np.mean(-np.array(genuine) < t) - np.mean(-np.array(impostor) >= t)),
    )
    false_rejects = np.mean([-g < embedder.threshold for g in genuine])
    false_accepts = np.mean([-i >= embedder.threshold for i in impostor])
    lat = np.array(latencies) * 1000
    print(
        f"{embedder.name:18} EER {eer:6.3f}   at threshold {embedder.threshold:.2f}: "
        f"FRR {false_rejects:.3f} FAR {false_accepts:.3f}   TTS spoof passes {passed:.2f}   "
        f"verify p50 {np.percentile(lat, 50):6.1f} ms p95 {np.percentile(lat, 95):6.1f} ms   "
        f"first call (load) {load_s:5.2f} s"
    )
    print(
        f"{'':18} trials: {len(genuine)} genuine, {len(impostor)} impostor, "
        f"{len(spoofs)} spoof; cosine at the EER {at_eer:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speakers", type=int, default=40)
    parser.add_argument("--utterances", type=int, default=8)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is not installed (apt-get install espeak-ng)")
    rng = np.random.default_rng(args.seed)
    combos = [(a, v) for a in ACCENTS for v in VARIANTS]
    chosen = rng.choice(len(combos), size=args.speakers, replace=False)
    speakers = [
        Speaker(*combos[i], pitch=int(rng.integers(25, 75)), rate=int(rng.integers(140, 185)))
        for i in chosen
    ]
    clips = [_utterances(s, args.utterances, rng) for s in tqdm(speakers, desc="espeak-ng")]
    spoofs = [_spoof(s, rng) for s in speakers]
    print(
        f"espeak-ng synthetic speakers: {args.speakers} x {args.utterances} utterances "
        f"(3 enrol), 25 dB SNR, seed {args.seed}"
    )
    embedders: list[Embedder] = [MfccEmbedder()]
    if ResemblyzerEmbedder.available():
        embedders.append(ResemblyzerEmbedder())
    else:
        print("resemblyzer not installed (pip install -e '.[voice]'): baseline only")
    for embedder in embedders:
        _evaluate(embedder, clips, spoofs)


if __name__ == "__main__":
    main()
