"""Evaluation of scores against labels: figures, a terminal table and an HTML report."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

Array = np.ndarray[Any, Any]
DAY = 86400.0


def recall_at_fpr(y: Array, s: Array, fpr: float) -> float:
    """Share of frauds caught at the threshold that flags ``fpr`` of honest events."""
    f, t, _ = roc_curve(y, s)
    return float(np.interp(fpr, f, t))


def card_precision_at_k(y: Array, s: Array, ts: Array, users: Sequence[str], k: int = 100) -> float:
    """Card (account) Precision@k, the handbook's way, averaged over days.

    Per day: each account's highest score and whether any of its events that day was
    fraud; the share of frauds among the ``k`` highest accounts. Accounts found
    compromised on an earlier day (fraud and in that day's top k) are left out of later
    days, since an investigator would already have blocked them.
    """
    days = (ts // DAY).astype(np.int64)
    users_arr = np.asarray(users)
    found: set[str] = set()
    out = []
    for d in np.unique(days):
        m = days == d
        best: dict[str, tuple[float, int]] = {}
        for u, sc, lab in zip(users_arr[m], s[m], y[m], strict=True):
            if u in found:
                continue
            prev = best.get(u)
            if prev is None:
                best[u] = (float(sc), int(lab))
            else:
                best[u] = (max(prev[0], float(sc)), max(prev[1], int(lab)))
        ranked = sorted(best.items(), key=lambda kv: -kv[1][0])[:k]
        hits = [u for u, (_, lab) in ranked if lab]
        out.append(len(hits) / k)
        found.update(hits)
    return float(np.mean(out)) if out else float("nan")


def calibration(y: Array, s: Array, bins: int = 10) -> list[tuple[float, float, int]]:
    """(mean score, fraud rate, count) per quantile bin of the score."""
    order = np.argsort(s)
    out = []
    for chunk in np.array_split(order, bins):
        if chunk.size:
            out.append((float(s[chunk].mean()), float(y[chunk].mean()), int(chunk.size)))
    return out


def evaluate_scores(
    y: Array, s: Array, ts: Array, users: Sequence[str], k: int = 100
) -> dict[str, Any]:
    """The figures of one scored period."""
    both = 0 < int(y.sum()) < len(y)
    nan = float("nan")
    return {
        "events": len(y),
        "frauds": int(y.sum()),
        "auroc": float(roc_auc_score(y, s)) if both else nan,
        "average_precision": float(average_precision_score(y, s)) if both else nan,
        "recall_at_1pct_fpr": recall_at_fpr(y, s, 0.01) if both else nan,
        "recall_at_5pct_fpr": recall_at_fpr(y, s, 0.05) if both else nan,
        f"card_precision_at_{k}": card_precision_at_k(y, s, ts, users, k),
        "calibration": calibration(y, s),
    }


def top_features(contrib: Array, names: Sequence[str], n: int = 15) -> list[tuple[str, float]]:
    """Mean |TreeSHAP contribution| per feature, largest first (bias column dropped)."""
    imp = np.abs(contrib[:, : len(names)]).mean(axis=0)
    order = np.argsort(-imp)[:n]
    return [(names[i], float(imp[i])) for i in order]


_ROWS = (
    ("auroc", "AUROC"),
    ("average_precision", "average precision"),
    ("recall_at_1pct_fpr", "recall at 1 % FPR"),
    ("recall_at_5pct_fpr", "recall at 5 % FPR"),
    ("card_precision_at_100", "Card Precision@100 (per day)"),
)


def format_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    """One column per scored period or model (e.g. ``test``, or champion vs challenger)."""
    cols = list(results)
    width = max(12, *(len(c) for c in cols))
    lines = [f"{'':32}" + "".join(f"{c:>{width + 2}}" for c in cols)]
    for key, title in (("events", "events"), ("frauds", "frauds"), *_ROWS):
        cells = []
        for c in cols:
            v = results[c].get(key)
            cells.append(
                f"{'-':>{width + 2}}"
                if v is None
                else (f"{v:>{width + 2}}" if isinstance(v, int) else f"{v:>{width + 2}.4f}")
            )
        lines.append(f"{title:32}" + "".join(cells))
    return "\n".join(lines)


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def render_html(
    title: str,
    results: Mapping[str, Mapping[str, Any]],
    curves: Mapping[str, tuple[Array, Array]],
    features: Sequence[tuple[str, float]],
    meta: Mapping[str, Any],
) -> str:
    """A self-contained page: figures, ROC / PR / calibration plots, top features."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from sklearn.metrics import precision_recall_curve

    imgs = []
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for name, (y, s) in curves.items():
        f, t, _ = roc_curve(y, s)
        axes[0].plot(f, t, label=name)
        p, r, _ = precision_recall_curve(y, s)
        axes[1].plot(r, p, label=name)
        cal = calibration(y, s)
        axes[2].plot([c[0] for c in cal], [c[1] for c in cal], "o-", label=name)
    axes[0].set(title="ROC", xlabel="false-positive rate", ylabel="recall", xscale="log")
    axes[1].set(title="precision-recall", xlabel="recall", ylabel="precision")
    axes[2].plot([0, 1], [0, 1], "k:", lw=1)
    axes[2].set(title="calibration (score deciles)", xlabel="mean score", ylabel="fraud rate")
    for ax in axes:
        ax.legend(fontsize=8)
    imgs.append(_png(fig))
    plt.close(fig)
    if features:
        fig, ax = plt.subplots(figsize=(8, 0.3 * len(features) + 1))
        ax.barh([f for f, _ in features][::-1], [v for _, v in features][::-1])
        ax.set(title="top features (mean |TreeSHAP| on the test period)")
        imgs.append(_png(fig))
        plt.close(fig)
    e = html.escape
    table = e(format_table(results))
    meta_rows = "".join(
        f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in meta.items()
    )
    pics = "".join(f'<p><img src="data:image/png;base64,{b}"></p>' for b in imgs)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em}"
        "</style></head>"
        f"<body><h1>{e(title)}</h1><pre>{table}</pre><table>{meta_rows}</table>{pics}"
        "</body></html>"
    )
