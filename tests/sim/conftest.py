"""One simulated population shared by the simulator tests (built once per session)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from fengkong.sim import SimConfig, SimStats, write_simulation

# Enough users and days that every scenario plays out and honest statistics settle.
POPULATION = SimConfig(users=1500, days=21, seed=7, attack_rate=0.03)


@dataclass
class Simulated:
    cfg: SimConfig
    events_path: Path
    labels_path: Path
    stats: SimStats
    events: list[dict[str, Any]]
    labels: list[dict[str, Any]]


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    d = tmp_path_factory.mktemp("sim")
    ev, lab = d / "events.jsonl", d / "labels.jsonl"
    stats = write_simulation(POPULATION, ev, lab)
    events = [orjson.loads(line) for line in ev.read_bytes().splitlines()]
    labels = [orjson.loads(line) for line in lab.read_bytes().splitlines()]
    return Simulated(POPULATION, ev, lab, stats, events, labels)
