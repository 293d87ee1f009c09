"""The scorecard report: the table (bins, WOE, IV, points), score distributions of good
and bad, KS and ROC curves, calibration. One self-contained HTML file (inline PNGs)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from typing import Any

import numpy as np

from fengkong.credit.metrics import auc, brier, calibration_table, ks
from fengkong.credit.scorecard import Scorecard

Array = np.ndarray[Any, Any]


def evaluate(card: Scorecard, y: Array, scores: Array) -> dict[str, Any]:
    """AUC, KS, Brier score and the calibration table of ``scores`` against ``y``."""
    pd = card.pd_many(scores)
    return {
        "rows": len(y),
        "bad_rate": float(y.mean()),
        "auc": auc(y, -scores),
        "ks": ks(y, -scores),
        "brier": brier(y, pd),
        "mean_pd": float(pd.mean()),
        "calibration": calibration_table(y, pd),
    }


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _figures(y: Array, scores: Array, figures: Mapping[str, Any]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from sklearn.metrics import roc_curve

    out = []
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.linspace(scores.min(), scores.max(), 30).tolist()
    ax.hist(scores[y == 0], bins=bins, alpha=0.6, density=True, label="good")
    ax.hist(scores[y == 1], bins=bins, alpha=0.6, density=True, label="bad")
    ax.set(title="Score distribution", xlabel="score", ylabel="density")
    ax.legend()
    out.append(_png(fig))
    plt.close(fig)

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    fpr, tpr, _ = roc_curve(y, -scores)
    a1.plot(fpr, tpr, label=f"AUC {figures['auc']:.3f}")
    a1.plot([0, 1], [0, 1], "k:")
    a1.set(title="ROC", xlabel="false positive rate", ylabel="true positive rate")
    a1.legend()
    order = np.sort(scores)
    cum_bad = np.searchsorted(np.sort(scores[y == 1]), order, side="right") / max(1, y.sum())
    cum_good = np.searchsorted(np.sort(scores[y == 0]), order, side="right") / max(1, (1 - y).sum())
    a2.plot(order, cum_bad, label="bad")
    a2.plot(order, cum_good, label="good")
    a2.set(title=f"KS {figures['ks']:.3f}", xlabel="score", ylabel="cumulative share")
    a2.legend()
    out.append(_png(fig))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4.5, 4))
    cal = figures["calibration"]
    ax.plot([c["predicted"] for c in cal], [c["observed"] for c in cal], "o-")
    top = max(max(c["predicted"] for c in cal), max(c["observed"] for c in cal))
    ax.plot([0, top], [0, top], "k:")
    ax.set(title="Calibration (PD deciles)", xlabel="predicted PD", ylabel="observed bad rate")
    out.append(_png(fig))
    plt.close(fig)
    return out


def _table(card: Scorecard) -> str:
    rows = []
    for r in card.table():
        iv = "—" if r["iv"] != r["iv"] else f"{r['iv']:.3f}"  # pairs have no IV of their own
        rows.append(
            "<tr>"
            f"<td>{html.escape(r['variable'])}</td><td>{html.escape(r['bin'])}</td>"
            f"<td>{r['n_good']}</td><td>{r['n_bad']}</td><td>{r['woe']:.3f}</td>"
            f"<td>{iv}</td><td>{r['points']:.1f}</td></tr>"
        )
    head = "<tr><th>variable</th><th>bin</th><th>good</th><th>bad</th><th>WOE</th>"
    head += "<th>IV</th><th>points</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def render_html(card: Scorecard, y: Array, scores: Array, title: str) -> str:
    """The whole report for ``scores`` of a labelled sample."""
    figures = evaluate(card, y, scores)
    imgs = "".join(
        f'<p><img src="data:image/png;base64,{b}"></p>' for b in _figures(y, scores, figures)
    )
    s = card.scaling
    summary = (
        f"<p>{figures['rows']} applicants, bad rate {figures['bad_rate']:.3f}: "
        f"AUC {figures['auc']:.3f}, KS {figures['ks']:.3f}, Brier {figures['brier']:.4f}, "
        f"mean PD {figures['mean_pd']:.3f}. Scaling: {s.base_score:g} points at odds "
        f"{s.base_odds:g}:1, {s.pdo:g} points to double the odds. "
        f"Settings chosen by inner CV: {html.escape(str(card.meta.get('inner_cv', {})))} "
        f"{html.escape(str({k: card.meta.get(k) for k in ('form', 'min_bin_size', 'c')}))}</p>"
    )
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>{summary}{imgs}"
        f"<h2>Scorecard</h2>{_table(card)}</body></html>"
    )
