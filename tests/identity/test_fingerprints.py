"""Fingerprint commonness: a rare fingerprint behind many fresh device ids is a farm."""

from __future__ import annotations

import random

from fengkong.events import Device
from fengkong.identity import platform_ua_mismatch
from fengkong.identity.fingerprints import FingerprintStats, fingerprint_cluster

DAY = 86_400


def phone(model: str, canvas: str, platform: str = "android") -> Device:
    fp = {"platform": platform, "model": model, "screen": "1080x2400", "canvas_hash": canvas}
    return Device.model_validate({"fingerprint": fp})


def honest_background(stats: FingerprintStats, rnd: random.Random, until: float) -> None:
    """2,000 honest phones of 30 models (popularity skewed), active through two days."""
    weights = [1 / (i + 1) for i in range(30)]
    owners = [(f"u{i}", f"dev-{i:05d}", rnd.choices(range(30), weights)[0]) for i in range(2000)]
    t = 0.0
    while t < until:
        user, device_id, model = rnd.choice(owners)
        cluster = fingerprint_cluster(phone(f"model-{model}", f"c{model}"))
        stats.see(cluster, device_id, user, t)
        t += rnd.expovariate(1 / 20)


def test_harmonyos_reported_as_android_is_consistent() -> None:
    fp = {
        "platform": "android",
        "model": "HUAWEI Mate 60",
        "os_version": "HarmonyOS 4.2",
        "user_agent": "Mozilla/5.0 (Linux; Android 12; HarmonyOS; ALN-AL00) ArkWeb/4.1",
    }
    device = Device.model_validate({"device_id": "hm-000123", "fingerprint": fp})
    assert device.fingerprint is not None
    assert platform_ua_mismatch(device.fingerprint) is False
    assert fingerprint_cluster(Device.model_validate({"fingerprint": {"model": "x"}})) is None


def test_rare_fingerprint_behind_twenty_reset_device_ids_in_an_hour_is_flagged() -> None:
    stats = FingerprintStats()
    rnd = random.Random(7)
    start = 2 * DAY
    honest_background(stats, rnd, start)
    farm = fingerprint_cluster(phone("Redmi Note 12", "rare-canvas"))
    for i in range(20):
        ts = start + i * 150
        f = stats.read(farm, f"reset-{i}", ts)
        stats.see(farm, f"reset-{i}", f"farm-user-{i}", ts)
    assert f["fingerprint.device_ids_1h"] == 19
    assert f["fingerprint.is_new_device_id"] is True
    lift = f["fingerprint.device_lift_1h"]
    assert isinstance(lift, float) and lift >= 10


def test_the_most_common_fingerprint_is_not_a_farm() -> None:
    stats = FingerprintStats()
    rnd = random.Random(8)
    honest_background(stats, rnd, 2 * DAY)
    popular = fingerprint_cluster(phone("model-0", "c0"))
    f = stats.read(popular, "dev-00000", 2 * DAY)
    assert isinstance(f["fingerprint.device_ids_1h"], int) and f["fingerprint.device_ids_1h"] >= 10
    commonness = f["fingerprint.commonness"]
    lift = f["fingerprint.device_lift_1h"]
    assert isinstance(commonness, float) and commonness > 0.1
    assert isinstance(lift, float) and lift < 2.5
