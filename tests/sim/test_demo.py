"""``fengkong demo`` end to end at a tiny size: simulator, real server over HTTP, evaluation."""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from fengkong.cli.main import main


def test_demo_end_to_end(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = CliRunner().invoke(
        main,
        [
            "demo",
            "--users",
            "120",
            "--days",
            "3",
            "--attack-rate",
            "0.05",
            "--dir",
            str(workdir),
            "--batch-size",
            "200",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    events = (workdir / "events.jsonl").read_bytes().splitlines()
    decisions = [orjson.loads(x) for x in (workdir / "decisions.jsonl").read_bytes().splitlines()]
    assert len(decisions) == len(events) > 100
    assert [d["event_id"] for d in decisions] == [orjson.loads(e)["event_id"] for e in events]
    assert {d["decision"] for d in decisions} <= {"allow", "challenge", "review", "block"}
    assert "Detection by scenario" in result.output
    assert "Server stopped" in result.output
    assert (workdir / "report.html").read_text().count("data:image/png;base64,") >= 2
