"""The Parquet lake: written from a replay file or a store, read back in time order."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from fengkong.batch.lake import (
    LakeError,
    LakeWriter,
    event_files,
    export_jsonl,
    export_store,
    file_bodies,
    lake_events,
    lake_labels,
    revealer,
)
from fengkong.batch.ray_jobs import concat_tables, file_tables
from fengkong.cli.main import main
from fengkong.graph.tables import GraphTables
from fengkong.runtime import Runtime
from fengkong.runtime_keys import field_key, field_protector
from fengkong.settings import Settings
from fengkong.sim import SimConfig, simulate


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("lake")
    ev, lab = tmp / "ev.jsonl", tmp / "lab.jsonl"
    pairs = list(simulate(SimConfig(users=80, days=3, seed=5, attack_rate=0.2)))
    ev.write_bytes(b"".join(e + b"\n" for e, _ in pairs if e))
    lab.write_bytes(b"".join(lb + b"\n" for _, lb in pairs if lb))
    return ev, lab


def _ids(path: Path) -> list[str]:
    rows = [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]
    return [r["event_id"] for r in sorted(rows, key=lambda r: r["occurred_at"])]


def test_a_replay_file_reads_back_whole_in_time_order(
    replay: tuple[Path, Path], tmp_path: Path
) -> None:
    ev, lab = replay
    report = export_jsonl(ev, lab, tmp_path / "lake")
    got = list(lake_events(tmp_path / "lake"))
    assert report["events"] == len(got) > 100 and report["days"] >= 3
    assert [e.event_id for e in got] == _ids(ev)
    assert len(lake_labels(tmp_path / "lake")) == report["labels"] > 0


def test_days_in_several_files_read_as_one_and_graph_tables_join_in_order(
    replay: tuple[Path, Path], tmp_path: Path
) -> None:
    ev, _ = replay
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    export_jsonl(ev, None, whole)
    writer = LakeWriter(parts, rows_per_file=40)
    for seq, line in enumerate(ev.read_bytes().splitlines(), start=1):
        writer.add(seq, line)
    writer.close([])
    files = event_files(parts)
    assert len(files) > len(event_files(whole))
    assert [e.event_id for e in lake_events(parts)] == [e.event_id for e in lake_events(whole)]
    local = GraphTables.from_events(lake_events(whole))
    joined = concat_tables([file_tables(str(f), None) for f in files])
    assert joined.links.equals(local.links) and joined.money.equals(local.money)


def test_a_store_exports_sealed_and_opens_only_with_its_key(
    runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    events = [orjson.loads(e) for e, _ in simulate(SimConfig(users=20, days=1, seed=2)) if e][:60]
    for event in events:
        runtime.engine.decide(event)
    lake = tmp_path / "lake"
    export_store(runtime.store, lake, field_protector(settings).seal)
    raw = b"".join(b for f in event_files(lake) for b in file_bodies(f))
    device_ids = {e["device"]["device_id"] for e in events if e.get("device")}
    assert device_ids and not any(d.encode() in raw for d in device_ids)
    with pytest.raises(LakeError, match="sealed"):
        next(lake_events(lake))
    opened = list(lake_events(lake, revealer(field_key(settings))))
    stored = [orjson.loads(b)["event_id"] for b in runtime.store.events()]
    assert sorted(e.event_id for e in opened) == sorted(stored)
    assert {e.device.device_id for e in opened if e.device} == device_ids


def test_cli_export_then_mine_gives_the_rings_of_the_replay_file(
    replay: tuple[Path, Path], tmp_path: Path
) -> None:
    ev, lab = replay
    run = CliRunner().invoke
    lake = tmp_path / "lake"
    r = run(main, ["db", "export", "--events", str(ev), "--labels", str(lab), "--out", str(lake)])
    assert r.exit_code == 0, r.output
    r = run(main, ["db", "export", "--events", str(ev), "--out", str(lake), "--quiet"])
    assert r.exit_code == 2 and "--out" in r.output and "not empty" in r.output
    direct, mined = tmp_path / "direct.json", tmp_path / "lake.json"
    r = run(
        main, ["graph", "mine", "--events", str(ev), "--labels", str(lab), "--out", str(direct)]
    )
    assert r.exit_code == 0, r.output
    r = run(main, ["graph", "mine", "--events", str(lake), "--out", str(mined)])
    assert r.exit_code == 0, r.output
    rings = json.loads(direct.read_text())["rings"]
    assert rings and json.loads(mined.read_text())["rings"] == rings
    r = run(main, ["graph", "mine", "--events", str(ev), "--out", str(mined), "--ray", "local"])
    assert r.exit_code == 2 and "lake" in r.output
    r = run(main, ["graph", "mine", "--events", str(tmp_path), "--out", str(mined)])
    assert r.exit_code == 2 and "not a lake" in r.output
