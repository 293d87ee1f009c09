"""The simulator: reproducible, valid wire format, every scenario labelled, bounded memory."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from fengkong.events import parse_event, parse_label
from fengkong.sim import SCENARIOS, SimConfig, engine, write_simulation
from tests.sim.conftest import Simulated

SMALL = SimConfig(users=300, days=6, seed=11, attack_rate=0.05)


def _run(cfg: SimConfig, d: Path) -> tuple[bytes, bytes]:
    write_simulation(cfg, d / "e.jsonl", d / "l.jsonl")
    return (d / "e.jsonl").read_bytes(), (d / "l.jsonl").read_bytes()


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    first = _run(SMALL, tmp_path / "a")
    assert first == _run(SMALL, tmp_path / "b")
    other = _run(SimConfig(users=300, days=6, seed=12, attack_rate=0.05), tmp_path / "c")
    assert other[0] != first[0]


def test_spilling_to_disk_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mem").mkdir()
    (tmp_path / "disk").mkdir()
    cfg = SimConfig(users=1200, days=3, seed=5)
    monkeypatch.setattr(engine, "BLOCK_SIZE", 400)
    in_memory = _run(cfg, tmp_path / "mem")
    monkeypatch.setattr(engine, "SPILL_ABOVE_USERS", 0)
    assert _run(cfg, tmp_path / "disk") == in_memory


def test_every_event_parses_in_time_order(simulated: Simulated) -> None:
    previous = 0.0
    ids = set()
    for raw in simulated.events:
        event = parse_event(raw)
        assert event.ts >= previous
        previous = event.ts
        ids.add(event.event_id)
    assert len(ids) == len(simulated.events)
    for raw in simulated.labels:
        label = parse_label(raw)
        assert label.label == "fraud" and label.scenario in SCENARIOS
        if label.event_id is not None:
            assert label.event_id in ids


def test_every_scenario_present_with_event_and_account_labels(simulated: Simulated) -> None:
    event_labels = Counter(lab["scenario"] for lab in simulated.labels if "event_id" in lab)
    account_labels = Counter(lab["scenario"] for lab in simulated.labels if "user_id" in lab)
    assert set(event_labels) == set(SCENARIOS)
    assert all(event_labels[s] >= 3 for s in SCENARIOS)
    # Every scenario with accounts of its own labels them; agencies act on real customers.
    assert set(account_labels) == set(SCENARIOS) - {"complaint_agents"}
    assert dict(simulated.stats.fraud_events) == dict(event_labels)


def test_victims_are_not_fraud_accounts(simulated: Simulated) -> None:
    fraud_accounts = {lab["user_id"] for lab in simulated.labels if "user_id" in lab}
    fraud_events = {
        lab["event_id"]: lab["scenario"] for lab in simulated.labels if "event_id" in lab
    }
    victims = {
        e["user_id"]
        for e in simulated.events
        if fraud_events.get(e["event_id"]) in ("account_takeover", "fake_customer_service")
        and e["type"] == "transfer"  # victims send the money; mules only withdraw it
    }
    assert victims
    assert not victims & fraud_accounts
    # Victims' own (honest) activity continues alongside the attack.
    honest_of_victims = [
        e for e in simulated.events if e["user_id"] in victims and e["event_id"] not in fraud_events
    ]
    assert len(honest_of_victims) > 10 * len(victims)


def test_every_event_of_an_attacker_account_is_labelled(simulated: Simulated) -> None:
    fraud_accounts = {lab["user_id"] for lab in simulated.labels if "user_id" in lab}
    fraud_events = {lab["event_id"] for lab in simulated.labels if "event_id" in lab}
    for e in simulated.events:
        if e["user_id"] in fraud_accounts:
            assert e["event_id"] in fraud_events


def test_attacks_vary_and_lack_a_single_giveaway(simulated: Simulated) -> None:
    fraud_events = {lab["event_id"] for lab in simulated.labels if "event_id" in lab}
    attack = [e for e in simulated.events if e["event_id"] in fraud_events]
    regs = [e for e in attack if e["type"] == "register"]
    emulated = [e for e in regs if e["device"]["fingerprint"]["is_emulator"]]
    # Emulators show up, but most attacker registrations come from (or claim) real phones.
    assert 0 < len(emulated) < len(regs)
    assert len({len(e["event_id"]) for e in simulated.events}) == 1
    assert len({len(e["user_id"]) for e in simulated.events}) == 1


def test_unknown_scenario_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown scenarios"):
        SimConfig(scenarios=("no_such_attack",))


def test_scenario_selection(tmp_path: Path) -> None:
    cfg = SimConfig(users=300, days=6, seed=3, scenarios=("phishing_qr",), attack_rate=0.05)
    stats = write_simulation(cfg, tmp_path / "e.jsonl", tmp_path / "l.jsonl")
    assert set(stats.fraud_events) == {"phishing_qr"}
