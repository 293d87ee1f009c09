"""Tolokers: graph-aware LightGBM vs the same model without neighbour features.

    python benchmarks/bench_graph_tolokers.py [--data ../shared/data/tolokers/tolokers.npz]

Uses the file's 10 train/val/test masks as given (50/25/25, not GADBench's 40/20/40):
train on train, early-stop on val, report test AUROC, AUPRC and Rec@K (K = anomalies in
the test set) as mean ± std over the 10 splits. Neighbour label share uses training
labels only.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import lightgbm
import numpy as np

from fengkong.graph.scoring import adjacency, evaluate, label_share, lgbm, neighbour_features

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "tolokers" / "tolokers.npz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT)
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args()
    t0 = time.perf_counter()
    d = np.load(args.data)
    x = d["node_features"].astype(np.float64)
    y = d["node_labels"].astype(np.int64)
    e = d["edges"]
    n = len(y)
    adj = adjacency(e[:, 0], e[:, 1], n)
    agg = neighbour_features(x, adj)
    tr, va, te = d["train_masks"], d["val_masks"], d["test_masks"]
    print(
        f"tolokers: {n} nodes, {adj.nnz // 2} undirected edges, {y.mean():.3f} anomalous; "
        f"split sizes {tr[0].mean():.2f}/{va[0].mean():.2f}/{te[0].mean():.2f}"
    )
    results: dict[str, list[tuple[float, float, float]]] = {}
    for i in range(tr.shape[0]):
        share = label_share(adj, y, tr[i])  # training labels only
        variants = {
            "plain (own features)": x,
            "graph-aware (+neighbour agg.)": np.hstack([x, agg]),
            "graph-aware (+agg. +label share)": np.hstack([x, agg, share]),
        }
        for name, feats in variants.items():
            model = lgbm(seed=i, n_jobs=args.n_jobs)
            model.fit(
                feats[tr[i]],
                y[tr[i]],
                eval_X=(feats[va[i]],),
                eval_y=(y[va[i]],),
                eval_metric="average_precision",
                callbacks=[lightgbm.early_stopping(50, verbose=False)],
            )
            s = evaluate(y[te[i]], model.predict_proba(feats[te[i]])[:, 1])
            results.setdefault(name, []).append((s.auroc, s.auprc, s.rec_at_k))
    print(f"{'model':36s} {'AUROC':>15s} {'AUPRC':>15s} {'Rec@K':>15s}")
    for name, rows in results.items():
        a = np.array(rows)
        cells = [f"{m:.4f} ± {sd:.4f}" for m, sd in zip(a.mean(0), a.std(0), strict=True)]
        print(f"{name:36s} " + " ".join(f"{c:>15s}" for c in cells))
    print(f"({tr.shape[0]} splits, {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
