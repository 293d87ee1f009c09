"""Rendering an :class:`Evaluation`: a terminal table and a self-contained HTML report."""

from __future__ import annotations

import base64
import html
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fengkong.evaluation.metrics import DECISIONS, Evaluation, ScenarioResult


def _pct(x: float) -> str:
    return "—" if x != x else f"{100 * x:5.1f}%"


def _ms(x: float) -> str:
    return "—" if x != x else f"{x:.2f} ms"


def _rows(ev: Evaluation) -> list[tuple[ScenarioResult, bool]]:
    rows = [(ev.scenarios[name], False) for name in sorted(ev.scenarios)]
    return [*rows, (ev.totals(), True)]


def format_table(ev: Evaluation) -> str:
    """The evaluation as plain text for a terminal."""
    head = (
        f"{'scenario':<24}{'events':>8}{'recall':>9}{'accounts':>10}{'acc.recall':>11}"
        f"{'money saved':>13}   allow/chal/review/block"
    )
    lines = ["Detection by scenario", head, "-" * len(head)]
    for r, total in _rows(ev):
        if total:
            lines.append("-" * len(head))
        mix = "/".join(str(r.decisions[d]) for d in DECISIONS)
        lines.append(
            f"{r.name:<24}{r.events:>8}{_pct(r.event_recall):>9}{r.accounts:>10}"
            f"{_pct(r.account_recall):>11}{_pct(r.money_saved):>13}   {mix}"
        )
    lines += [
        "",
        f"Honest users: {ev.honest_events} events, {ev.honest_accounts} accounts",
        f"{'decision':<12}{'per event':>12}{'per account':>14}",
    ]
    for d in ("challenge", "review", "block"):
        lines.append(f"{d:<12}{_pct(ev.fp_rate(d)):>12}{_pct(ev.account_fp_rate(d)):>14}")
    friction = ev.honest_event_friction
    lines.append(
        f"{'not allowed':<12}{'—' if friction != friction else f'{100 * friction:.2f}%':>12}"
        f"{_pct(ev.honest_account_friction):>14}"
    )
    warned_e, warned_a = ev.honest_warned_shares
    lines.append(f"{'warned':<12}{_pct(warned_e):>12}{_pct(warned_a):>14}   (allowed, warned)")
    worst = ev.worst_friction_window
    if worst is not None and len(ev.friction_windows) > 1:
        first, n, k = worst
        lines.append(
            f"worst 14-day window (days {first}-{first + 13}): {k} of {n} honest accounts "
            f"active in it not allowed ({_pct(ev.honest_account_friction_14d)})"
        )
    lines.append("(a warning counts as detection for fake_customer_service and phishing_qr)")
    lines.append("")
    lines.append(_targets_line(ev))
    lines.append(f"latency p50 {_ms(ev.latency(50))}, p99 {_ms(ev.latency(99))}")
    if ev.has_scores:
        lines.append(f"average precision (event scores): {ev.pr_curve()[2]:.3f}")
    if ev.missing_decisions:
        lines.append(f"events without a decision (not counted): {ev.missing_decisions}")
    return "\n".join(lines)


