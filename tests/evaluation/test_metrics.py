"""Evaluation metrics on a tiny hand-made case whose answers are worked out by hand."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from click.testing import CliRunner

from fengkong.cli.main import main
from fengkong.evaluation import evaluate_files, format_table, precision_recall, render_html


def _ev(eid: str, user: str, etype: str = "login", amount: float | None = None) -> dict[str, Any]:
    e: dict[str, Any] = {
        "event_id": eid,
        "type": etype,
        "user_id": user,
        "occurred_at": f"2026-10-01T10:00:{int(eid[1:]):02d}+08:00",
    }
    if amount is not None:
        e["amount"] = f"{amount:.2f}"
    return e


# honest h1: e1 allow, e2 challenge; honest h2: e3 allow, e4 allow.
# ATO on victim v (honest account): e5 allow (100), e6 block (200), e7 allow (300), plus
#   v's own honest e8 review.
# batch registration by fraud account f: e9 allow (50, credit_draw), e10 allow (login);
#   e11 has no decision.
EVENTS = [
    _ev("e1", "h1"),
    _ev("e2", "h1", "payment", 10.0),
    _ev("e3", "h2"),
    _ev("e4", "h2"),
    _ev("e5", "v", "credit_draw", 100.0),
    _ev("e6", "v", "transfer", 200.0),
    _ev("e7", "v", "transfer", 300.0),
    _ev("e8", "v", "payment", 5.0),
    _ev("e9", "f", "credit_draw", 50.0),
    _ev("e10", "f"),
    _ev("e11", "f"),
]
LABELS = [
    *(
        {
            "event_id": e,
            "label": "fraud",
            "source": "customer_report",
            "at": "2026-10-05T00:00:00+08:00",
            "scenario": "account_takeover",
        }
        for e in ("e5", "e6", "e7")
    ),
    *(
        {
            "event_id": e,
            "label": "fraud",
            "source": "confirmed_case",
            "at": "2026-10-05T00:00:00+08:00",
            "scenario": "batch_registration",
        }
        for e in ("e9", "e10", "e11")
    ),
    {
        "user_id": "f",
        "label": "fraud",
        "source": "confirmed_case",
        "at": "2026-10-05T00:00:00+08:00",
        "scenario": "batch_registration",
    },
    {"event_id": "e1", "label": "legit", "source": "analyst", "at": "2026-10-05T00:00:00+08:00"},
]
DECISIONS = {
    "e1": ("allow", 0.1, 1.0),
    "e2": ("challenge", 0.6, 2.0),
    "e3": ("allow", 0.2, 3.0),
    "e4": ("allow", 0.1, 4.0),
    "e5": ("allow", 0.3, 5.0),
    "e6": ("block", 0.9, 6.0),
    "e7": ("allow", 0.4, 7.0),
    "e8": ("review", 0.5, 8.0),
    "e9": ("allow", 0.2, 9.0),
    "e10": ("allow", 0.1, 10.0),
}


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    decisions = [
        {
            "event_id": k,
            "decision": d,
            "challenge": "otp" if d == "challenge" else None,
            "score": s,
            "warnings": [],
            "reasons": [],
            "latency_ms": lat,
        }
        for k, (d, s, lat) in DECISIONS.items()
    ]
    return (
        _write(tmp_path / "e.jsonl", EVENTS),
        _write(tmp_path / "l.jsonl", LABELS),
        _write(tmp_path / "d.jsonl", decisions),
    )


def test_known_answers(files: tuple[Path, Path, Path]) -> None:
    ev = evaluate_files(*files)
    ato = ev.scenarios["account_takeover"]
    assert (ato.events, ato.flagged_events, ato.accounts, ato.caught_accounts) == (3, 1, 1, 1)
    assert ato.event_recall == pytest.approx(1 / 3)
    # 100 moved before the block; 200 (blocked) and 300 (after) count as saved.
    assert ato.money_saved == pytest.approx(1 - 100 / 600)
    batch = ev.scenarios["batch_registration"]
    assert (batch.events, batch.flagged_events, batch.account_recall) == (2, 0, 0.0)
    assert batch.money_saved == 0.0
    assert ev.missing_decisions == 1
    # Honest: e1..e4 and the victim's own e8; accounts h1, h2, v.
    assert ev.honest_events == 5 and ev.honest_accounts == 3
    assert ev.fp_rate("challenge") == pytest.approx(1 / 5)
    assert ev.fp_rate("review") == pytest.approx(1 / 5)
    assert ev.fp_rate("block") == 0.0
    assert ev.account_fp_rate("challenge") == pytest.approx(1 / 3)
    assert ev.honest_account_worst == {"allow": 1, "challenge": 1, "review": 1}
    assert ev.latency(50) == pytest.approx(5.5)
    totals = ev.totals()
    assert (totals.events, totals.flagged_events) == (5, 1)


def test_average_precision_by_hand() -> None:
    # fraud 0.9, honest 0.5, fraud 0.4, honest 0.1: AP = 0.5·1 + 0.5·(2/3).
    precision, recall, ap = precision_recall(np.array([0.9, 0.4]), np.array([0.5, 0.1]))
    assert ap == pytest.approx(0.5 + 1 / 3)
    assert list(recall) == [0.5, 0.5, 1.0, 1.0]
    assert list(precision) == pytest.approx([1.0, 0.5, 2 / 3, 0.5])
    # Tied scores form one threshold.
    _, _, tied = precision_recall(np.array([0.5]), np.array([0.5]))
    assert tied == pytest.approx(0.5)


def test_scores_in_report(files: tuple[Path, Path, Path]) -> None:
    ev = evaluate_files(*files)
    assert ev.has_scores
    # fraud scores: .3 .9 .4 .2 .1; honest: .1 .6 .2 .1 .5
    assert sorted(ev.fraud_scores.tolist()) == [0.1, 0.2, 0.3, 0.4, 0.9]
    table = format_table(ev)
    assert "account_takeover" in table and "33.3%" in table
    page = render_html(ev)
    assert page.count("data:image/png;base64,") == 4
    d = ev.to_dict()
    assert d["scenarios"]["account_takeover"]["money_saved"] == pytest.approx(5 / 6)
    assert not math.isnan(d["average_precision"])


def test_cli_writes_table_and_html(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    events, labels, decisions = files
    html = tmp_path / "r.html"
    result = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--events",
            str(events),
            "--labels",
            str(labels),
            "--decisions",
            str(decisions),
            "--html",
            str(html),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "batch_registration" in result.output and "events without a decision" in result.output
    assert html.read_text().startswith("<!doctype html>")


def _day_ev(eid: str, user: str, day: int) -> dict[str, Any]:
    return {
        "event_id": eid,
        "type": "login",
        "user_id": user,
        "occurred_at": f"2026-10-{1 + day:02d}T12:00:00+08:00",
    }


def test_friction_is_per_14_day_window() -> None:
    """30 days, four honest accounts: a (touched day 1), b (touched day 28), c and d
    active throughout and never touched. Over the stream half the accounts met a
    non-allow; in any 14-day window at most one of the three or four active there."""
    from fengkong.evaluation.metrics import _Decision, evaluate

    events = [
        _day_ev("a1", "a", 1),
        _day_ev("b1", "b", 28),
        *(_day_ev(f"{u}{d}", u, d) for u in "cd" for d in range(30)),
    ]
    events.sort(key=lambda e: e["occurred_at"])
    decisions = {e["event_id"]: _Decision("allow", 0.0, 1.0) for e in events}
    decisions["a1"] = _Decision("challenge", 0.6, 1.0)
    decisions["b1"] = _Decision("review", 0.8, 1.0)
    ev = evaluate(events, {}, {}, decisions)
    assert ev.honest_account_friction == pytest.approx(0.5)
    assert len(ev.friction_windows) == 30 - 14 + 1
    assert ev.worst_friction_window == (0, 3, 1)  # a, c, d active; a touched
    assert ev.honest_account_friction_14d == pytest.approx(1 / 3)
    assert not ev.targets()["honest_accounts_not_allowed"]  # 33 % > 2 %
    out = ev.to_dict()["honest"]
    assert out["accounts_not_allowed"] == 0.5
    assert out["accounts_not_allowed_14d"] == pytest.approx(1 / 3, abs=1e-6)
    assert out["windows_14d"][-1] == {"first_day": 16, "accounts": 3, "not_allowed": 1}
    assert "worst 14-day window (days 0-13): 1 of 3" in format_table(ev)


def test_a_14_day_stream_is_one_window(files: tuple[Path, Path, Path]) -> None:
    ev = evaluate_files(*files)
    assert len(ev.friction_windows) == 1
    assert ev.honest_account_friction_14d == ev.honest_account_friction
    assert "worst 14-day window" not in format_table(ev)


def test_honest_warnings_are_counted_apart_from_friction(tmp_path: Path) -> None:
    rows = [_ev("e1", "h1"), _ev("e2", "h1"), _ev("e3", "h2"), _ev("e4", "h3")]
    warn = [{"code": "scam_transfer_in_call", "message": "hang up"}]
    decided = {"e1": ("allow", warn), "e2": ("challenge", warn), "e3": ("allow", warn)}
    decisions = [
        {"event_id": k, "decision": d, "score": 0.0, "warnings": w, "reasons": []}
        for k, (d, w) in decided.items()
    ] + [{"event_id": "e4", "decision": "allow", "score": 0.0, "warnings": [], "reasons": []}]
    ev = evaluate_files(
        _write(tmp_path / "e.jsonl", rows),
        _write(tmp_path / "l.jsonl", []),
        _write(tmp_path / "d.jsonl", decisions),
    )
    # e2 was challenged: friction, not a warning; e1 and e3 were allowed with one.
    assert (ev.honest_events_warned, ev.honest_accounts_warned) == (2, 2)
    assert ev.to_dict()["honest"]["accounts_warned"] == pytest.approx(2 / 3)
    assert ev.honest_events_not_allowed == 1
    assert "warned" in format_table(ev)
