"""Synthetic typists: keystroke timings shaped like the CMU benchmark's (documented model).

No public keystroke data set ships in a package registry, so the behaviour benchmark
and the simulator use this generator. It mirrors the CMU set's layout (Killourhy &
Maxion 2009): 51 typists, 400 repetitions of one 10-character password plus Return
(11 hold times, 10 key-up-to-key-down flights). The model, per typist:

- hold time of key k: ``exp(N(log h_s + o_sk, σ_h,s))`` — a personal base ``h_s``
  (≈ 95 ms), personal per-key offsets ``o_sk`` and a personal variability σ_h,s;
- flight before key k: tempo ``t_s`` (≈ 150 ms) × a digraph difficulty every typist
  shares (the keyboard layout) × a personal digraph factor, with lognormal noise σ_f,s;
- practice: flights shrink up to 20 % over the repetitions; 3 % of repetitions carry
  one hesitation (+150 to +600 ms on one flight).

The shared digraph difficulty makes impostors resemble the genuine typist, as on a
real keyboard. Figures measured on it are *not* comparable with published CMU results
beyond the protocol; see docs/identity.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KEYS = 11  # ".tie5Roanl" + Return, as in the CMU set


@dataclass(frozen=True, slots=True)
class Typist:
    hold_log_mean: np.ndarray  # (KEYS,)
    hold_sigma: float
    flight_log_mean: np.ndarray  # (KEYS - 1,)
    flight_sigma: float


def make_typists(n: int, rng: np.random.Generator) -> list[Typist]:
    """``n`` typists sharing one keyboard layout (the digraph difficulties)."""
    layout = rng.normal(0.0, 0.45, KEYS - 1)
    typists = []
    for _ in range(n):
        base = float(np.log(np.clip(rng.normal(95.0, 18.0), 50.0, 180.0)))
        tempo = float(np.log(rng.lognormal(np.log(150.0), 0.35)))
        typists.append(
            Typist(
                hold_log_mean=base + rng.normal(0.0, 0.18, KEYS),
                hold_sigma=float(rng.uniform(0.10, 0.28)),
                flight_log_mean=tempo + layout + rng.normal(0.0, 0.30, KEYS - 1),
                flight_sigma=float(rng.uniform(0.18, 0.45)),
            )
        )
    return typists


def type_password(
    typist: Typist, reps: int, rng: np.random.Generator, start_rep: int = 0
) -> np.ndarray:
    """``(reps, 2 * KEYS - 1)`` timing vectors (holds, then flights), in ms."""
    holds = np.exp(rng.normal(typist.hold_log_mean, typist.hold_sigma, (reps, KEYS)))
    flights = np.exp(rng.normal(typist.flight_log_mean, typist.flight_sigma, (reps, KEYS - 1)))
    rep = np.arange(start_rep, start_rep + reps, dtype=np.float64)[:, None]
    flights *= 1.0 - 0.2 * (1.0 - np.exp(-rep / 120.0))
    hesitant = rng.random(reps) < 0.03
    where = rng.integers(0, KEYS - 1, reps)
    flights[hesitant, where[hesitant]] += rng.uniform(150.0, 600.0, int(hesitant.sum()))
    return np.concatenate([holds, flights], axis=1)


def behaviour_payload(vector: np.ndarray, field: str = "password") -> dict[str, object]:
    """A timing vector as the event's ``behaviour`` field."""
    return {
        "keystrokes": {
            "field": field,
            "hold_ms": [round(float(v), 1) for v in vector[:KEYS]],
            "flight_ms": [round(float(v), 1) for v in vector[KEYS:]],
        }
    }
