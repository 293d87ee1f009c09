"""Fraud model on the handbook's transactions with the handbook's protocol.

Train on the 7 days from 2018-07-25 (the last 2 of them validate early stopping and
calibration, then the model is refitted on all 7), 7-day label delay and gap, test on the
7 days after; features from 2018-06-15 on warm the streaming state up (30-day windows,
30-day known-fraud windows behind the 7-day delay). Prints AUROC, AP, CP@100 and the
single-event scoring cost; writes an HTML report.

    python benchmarks/bench_models_handbook.py [--html models-handbook.html] [--save DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from fengkong.events import parse_event, parse_label
from fengkong.models import PAYMENT_FEATURES, FeatureSet, TrainConfig, build_rows, train_model
from fengkong.models.report import format_table, render_html, top_features
from fengkong.sim.datasets import handbook_stream

DATA = (
    Path(__file__).resolve().parents[1] / "../shared/data/handbook-transactions/transactions.csv.gz"
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--html", type=Path, default=Path("models-handbook.html"))
    ap.add_argument("--save", type=Path, default=None)
    ap.add_argument("--imbalance", default="sqrt")
    args = ap.parse_args()
    warm = datetime(2018, 6, 15, tzinfo=UTC)
    start = datetime(2018, 7, 25, tzinfo=UTC)
    end = datetime(2018, 8, 15, tzinfo=UTC)
    t = time.time()
    events, labels = [], []
    for ev, lab in handbook_stream(args.data, start=warm, end=end):
        events.append(parse_event(ev))
        if lab is not None:
            labels.append(parse_label(lab))
    print(f"read {len(events)} events, {len(labels)} fraud labels in {time.time() - t:.0f} s")
    fs = FeatureSet(PAYMENT_FEATURES)
    t = time.time()
    rows = build_rows(events, labels, fs, start=start.timestamp())
    n_replayed = len(events)
    print(
        f"point-in-time features: {n_replayed} events replayed in {time.time() - t:.0f} s "
        f"({(time.time() - t) / n_replayed * 1e6:.0f} µs/event)"
    )
    cfg = TrainConfig(start=start.timestamp(), imbalance=args.imbalance)
    res = train_model(rows, labels, fs, cfg)
    model = res.model
    metrics = model.meta["metrics"]
    print(format_table({k: v for k, v in metrics.items()}))
    print("trees:", model.meta["best_iteration"], "features:", len(model.features))
    assert res.test_rows is not None and res.test_y is not None and res.test_scores is not None
    keep = [res.test_rows.names.index(n) for n in model.features]
    xt = res.test_rows.x[:, keep]
    # Single-event scoring: compiled trees (+ reasons, + anomaly) vs LightGBM's predict.
    sample = xt[np.random.default_rng(0).choice(len(xt), 2000, replace=False)]
    rows_list = [list(map(float, r)) for r in sample]
    cost = {}
    for name, fn in (
        ("compiled score", lambda r: model.trees.raw(r)),
        ("compiled score + 3 reasons + anomaly", lambda r: model.score_vector(r)),
        ("lightgbm predict (1 row)", lambda r: model.booster.predict([r], raw_score=True)),
    ):
        times = []
        for r in rows_list:
            t0 = time.perf_counter_ns()
            fn(r)
            times.append((time.perf_counter_ns() - t0) / 1000)
        cost[name] = (float(np.percentile(times, 50)), float(np.percentile(times, 99)))
        print(f"{name:40} p50 {cost[name][0]:7.1f} µs   p99 {cost[name][1]:7.1f} µs")
    contrib = model.exact_contributions(xt[:20000])
    feats = top_features(contrib, model.features)
    print("top features:", ", ".join(f"{n} {v:.3f}" for n, v in feats[:8]))
    meta = {k: model.meta[k] for k in ("windows", "rows", "frauds", "best_iteration", "data_hash")}
    meta["scoring_cost_us_p50_p99"] = json.dumps(cost)
    args.html.write_text(
        render_html(
            "fengkong models: handbook protocol",
            metrics,
            {"test": (res.test_y, res.test_scores)},
            feats,
            meta,
        ),
        encoding="utf-8",
    )
    print(f"HTML report: {args.html}")
    if args.save is not None:
        print("saved", model.save(args.save))


if __name__ == "__main__":
    main()
