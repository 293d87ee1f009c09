"""The whole default pipeline decides the same after a restart as without one."""

from __future__ import annotations

from pathlib import Path

import pytest

from fengkong.runtime import build_runtime
from fengkong.settings import Settings
from fengkong.sim import SimConfig, simulate


def _stream() -> list[bytes]:
    cfg = SimConfig(users=80, days=6, seed=3, attack_rate=0.3)
    return [ev for ev, _ in simulate(cfg) if ev]


def _settings(path: Path, snapshots: bool = True) -> Settings:
    return Settings(db_path=path, token_secret="restart-secret-0123456789", snapshots=snapshots)


@pytest.mark.parametrize("snapshots", [False, True], ids=["log-only", "snapshot"])
def test_decisions_after_a_restart_equal_an_uninterrupted_run(
    tmp_path: Path, snapshots: bool
) -> None:
    events = _stream()
    cut = len(events) * 2 // 3
    assert cut > 100

    straight = build_runtime(_settings(tmp_path / "straight.db"))
    expected = straight.engine.decide_many([straight.engine.accept(e) for e in events])
    straight.close()

    first = build_runtime(_settings(tmp_path / "restart.db", snapshots))
    first.engine.decide_many([first.engine.accept(e) for e in events[:cut]])
    first.close()  # with snapshots: saves one at the last stored event
    second = build_runtime(_settings(tmp_path / "restart.db", snapshots))
    assert second.rebuilt_events == (0 if snapshots else cut)
    assert second.engine.snapshot_seq == (cut if snapshots else 0)
    got = second.engine.decide_many([second.engine.accept(e) for e in events[cut:]])
    explain_after = {d["event_id"]: second.store.decision(d["event_id"]) for d in got}
    second.close()

    def strip(d: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in d.items() if k != "latency_ms"}

    assert [strip(d) for d in got] == [strip(d) for d in expected[cut:]]
    # Same features too, not only the same outcomes.
    again = build_runtime(_settings(tmp_path / "straight.db"), rebuild=False)
    for event_id, stored in explain_after.items():
        reference = again.store.decision(event_id)
        assert stored is not None and reference is not None
        assert stored[1] == reference[1], event_id
    again.close()
