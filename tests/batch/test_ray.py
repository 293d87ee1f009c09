"""Ring mining's per-file work on a local Ray: the same tables, the same rings."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from fengkong.batch.lake import LakeWriter, lake_events
from fengkong.cli.main import main
from fengkong.graph.tables import GraphTables
from fengkong.sim import SimConfig, simulate

ray = pytest.importorskip("ray", reason="ray is a dev dependency (pip install -e '.[dev]')")


def test_rings_mined_on_a_local_ray_equal_the_local_ones(tmp_path: Path) -> None:
    from fengkong.batch.ray_jobs import graph_tables_on_ray

    pairs = list(simulate(SimConfig(users=120, days=4, seed=7, attack_rate=0.2)))
    ev, lake = tmp_path / "ev.jsonl", tmp_path / "lake"
    ev.write_bytes(b"".join(e + b"\n" for e, _ in pairs if e))
    writer = LakeWriter(lake, rows_per_file=300)  # several files a day: several tasks
    for seq, (e, _) in enumerate((p for p in pairs if p[0]), start=1):
        writer.add(seq, e)
    writer.close([])
    local = GraphTables.from_events(lake_events(lake))
    on_ray = graph_tables_on_ray(lake, None, num_cpus=1)
    assert not ray.is_initialized()  # started here, shut down here
    assert on_ray.links.equals(local.links) and on_ray.money.equals(local.money)
    assert len(local.money) > 50

    direct, mined = tmp_path / "direct.json", tmp_path / "ray.json"
    run = CliRunner().invoke
    assert run(main, ["graph", "mine", "--events", str(ev), "--out", str(direct)]).exit_code == 0
    r = run(main, ["graph", "mine", "--events", str(lake), "--out", str(mined), "--ray", "local"])
    assert r.exit_code == 0, r.output
    rings = json.loads(direct.read_text())["rings"]
    assert rings and json.loads(mined.read_text())["rings"] == rings
    assert orjson.loads(ev.read_bytes().splitlines()[0])["event_id"]