def _targets_line(ev: Evaluation) -> str:
    missed = [name for name, ok in ev.targets().items() if not ok]
    return "targets: all met" if not missed else "targets not met: " + ", ".join(missed)


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def plots(ev: Evaluation) -> dict[str, str]:
    """Base64 PNGs: per-scenario recall, decision mix, and score plots when scores exist."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render to memory only
    import matplotlib.pyplot as plt

    out: dict[str, str] = {}
    names = sorted(ev.scenarios)
    if names:
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.5))
        y = range(len(names))
        ax.barh(
            [i - 0.2 for i in y],
            [ev.scenarios[n].event_recall for n in names],
            0.4,
            label="event recall",
        )
        ax.barh(
            [i + 0.2 for i in y],
            [ev.scenarios[n].account_recall for n in names],
            0.4,
            label="account recall",
        )
        ax.set_yticks(list(y), names)
        ax.set_xlim(0, 1)
        ax.invert_yaxis()
        ax.legend(loc="lower right")
        ax.set_title("Recall by scenario")
        out["recall"] = _png(fig)
        plt.close(fig)
    groups = {"honest": ev.honest_event_decisions, "fraud": ev.fraud_decisions}
    fig, ax = plt.subplots(figsize=(6, 2.2))
    for i, counts in enumerate(groups.values()):
        total = sum(counts.values()) or 1
        left = 0.0
        for d, colour in zip(DECISIONS, ("#4caf50", "#ffb300", "#fb8c00", "#e53935"), strict=True):
            share = counts[d] / total
            ax.barh(i, share, left=left, color=colour, label=d if i == 0 else None)
            left += share
    ax.set_yticks([0, 1], list(groups))
    ax.set_xlim(0, 1)
    ax.legend(ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    ax.set_title("Decision mix")
    out["mix"] = _png(fig)
    plt.close(fig)
    if ev.has_scores:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        bins = [i / 50 for i in range(51)]
        ax.hist(ev.honest_scores, bins=bins, alpha=0.6, density=True, label="honest")
        ax.hist(ev.fraud_scores, bins=bins, alpha=0.6, density=True, label="fraud")
        ax.set_yscale("log")
        ax.set_xlabel("score")
        ax.legend()
        ax.set_title("Score distributions")
        out["scores"] = _png(fig)
        plt.close(fig)
        precision, recall, ap = ev.pr_curve()
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.step(recall, precision, where="post")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_title(f"Precision–recall (AP {ap:.3f})")
        out["pr"] = _png(fig)
        plt.close(fig)
    return out


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{padding:.3em .8em;border-bottom:1px solid #ddd}
td{text-align:right}td:first-child,th:first-child{text-align:left}tr.total{font-weight:bold}
img{max-width:100%;margin:1em 0;display:block}
"""


def render_html(ev: Evaluation, title: str = "fengkong evaluation") -> str:
    """A self-contained HTML page (images embedded as base64 PNG)."""
    e = html.escape
    rows = []
    for r, total in _rows(ev):
        mix = " / ".join(str(r.decisions[d]) for d in DECISIONS)
        rows.append(
            f"<tr{' class=total' if total else ''}><td>{e(r.name)}</td><td>{r.events}</td>"
            f"<td>{_pct(r.event_recall)}</td><td>{r.accounts}</td>"
            f"<td>{_pct(r.account_recall)}</td><td>{_pct(r.money_saved)}</td><td>{mix}</td></tr>"
        )
    fp_rows = "".join(
        f"<tr><td>{d}</td><td>{_pct(ev.fp_rate(d))}</td><td>{_pct(ev.account_fp_rate(d))}</td>"
        f"<td>{ev.honest_event_decisions[d]}</td></tr>"
        for d in ("challenge", "review", "block")
    )
    images = "".join(
        f'<img alt="{k}" src="data:image/png;base64,{v}">' for k, v in plots(ev).items()
    )
    extra = ""
    if ev.has_scores:
        extra += f"<p>Average precision over event scores: {ev.pr_curve()[2]:.3f}</p>"
    if ev.missing_decisions:
        extra += f"<p>Events without a decision (not counted): {ev.missing_decisions}</p>"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>{_CSS}</style></head><body>
<h1>{e(title)}</h1><p>Generated {when}.</p>
<h2>Detection by scenario</h2>
<table><tr><th>scenario</th><th>fraud events</th><th>event recall</th><th>accounts</th>
<th>account recall</th><th>money saved</th><th>allow / challenge / review / block</th></tr>
{"".join(rows)}</table>
<p>An account is caught when any of its fraud events was challenged, reviewed or blocked;
money saved is the share of the attack's money not moved before the first such decision.</p>
<h2>Cost to honest users</h2>
<p>{ev.honest_events} honest events from {ev.honest_accounts} honest accounts.</p>
<table><tr><th>decision</th><th>share of events</th><th>share of accounts (≥ once)</th>
<th>events</th></tr>{fp_rows}</table>
<p>Latency p50 {_ms(ev.latency(50))}, p99 {_ms(ev.latency(99))}.</p>
{extra}
<h2>Plots</h2>{images}
</body></html>
"""


def write_html(ev: Evaluation, path: Path, title: str = "fengkong evaluation") -> None:
    path.write_text(render_html(ev, title), encoding="utf-8")
