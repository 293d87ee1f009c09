"""Backtest on streams with known outcomes, point-in-time features, CLI and API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fengkong.api.rules_routes import rules_router
from fengkong.cli.main import main
from fengkong.events import Label, parse_event
from fengkong.rules import compile_ruleset, parse_ruleset
from fengkong.rules.backtest import LabelIndex, format_report
from fengkong.runtime import backtest_events, default_rule_names
from fengkong.storage.rules_sqlite import SQLiteRuleStore


def _ev(i: int, **kw: Any) -> dict[str, Any]:
    base = {
        "event_id": f"e{i}",
        "type": "payment",
        "user_id": f"u{i % 3}",
        "occurred_at": f"2026-11-20T10:{i:02d}:00+08:00",
        "amount": "10",
    }
    base.update(kw)
    return base


RULES = {
    "name": "bt",
    "rules": [
        {"name": "big", "when": "amount >= 1000", "action": "review"},
        {"name": "huge", "when": "amount >= 5000", "action": "block"},
        {
            "name": "farm",
            "when": 'type == "register" and device.accounts_registered_1h >= 2',
            "action": "block",
        },
        {"name": "watch", "when": "amount >= 100", "action": "challenge:otp", "status": "shadow"},
    ],
}


def _stream() -> list[dict[str, Any]]:
    dev = {"device_id": "farm-1", "fingerprint": {"platform": "android", "model": "X"}}
    return [
        _ev(1, amount="1500"),  # big (fraud)
        _ev(2, amount="6000"),  # big + huge (fraud)
        _ev(3, amount="2000"),  # big (legit, labelled)
        _ev(4, amount="50"),  # nothing (fraud: missed)
        _ev(5, amount="200"),  # shadow only
        _ev(6, type="register", user_id="n1", amount=None, device=dev),  # sees 0 before
        _ev(7, type="register", user_id="n2", amount=None, device=dev),  # sees 1 before
        _ev(8, type="register", user_id="n3", amount=None, device=dev),  # sees 2: farm
    ]


def _labels() -> LabelIndex:
    at = "2026-12-01T00:00:00+08:00"
    return LabelIndex.from_labels(
        [
            Label(event_id="e1", label="fraud", source="chargeback", at=at, scenario="ato"),
            Label(event_id="e2", label="fraud", source="chargeback", at=at, scenario="ato"),
            Label(event_id="e3", label="legit", source="analyst", at=at),
            Label(event_id="e4", label="fraud", source="chargeback", at=at, scenario="ato"),
            Label(user_id="n3", label="fraud", source="confirmed_case", at=at, scenario="farm"),
        ]
    )


def test_known_outcomes_and_point_in_time_features() -> None:
    candidate = compile_ruleset(parse_ruleset(RULES), default_rule_names(), version="cand")
    baseline = compile_ruleset(
        parse_ruleset({"rules": [RULES["rules"][0]]}), default_rule_names(), version="base"
    )
    events = [parse_event(e) for e in _stream()]
    report = backtest_events(events, {"candidate": candidate, "live": baseline}, _labels())
    d = report.as_dict()
    assert d["events"] == 8 and d["fraud_events"] == 4 and d["fraud_amount_total"] == 7550.0
    rules = {r["rule"]: r for r in d["sets"]["candidate"]["rules"]}
    assert rules["big"]["hits"] == 3 and rules["big"]["fraud_hits"] == 2
    assert rules["big"]["precision"] == pytest.approx(2 / 3)
    assert rules["big"]["recall"] == pytest.approx(2 / 4)
    assert rules["big"]["fraud_amount_caught"] == 7500.0
    assert rules["big"]["legit_labelled_hits"] == 1
    assert rules["huge"]["hits"] == 1 and rules["huge"]["unique_hits"] == 0
    assert rules["huge"]["overlap"][0] == {"rule": "big", "shared": 1, "share": 1.0}
    # Point in time: only the third registration sees two earlier ones from the device.
    assert rules["farm"]["hits"] == 1 and rules["farm"]["fraud_hits"] == 1
    assert rules["watch"]["hits"] == 4 and rules["watch"]["status"] == "shadow"
    cand = d["sets"]["candidate"]
    assert cand["decisions"] == {"allow": 4, "challenge": 0, "review": 2, "block": 2}
    assert cand["recall"] == pytest.approx(3 / 4) and cand["precision"] == pytest.approx(3 / 4)
    assert cand["recall_by_scenario"] == {"ato": pytest.approx(2 / 3), "farm": 1.0}
    assert d["sets"]["live"]["decisions"]["review"] == 3
    assert d["changes"] == {"review->block": 1, "allow->block": 1}
    text = format_report(report)
    assert "precision 75.0%" in text and "[shadow]" in text


def test_without_labels_reports_hits_only() -> None:
    candidate = compile_ruleset(parse_ruleset(RULES), default_rule_names())
    report = backtest_events([parse_event(e) for e in _stream()], {"c": candidate})
    d = report.as_dict()
    assert "fraud_events" not in d
    assert "precision" not in d["sets"]["c"]["rules"][0]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_cli_backtest(tmp_path: Path) -> None:
    events = _write_jsonl(tmp_path / "ev.jsonl", _stream())
    labels = _write_jsonl(
        tmp_path / "lab.jsonl",
        [
            {
                "event_id": "e1",
                "label": "fraud",
                "source": "chargeback",
                "at": "2026-12-01T00:00:00Z",
            },
        ],
    )
    rs = tmp_path / "rs.json"
    rs.write_text(json.dumps(RULES))
    out = CliRunner().invoke(
        main,
        [
            "rules",
            "backtest",
            "--ruleset",
            str(rs),
            "--events",
            str(events),
            "--labels",
            str(labels),
            "--db",
            str(tmp_path / "x.db"),
            "--json",
        ],
        env={"FENGKONG_TOKEN_SECRET": "s" * 32},
    )
    assert out.exit_code == 0, out.output
    d = json.loads(out.output[out.output.index("{") :])
    assert d["fraud_events"] == 1 and list(d["sets"]) == ["candidate"]


def test_api_routes(tmp_path: Path) -> None:
    store = SQLiteRuleStore(tmp_path / "a.db", default_rule_names(), refresh_s=0.0)
    app = FastAPI()
    app.include_router(rules_router(store))
    c = TestClient(app)
    bad = c.post(
        "/v1/rules/versions",
        json={"ruleset": {"rules": [{"name": "x", "when": "amout > 1", "action": "block"}]}},
    )
    assert bad.status_code == 422 and bad.json()["problems"][0]["suggestions"] == ["amount"]
    ok = c.post("/v1/rules/versions", json={"ruleset": RULES, "author": "ana"})
    assert ok.status_code == 201 and ok.json()["label"] == "r1"
    assert c.get("/v1/rules/live").json()["version"] == 1
    assert c.get("/v1/rules/versions/1").json()["name"] == "bt"
    assert (
        c.post(
            "/v1/rules/lists/bad_ips", json={"values": ["1.1.1.1"], "ttl_seconds": 60}
        ).status_code
        == 201
    )
    assert c.get("/v1/rules/lists").json() == {"bad_ips": 1}
    assert (
        c.post("/v1/rules/freezes", json={"kind": "user", "value": "u1", "reason": "r"}).status_code
        == 201
    )
    assert (
        c.post("/v1/rules/freezes", json={"kind": "moon", "value": "u1", "reason": "r"}).status_code
        == 422
    )
    assert c.delete("/v1/rules/freezes/user/u1").status_code == 200
    bt = c.post("/v1/rules/backtest", json={"ruleset": RULES, "events": _stream()[::-1]})
    assert bt.status_code == 200
    assert {r["rule"]: r["hits"] for r in bt.json()["sets"]["candidate"]["rules"]}["farm"] == 1
    assert c.post("/v1/rules/rollback", json={}).status_code == 409  # r1 is the first
