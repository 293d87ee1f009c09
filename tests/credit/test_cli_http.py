from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from fengkong.api.app import create_app
from fengkong.cli.main import main
from fengkong.credit.registry import CreditRegistry
from fengkong.runtime import model_store
from fengkong.settings import Settings
from fengkong.storage.models_sqlite import SQLiteModelStore
from tests.keys import AUTH

from .conftest import synthetic

ENV = {"FENGKONG_TOKEN_SECRET": "cli-test-secret-0123456789"}


def _csv(path: Path, n: int = 800, seed: int = 1, outcome: bool = True) -> Path:
    data = synthetic(n, seed)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*data.names, "requested", "term", *(["outcome"] if outcome else [])])
        y = data.require_outcome()
        for i in range(len(data)):
            row = data.row(i)
            extra = ["bad" if y[i] else "good"] if outcome else []
            w.writerow([*("" if row[n] is None else row[n] for n in data.names), 8000, 12, *extra])
    return path


def test_cli_train_monotonic(tmp_path: Path) -> None:
    db = str(tmp_path / "c.db")
    args = ["credit", "train", str(_csv(tmp_path / "a.csv", 500)), "--target", "outcome"]
    args += ["--db", db, "--exclude", "requested", "--exclude", "term", "--monotonic"]
    r = CliRunner().invoke(main, args, env=ENV)
    assert r.exit_code == 0 and "chosen monotonic" in r.output, r.output
    card = CreditRegistry(SQLiteModelStore(db)).load(1)
    assert card.meta["trend"] == "monotonic" and not card.pairs
    for b in card.variables:
        if b.kind == "numerical":  # WOE over the real bins (the missing bin is last)
            steps = [q - p for p, q in itertools.pairwise(b.woe[:-1])]
            assert all(s >= -1e-9 for s in steps) or all(s <= 1e-9 for s in steps), b.name


@pytest.mark.timeout(600)  # the boosted half is refitted per inner fold for calibration
def test_cli_train_evaluate_score_monitor_promote(tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "c.db")
    train_csv, rejects = _csv(tmp_path / "a.csv"), _csv(tmp_path / "r.csv", 300, 2, False)
    html = tmp_path / "report.html"
    args = ["credit", "train", str(train_csv), "--target", "outcome", "--db", db]
    args += ["--exclude", "requested", "--exclude", "term", "--html", str(html)]
    r = runner.invoke(main, args, env=ENV)
    assert r.exit_code == 0, r.output
    assert "scorecard v1 (champion)" in r.output
    page = html.read_text()
    assert "<table>" in page and "WOE" in page and page.count("data:image/png") == 3
    boosted = CreditRegistry(SQLiteModelStore(db)).load(1).pairs
    assert " × " in page and len(boosted) == 5  # the boosted half

    rest = ["--rejects", str(rejects), "--challenger", "--logistic"]
    r = runner.invoke(main, [*args, *rest], env=ENV)
    assert r.exit_code == 0, r.output
    reg = CreditRegistry(SQLiteModelStore(db))
    assert (reg.role("champion"), reg.role("challenger")) == (1, 2)
    assert reg.load(2).meta["reject_inference"]["rejects"] == 300
    assert reg.load(1).meta["trend"] == "auto" and not reg.load(2).pairs

    r = runner.invoke(
        main, ["credit", "evaluate", str(train_csv), "--target", "outcome", "--db", db], env=ENV
    )
    assert r.exit_code == 0 and '"auc"' in r.output, r.output
    out = tmp_path / "scored.csv"
    score = ["credit", "score", str(train_csv), "--out", str(out), "--db", db]
    score += ["--exclude", "outcome", "--requested", "requested", "--term", "term"]
    r = runner.invoke(main, score, env=ENV)
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 800 and {x["decision"] for x in rows} <= {"approve", "review", "decline"}
    r = runner.invoke(main, ["credit", "monitor", str(rejects), "--db", db], env=ENV)
    assert r.exit_code == 0 and "score PSI" in r.output, r.output
    r = runner.invoke(main, ["credit", "promote", "--db", db], env=ENV)
    assert r.exit_code == 0 and reg.role("champion") == 2
    r = runner.invoke(main, ["credit", "rollback", "--db", db], env=ENV)
    assert r.exit_code == 0 and reg.role("champion") == 1
    r = runner.invoke(main, ["credit", "train", str(train_csv), "--target", "nope", "--db", db])
    assert r.exit_code == 2 and "nope" in r.output


@pytest.fixture()
def client(settings: Settings) -> Iterator[TestClient]:
    from fengkong.credit.train import fit_scorecard

    reg = CreditRegistry(model_store(settings))
    reg.promote(reg.register(fit_scorecard(synthetic(), 0.05, "woe", 1.0)))
    with TestClient(create_app(settings), headers=AUTH) as c:
        yield c


def _application(i: int, **app: Any) -> dict[str, Any]:
    body = {
        "requested_amount": "10000",
        "term_months": 12,
        "stated_income": "300000",
        "applicant": {"income": 200000, "age": 50, "debt_ratio": 0.1, "housing": "own"},
        **app,
    }
    return {
        "event_id": f"ca{i}",
        "type": "credit_application",
        "user_id": "u1",
        "occurred_at": "2026-11-20T12:31:09+08:00",
        "application": body,
    }


def test_credit_application_round_trip_over_http(client: TestClient) -> None:
    r = client.post("/v1/events", json=_application(1))
    assert r.status_code == 200, r.text
    body = r.json()
    offer = body["offer"]
    assert offer["decision"] == "approve" and body["decision"] == "allow"
    assert offer["limit"] > 0 and 0 < offer["annual_rate"] < 0.24 and offer["term_months"] == 12
    assert body["versions"]["credit"] == "credit-v1"
    assert client.get("/v1/decisions/ca1").json()["offer"] == offer


def test_bad_credit_application_is_422_naming_fields(client: TestClient) -> None:
    r = client.post("/v1/events", json=_application(2, term_months=0, requested_amount="-5"))
    assert r.status_code == 422
    fields = sorted(d["field"] for d in r.json()["detail"])
    assert fields == ["application.requested_amount", "application.term_months"]
    r = client.post("/v1/events", json=_application(3, applicant={"age": [1]}))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "application.applicant"
    missing = {k: v for k, v in _application(4).items() if k != "application"}
    r = client.post("/v1/events", json=missing)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "application"
    assert client.get("/v1/decisions/ca2").status_code == 404


def test_device_farm_application_is_declined_whatever_the_score(client: TestClient) -> None:
    device = {"device_id": "farm-1", "fingerprint": {"platform": "android", "is_emulator": True}}
    body = {**_application(5), "device": device}
    r = client.post("/v1/events", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["offer"]["decision"] == "decline" and out["offer"]["limit"] == 0.0
    assert "fraud_emulator" in out["offer"]["reasons"]
    assert out["decision"] == "block"
    # The same applicant on a clean device is approved: the score was not the problem.
    clean = client.post("/v1/events", json={**_application(6), "user_id": "u2"}).json()
    assert clean["offer"]["decision"] == "approve"
