from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fengkong.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples.jsonl"
ENV = {"FENGKONG_TOKEN_SECRET": "cli-test-secret-0123456789"}


def test_replay_writes_one_answer_per_line_and_resumes(tmp_path: Path) -> None:
    runner = CliRunner()
    events = tmp_path / "events.jsonl"
    lines = EXAMPLES.read_text().splitlines()
    events.write_text("\n".join([*lines[:4], "{oops", *lines[4:]]) + "\n")
    out = tmp_path / "out.jsonl"
    db = tmp_path / "r.db"
    r = runner.invoke(main, ["replay", str(events), "--out", str(out), "--db", str(db)], env=ENV)
    assert r.exit_code == 0, r.output
    answers = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(answers) == len(lines) + 1
    assert answers[4]["line"] == 5 and "errors" in answers[4]
    assert answers[5]["event_id"] == "ev-0005"

    # A crash after 6 lines, the last one torn: the resume completes the file exactly.
    out.write_text("\n".join(out.read_text().splitlines()[:6]) + '\n{"event_id": "ev-00')
    r = runner.invoke(main, ["replay", str(events), "--out", str(out), "--db", str(db)], env=ENV)
    assert r.exit_code == 0, r.output
    assert [json.loads(x) for x in out.read_text().splitlines()] == answers


def test_decide_reads_stdin(tmp_path: Path) -> None:
    runner = CliRunner()
    line = EXAMPLES.read_text().splitlines()[2]
    args = ["decide", "--db", str(tmp_path / "d.db")]
    r = runner.invoke(main, args, input=line, env=ENV)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["event_id"] == "ev-0003"
    bad = runner.invoke(main, args, input='{"event_id": "x"}', env=ENV)
    assert bad.exit_code == 2
    assert "occurred_at" in bad.stderr


def test_bad_settings_are_a_usage_error_naming_the_setting(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(
        main,
        ["decide", "--db", str(tmp_path / "d.db")],
        input="{}",
        env={**ENV, "FENGKONG_POLICY__BLOCK_AT": "7"},
    )
    assert r.exit_code == 2
    assert "policy.block_at" in r.output


def test_replay_writes_out_of_range_timestamps_as_rejected(tmp_path: Path) -> None:
    lines = EXAMPLES.read_text().splitlines()
    bad = [
        json.dumps({**json.loads(lines[0]), "event_id": f"x{i}", "occurred_at": at})
        for i, at in enumerate(["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join([lines[0], *bad, lines[1]]) + "\n")
    out = tmp_path / "out.jsonl"
    args = ["replay", str(events), "--out", str(out), "--db", str(tmp_path / "r.db")]
    r = CliRunner().invoke(main, args, env=ENV)
    assert r.exit_code == 0, r.output
    answers = [json.loads(x) for x in out.read_text().splitlines()]
    assert [a.get("line") for a in answers] == [None, 2, 3, None]
    assert answers[1]["errors"][0]["field"] == "occurred_at"
