"""World facts of the simulator: each a knob, on by default, and worlds A and B."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from typing import Any

import orjson

from fengkong.sim import SimConfig, simulate
from fengkong.sim import identity as ident
from fengkong.sim.world import WORLD_A, WORLD_B, WORLDS


def _events(cfg: SimConfig) -> tuple[list[dict[str, Any]], list[bytes]]:
    events, labels = [], []
    for ev, lab in simulate(cfg):
        if ev:
            events.append(orjson.loads(ev))
        if lab:
            labels.append(lab)
    return events, labels


def test_phones_of_one_model_and_os_share_the_canvas_hash_unless_switched_off() -> None:
    same = [ident.fingerprint(k, model_idx=4) for k in range(40)]
    by_os = defaultdict(set)
    for fp in same:
        by_os[fp["os_version"]].add(fp["canvas_hash"])
    assert all(len(hashes) == 1 for hashes in by_os.values())
    apart = {
        ident.fingerprint(k, model_idx=4, per_model_canvas=False)["canvas_hash"] for k in range(40)
    }
    assert len(apart) == 40


def test_os_updates_change_the_fingerprint_and_harmonyos_reports_android() -> None:
    before, after = ident.fingerprint(77, model_idx=7), ident.fingerprint(77, model_idx=7, os_gen=1)
    assert before["model"].startswith("HUAWEI") and before["platform"] == "android"
    assert before["os_version"].startswith("HarmonyOS")
    assert "HarmonyOS" in before["user_agent"]
    assert (
        before["canvas_hash"] != after["canvas_hash"] or before["os_version"] != after["os_version"]
    )


def test_cgnat_puts_a_city_behind_a_few_gateway_ranges() -> None:
    ips = {ident.mobile_ip(k * 7919, city=3, gateways=2) for k in range(2000)}
    nets = {ipaddress.ip_network(f"{ip}/24", strict=False) for ip in ips}
    assert len(nets) <= 3 * 2 and len(ips) > 200
    v6 = ident.mobile_ip(12345, city=3, gateways=2, ipv6=True)
    assert ipaddress.ip_address(v6).version == 6 and v6.startswith(("2409:", "2408:", "240e:"))


def test_world_a_stream_has_the_facts_and_honest_only_has_no_labels() -> None:
    events, labels = _events(SimConfig(users=300, days=6, seed=5, attack_rate=0.0))
    assert labels == []
    amounts = [e["amount"] for e in events if "amount" in e]
    assert any(isinstance(a, str) for a in amounts) and any(isinstance(a, float) for a in amounts)
    money = [e for e in events if "amount" in e]
    assert any("currency" not in e for e in money) and any("currency" in e for e in money)
    assert any("geo" not in e for e in events)
    assert any("device" in e and "device_id" not in e["device"] for e in events)
    scans = [e["qr"]["payload"] for e in events if e["type"] == "qr_scan"]
    assert any(p.startswith(("https://qr.alipay.com/", "wxp://")) for p in scans)
    rents = [e for e in events if e["type"] == "transfer" and float(e["amount"]) >= 1200]
    assert rents
    homes = defaultdict(set)  # family members share the home broadband
    for e in events:
        homes[e.get("ip")].add(e["user_id"])
    assert (
        max(
            len(u)
            for ip, u in homes.items()
            if ip and not ip.startswith(("223.", "117.", "112.", "39.", "106.", "24"))
        )
        >= 2
    )


def test_worlds_differ_and_every_knob_is_listed() -> None:
    assert set(WORLDS) == {"A", "B"}
    a, b = WORLD_A.knobs(), WORLD_B.knobs()
    assert a.keys() == b.keys() and len(a) > 30
    assert sum(a[k] != b[k] for k in a) >= 25
    off = WORLD_A.with_(family_share=0.0, trip_per_day=0.0)
    assert off.family_share == 0.0 and off.name == "A"
