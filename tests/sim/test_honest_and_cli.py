"""Honest behaviour within the documented ranges; the handbook loader; the CLI."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from fengkong.cli.main import main
from fengkong.events import parse_event, parse_label
from fengkong.sim.datasets import handbook_events, handbook_stream
from fengkong.sim.honest_stats import DOCUMENTED_RANGES, honest_statistics
from tests.sim.conftest import Simulated


def test_honest_statistics_within_documented_ranges(simulated: Simulated) -> None:
    stats = honest_statistics(simulated.events_path, simulated.labels_path)
    assert set(stats) == set(DOCUMENTED_RANGES)
    outside = {
        k: v
        for k, v in stats.items()
        if not DOCUMENTED_RANGES[k][0] <= v <= DOCUMENTED_RANGES[k][1]
    }
    assert not outside


_HEADER = (
    "TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_TIME_SECONDS,"
    "TX_TIME_DAYS,TX_FRAUD,TX_FRAUD_SCENARIO"
)
_ROWS = [
    "0,2018-04-01 00:00:31,596,3156,57.16,31,0,0,0",
    "1,2018-04-01 00:02:10,4961,3412,81.51,130,0,0,0",
    "2,2018-04-02 07:07:56,2,1365,246.0,112076,1,1,1",
    "3,2018-04-03 09:09:29,4128,8737,64.49,205769,2,1,2",
    "4,2018-04-04 10:00:00,7,1,1.00,295200,3,0,0",
]


@pytest.fixture()
def handbook_gz(tmp_path: Path) -> Path:
    path = tmp_path / "transactions.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join([_HEADER, *_ROWS]) + "\n")
    return path


def test_handbook_rows_become_payment_events_with_delayed_labels(handbook_gz: Path) -> None:
    pairs = list(handbook_stream(handbook_gz, label_delay=timedelta(days=3)))
    assert len(pairs) == 5
    event, label = pairs[2]
    parsed = parse_event(event)
    assert (parsed.event_id, parsed.user_id, parsed.merchant_id) == ("2", "2", "1365")
    assert str(parsed.amount) == "246"  # canonical: one spelling per amount
    assert parsed.occurred_at == datetime(2018, 4, 2, 7, 7, 56, tzinfo=UTC)
    assert label is not None
    lab = parse_label(label)
    assert lab.label == "fraud" and lab.event_id == "2"
    assert lab.at == parsed.occurred_at + timedelta(days=3)
    assert lab.scenario == "handbook_amount_over_220"
    assert pairs[3][1] is not None and pairs[3][1]["scenario"] == "handbook_compromised_terminal"
    assert pairs[0][1] is None


def test_handbook_date_window(handbook_gz: Path) -> None:
    start = datetime(2018, 4, 2, tzinfo=UTC)
    end = datetime(2018, 4, 4, tzinfo=UTC)
    assert [e["event_id"] for e in handbook_events(handbook_gz, start, end)] == ["2", "3"]


def test_cli_handbook(handbook_gz: Path, tmp_path: Path) -> None:
    out, labels = tmp_path / "hb.jsonl", tmp_path / "hbl.jsonl"
    result = CliRunner().invoke(
        main,
        [
            "sim",
            "handbook",
            "--data",
            str(handbook_gz),
            "--out",
            str(out),
            "--labels",
            str(labels),
            "--from",
            "2018-04-01",
            "--to",
            "2018-04-03",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"events": 4, "fraud_labels": 2}
    assert len(labels.read_bytes().splitlines()) == 2


def test_cli_sim(tmp_path: Path) -> None:
    out, labels = tmp_path / "e.jsonl", tmp_path / "l.jsonl"
    result = CliRunner().invoke(
        main,
        [
            "sim",
            "--users",
            "200",
            "--days",
            "3",
            "--seed",
            "1",
            "--out",
            str(out),
            "--labels",
            str(labels),
            "--scenarios",
            "account_takeover,phishing_qr",
            "--attack-rate",
            "0.05",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["events"] == len(out.read_bytes().splitlines())
    scenarios = {orjson.loads(x)["scenario"] for x in labels.read_bytes().splitlines()}
    assert scenarios <= {"account_takeover", "phishing_qr"} and scenarios
    bad = CliRunner().invoke(main, ["sim", "--out", str(out), "--scenarios", "nope"])
    assert bad.exit_code != 0 and "unknown scenario" in bad.output
