"""Keystroke verification EER: scaled Manhattan against two baselines, one run.

    python benchmarks/bench_behaviour.py [--typists 51 --seed 7]

Data: the documented synthetic typists of ``fengkong.sim.keystrokes`` (no public
keystroke data set is obtainable from a package registry; the CMU set is not). The
protocol is the CMU benchmark's (Killourhy & Maxion 2009): per typist, train on
repetitions 1–200, test on their repetitions 201–400 (genuine) and on the first 5
repetitions of every other typist (impostors); the EER per typist, then mean and
standard deviation over typists. Baselines in the same run: plain Manhattan and
Euclidean distance to the mean. A second protocol measures what the pipeline does:
``BehaviourTemplates`` enrolled from 5 samples and updated online with matching ones.
"""

from __future__ import annotations

import argparse

import numpy as np
from tqdm import tqdm

from fengkong.identity.behaviour import BehaviourTemplates, ScaledManhattan
from fengkong.identity.eer import equal_error_rate
from fengkong.sim.keystrokes import make_typists, type_password

TRAIN, TEST, IMPOSTOR_REPS = 200, 200, 5


def _eers(data: list[np.ndarray]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"scaled manhattan": [], "manhattan": [], "euclidean": []}
    impostors_of = [d[:IMPOSTOR_REPS] for d in data]
    for s, reps in enumerate(tqdm(data, desc="typists", leave=False)):
        train, genuine = reps[:TRAIN], reps[TRAIN : TRAIN + TEST]
        impostor = np.concatenate([x for t, x in enumerate(impostors_of) if t != s])
        model = ScaledManhattan.fit(train)
        mean = train.mean(axis=0)
        out["scaled manhattan"].append(
            equal_error_rate(model.distances(genuine), model.distances(impostor))
        )
        out["manhattan"].append(
            equal_error_rate(
                np.abs(genuine - mean).sum(axis=1), np.abs(impostor - mean).sum(axis=1)
            )
        )
        out["euclidean"].append(
            equal_error_rate(
                np.linalg.norm(genuine - mean, axis=1), np.linalg.norm(impostor - mean, axis=1)
            )
        )
    return out


def _online_eer(data: list[np.ndarray], enrol: int) -> list[float]:
    """The pipeline's templates: enrol from ``enrol`` samples, learn from matches."""
    eers = []
    impostors_of = [d[:IMPOSTOR_REPS] for d in data]
    for s, reps in enumerate(data):
        templates = BehaviourTemplates(enrol_samples=enrol)
        genuine = []
        for i, x in enumerate(reps[: TRAIN + TEST]):
            d = templates.score("u", "k", x)
            templates.add("u", "k", x, d)
            if i >= TRAIN and d is not None:
                genuine.append(d)
        impostor = [
            templates.score("u", "k", x) for t, xs in enumerate(impostors_of) if t != s for x in xs
        ]
        eers.append(equal_error_rate(genuine, [d for d in impostor if d is not None]))
    return eers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--typists", type=int, default=51)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    typists = make_typists(args.typists, rng)
    data = [type_password(t, TRAIN + TEST, rng) for t in typists]
    print(
        f"synthetic keystroke set: {args.typists} typists x {TRAIN + TEST} repetitions, "
        f"21 timings (seed {args.seed})"
    )
    print(f"{'detector (CMU protocol)':32} {'mean EER':>9} {'std':>7}")
    for name, eers in _eers(data).items():
        print(f"{name:32} {np.mean(eers):9.3f} {np.std(eers):7.3f}")
    for enrol in (5, 20):
        eers = _online_eer(data, enrol)
        label = f"pipeline templates, enrol {enrol}"
        print(f"{label:32} {np.mean(eers):9.3f} {np.std(eers):7.3f}")
    print("published anchor on the real CMU set: scaled Manhattan 0.096 (not this data)")


if __name__ == "__main__":
    main()
