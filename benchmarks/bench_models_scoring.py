"""Single-event scoring cost inside the decision pipeline, and its share of the latency.

Replays a week of the handbook's transactions through ``features`` -> ``models`` (the
model saved by ``bench_models_handbook.py --save DIR``), timing each stage per event:

    python benchmarks/bench_models_handbook.py --save /tmp/hbmodel
    python benchmarks/bench_models_scoring.py --model /tmp/hbmodel
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from fengkong.decisions import Pipeline
from fengkong.decisions.types import DecisionContext
from fengkong.events import parse_event
from fengkong.features.stage import FeaturesStage
from fengkong.models import Model
from fengkong.models.stage import ModelStage, serving_definitions
from fengkong.sim.datasets import handbook_stream

DATA = (
    Path(__file__).resolve().parents[1] / "../shared/data/handbook-transactions/transactions.csv.gz"
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args()
    model = Model.load(args.model)
    engine = model.feature_set.engine()
    features = FeaturesStage(engine)
    stage = ModelStage(model, defined=serving_definitions(engine))
    pipeline = Pipeline([features, stage])
    events = [
        parse_event(e)
        for e, _ in handbook_stream(
            args.data, datetime(2018, 7, 1, tzinfo=UTC), datetime(2018, 8, 15, tzinfo=UTC)
        )
    ]
    warm, timed = events[:-20000], events[-20000:]
    for e in warm:
        ctx = DecisionContext(e)
        features.run(ctx)
        stage.run(ctx)
    t_feat, t_model, t_total = [], [], []
    for e in timed:
        t0 = time.perf_counter_ns()
        ctx = DecisionContext(e)
        features.run(ctx)
        t1 = time.perf_counter_ns()
        stage.run(ctx)
        t2 = time.perf_counter_ns()
        pipeline.policy.decide(ctx)
        t3 = time.perf_counter_ns()
        t_feat.append((t1 - t0) / 1e3)
        t_model.append((t2 - t1) / 1e3)
        t_total.append((t3 - t0) / 1e3)
    for name, ts in (
        ("features stage", t_feat),
        ("models stage", t_model),
        ("features + models + policy", t_total),
    ):
        print(f"{name:28} p50 {np.percentile(ts, 50):7.1f} µs  p99 {np.percentile(ts, 99):7.1f} µs")
    print(f"models stage share of the decision: {np.sum(t_model) / np.sum(t_total):.0%} (mean)")


if __name__ == "__main__":
    main()
