"""A damaged store is refused at start, checked, and salvaged into a new file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fengkong.cli.main import main
from fengkong.runtime import build_runtime, snapshot_path
from fengkong.settings import Settings
from fengkong.storage.repair import StoreDamaged, check

N = 300


def _event(i: int) -> dict[str, Any]:
    return {
        "event_id": f"e{i}",
        "type": "payment",
        "user_id": f"u{i % 17}",
        "occurred_at": f"2026-11-20T{10 + i // 60:02d}:{i % 60:02d}:00+08:00",
        "amount": str(10 + i),
        "attributes": {"note": "x" * 200},
    }


def _damage(db: Path, table: str, pages: int) -> None:
    """Overwrite ``pages`` leaf pages of ``table`` (from the middle) with garbage."""
    conn = sqlite3.connect(db)
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    leaves = [
        r[0]
        for r in conn.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno",
            (table,),
        )
    ]
    conn.close()
    assert len(leaves) > pages + 2
    middle = len(leaves) // 2
    with db.open("r+b") as f:
        for page in leaves[middle : middle + pages]:
            f.seek((page - 1) * size)
            f.write(b"\xa5" * size)


@pytest.fixture()
def damaged(settings: Settings) -> Settings:
    rt = build_runtime(settings)
    for i in range(N):
        rt.engine.decide(_event(i))
    rt.close()
    _damage(Path(settings.db_path), "decisions", 2)
    return settings


def test_a_damaged_store_is_refused_at_start_with_what_to_do(damaged: Settings) -> None:
    with pytest.raises(StoreDamaged, match="fengkong db recover"):
        build_runtime(damaged)
    assert check(damaged.db_path)
    r = CliRunner().invoke(main, ["db", "check", "--db", str(damaged.db_path)])
    assert r.exit_code == 1
    assert "db recover" in r.output


def test_a_damaged_store_is_refused_after_a_restore_and_nothing_is_saved(
    settings: Settings,
) -> None:
    """The check runs beside the restore: its verdict still stops the start, and the
    state restored from the snapshot and the damaged tail is not saved on the way out."""
    rt = build_runtime(settings)
    for i in range(N):
        rt.engine.decide(_event(i))
    rt.close()  # saves a snapshot
    rt = build_runtime(settings)
    for i in range(N, N + 20):  # a tail after the snapshot
        rt.engine.decide(_event(i))
    rt.engine.snapshot_seq = rt.store.last_seq()
    rt.close()
    snap = snapshot_path(settings)
    assert snap is not None
    saved = snap.read_bytes()
    _damage(Path(settings.db_path), "decisions", 2)
    with pytest.raises(StoreDamaged, match="fengkong db recover"):
        build_runtime(settings)
    assert snap.read_bytes() == saved


def test_recover_salvages_the_readable_and_reports_the_lost(
    damaged: Settings, tmp_path: Path
) -> None:
    new = tmp_path / "new.db"
    r = CliRunner().invoke(
        main, ["db", "recover", "--db", str(damaged.db_path), "--out", str(new), "--quiet"]
    )
    assert r.exit_code == 0, r.output
    report = json.loads(r.output[: r.output.rindex("}") + 1])
    decisions = report["tables"]["decisions"]
    assert decisions["damaged"] is True
    assert 0 < decisions["lost"] == report["events_without_decision"]
    assert decisions["recovered"] + decisions["lost"] == N
    assert report["tables"]["events"]["recovered"] == N
    assert check(new) == []
    side = Path(report["events_without_decision_file"])
    lost = [json.loads(line)["event_id"] for line in side.read_text().splitlines()]
    assert len(lost) == decisions["lost"]

    # The new file serves: kept decisions are there, the lost events can be sent again.
    rt = build_runtime(damaged.model_copy(update={"db_path": new}))
    try:
        assert rt.store.count_events() == N - len(lost)
        for event_id in lost:
            i = int(event_id[1:])
            assert rt.engine.decide(_event(i))["event_id"] == event_id
        assert all(rt.store.decision(f"e{i}") is not None for i in range(N))
    finally:
        rt.close()
