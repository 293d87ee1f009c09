"""``fengkong models`` end to end on a small replay file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fengkong.cli.main import main
from fengkong.events import Event, Label


def _write(stream: tuple[list[Event], list[Label]], tmp: Path) -> tuple[Path, Path]:
    events, labels = stream
    ev, lab = tmp / "events.jsonl", tmp / "labels.jsonl"
    ev.write_text("".join(e.model_dump_json(exclude_none=True) + "\n" for e in events))
    lab.write_text("".join(lb.model_dump_json(exclude_none=True) + "\n" for lb in labels))
    return ev, lab


def test_train_list_promote_monitor(
    stream: tuple[list[Event], list[Label]], tmp_path: Path
) -> None:
    ev, lab = _write(stream, tmp_path)
    db = str(tmp_path / "f.db")
    run = CliRunner().invoke
    common = ["--db", db, "--events", str(ev), "--labels", str(lab)]
    window = [
        "--train-start",
        "2026-03-04",
        "--train-days",
        "6",
        "--gap-days",
        "2",
        "--test-days",
        "4",
        "--label-delay-days",
        "2",
        "--threads",
        "1",
    ]
    html = tmp_path / "r.html"
    r = run(main, ["models", "train", *common, *window, "--champion", "--html", str(html)])
    assert r.exit_code == 0, r.output
    assert (
        "average precision" in r.output and '<img src="data:image/png;base64,' in html.read_text()
    )
    r = run(main, ["models", "train", *common, *window, "--imbalance", "none"])
    assert r.exit_code == 0, r.output
    r = run(main, ["models", "list", "--db", db])
    assert "v1" in r.output and "champion" in r.output and "challenger" in r.output
    r = run(main, ["models", "evaluate", *common, "--from", "2026-03-12", "--to", "2026-03-16"])
    assert r.exit_code == 0 and "v1" in r.output and "v2" in r.output, r.output
    r = run(main, ["models", "promote", "--db", db])
    assert r.exit_code == 0 and "champion: v2" in r.output
    r = run(main, ["models", "rollback", "--db", db])
    assert r.exit_code == 0 and "champion: v1" in r.output
    r = run(
        main, ["models", "monitor", *common, "--from", "2026-03-04", "--to", "2026-03-08", "--json"]
    )
    assert r.exit_code in (0, 1), r.output
    psi = json.loads(r.output)
    assert "score" in psi and all(v >= 0 for v in psi.values())


def test_train_reads_a_parquet_lake_as_it_reads_the_replay_file(
    stream: tuple[list[Event], list[Label]], tmp_path: Path
) -> None:
    from fengkong.batch.lake import export_jsonl

    ev, lab = _write(stream, tmp_path)
    lake = tmp_path / "lake"
    export_jsonl(ev, lab, lake)
    window = ["--train-start", "2026-03-04", "--train-days", "6", "--gap-days", "2"]
    window += ["--test-days", "4", "--label-delay-days", "2", "--threads", "1"]
    run = CliRunner().invoke
    outputs = []
    for source in (["--events", str(ev), "--labels", str(lab)], ["--events", str(lake)]):
        db = str(tmp_path / f"{len(outputs)}.db")
        r = run(main, ["models", "train", "--db", db, *source, *window, "--imbalance", "none"])
        assert r.exit_code == 0, r.output
        outputs.append([x for x in r.output.splitlines() if "precision" in x or "AUC" in x])
    assert outputs[0] and outputs[0] == outputs[1]
    r = run(main, ["models", "train", "--db", db, "--events", str(tmp_path), *window])
    assert r.exit_code == 2 and "not a lake" in r.output
