"""Device keys: stable under small changes, distinct across devices; device signals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from fengkong.events import Device
from fengkong.identity import device_facts, device_key, is_automation, is_emulator, is_rooted
from fengkong.identity.device import usable_device_id

BASE: dict[str, Any] = {
    "platform": "android",
    "os_version": "14",
    "model": "Xiaomi 14",
    "screen": "1200x2670",
    "timezone": "Asia/Shanghai",
    "language": "zh-CN",
    "canvas_hash": "9f1c0a",
    "webgl_hash": "adreno-750",
    "fonts_hash": "f1",
    "user_agent": "Mozilla/5.0 (Linux; Android 14; Xiaomi 14) Chrome/124",
}


def dev(device_id: str | None = None, **changes: Any) -> Device:
    return Device.model_validate({"device_id": device_id, "fingerprint": {**BASE, **changes}})


SMALL_CHANGES = st.fixed_dictionaries(
    {},
    optional={
        "os_version": st.sampled_from(["14", "15", "14.1"]),
        "language": st.sampled_from(["zh-CN", "en-US", "zh-TW"]),
        "timezone": st.sampled_from(["Asia/Shanghai", "Asia/Tokyo"]),
        "fonts_hash": st.text(min_size=1, max_size=8),
        "user_agent": st.text(max_size=40),
    },
)


@given(SMALL_CHANGES, st.text(alphabet="0123456789abcdef", min_size=8, max_size=16))
def test_device_id_key_survives_os_updates_language_timezone(
    changes: dict[str, Any], device_id: str
) -> None:
    assume(usable_device_id(device_id) is not None)
    assert device_key(dev(device_id, **changes)) == device_key(dev(device_id))


def test_thousand_phones_of_one_model_with_one_canvas_hash_stay_thousand_devices() -> None:
    keys = {device_key(dev(f"android-{i:06d}-id"))[0] for i in range(1000)}
    assert len(keys) == 1000


@given(
    st.sampled_from(
        [
            "",
            "0",
            "unknown",
            "null",
            "9774d56d682e549c",
            "000000000000000",
            "00000000-0000-0000-0000-000000000000",
            "02:00:00:00:00:00",
            "abc",
        ]
    )
)
def test_placeholder_device_ids_are_not_identity(device_id: str) -> None:
    assert usable_device_id(device_id) is None
    assert device_key(dev(device_id)) == device_key(dev(None))
    assert device_key(dev(device_id))[1] == "fingerprint"


def test_key_tiers() -> None:
    assert device_key(None) == (None, None)
    by_id = Device.model_validate({"device_id": "a1f3c9", "fingerprint": {"model": "Xiaomi 14"}})
    key, strength = device_key(by_id)
    assert strength == "client_id" and key == device_key(Device(device_id="a1f3c9"))[0]
    weak = Device.model_validate(
        {"fingerprint": {"platform": "ios", "model": "iPhone15,2", "screen": "1179x2556"}}
    )
    assert device_key(weak)[1] == "weak"
    assert device_key(Device.model_validate({"fingerprint": {"platform": "ios"}})) == (None, None)
    hw = Device.model_validate({"fingerprint": {"build_props": {"ro.serialno": "X1"}}})
    assert device_key(hw)[1] == "fingerprint"
    # Without a device id, the whole fingerprint is the key: an OS update changes it.
    assert device_key(dev(None))[0] != device_key(dev(None, os_version="15"))[0]


def test_emulator_rooted_automation_signals() -> None:
    assert not is_emulator(dev().fingerprint)  # type: ignore[arg-type]
    assert is_emulator(dev(is_emulator=True).fingerprint)  # type: ignore[arg-type]
    assert is_emulator(dev(build_props={"ro.kernel.qemu": "1"}).fingerprint)  # type: ignore[arg-type]
    assert is_emulator(dev(model="Android SDK built for x86").fingerprint)  # type: ignore[arg-type]
    assert is_emulator(dev(build_props={"ro.hardware": "ranchu"}).fingerprint)  # type: ignore[arg-type]
    assert not is_rooted(dev().fingerprint)  # type: ignore[arg-type]
    assert is_rooted(dev(build_props={"ro.build.tags": "test-keys"}).fingerprint)  # type: ignore[arg-type]
    assert is_rooted(dev(is_rooted=True).fingerprint)  # type: ignore[arg-type]
    assert not is_automation(dev().fingerprint)  # type: ignore[arg-type]
    ua = "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/124.0"
    assert is_automation(dev(user_agent=ua).fingerprint)  # type: ignore[arg-type]
    assert is_automation(dev(webdriver=True).fingerprint)  # type: ignore[arg-type]


def test_inconsistencies() -> None:
    at = datetime(2026, 1, 15, 12, tzinfo=UTC)
    facts = device_facts(dev(), at=at, lon=116.4, ip_country="CN")
    assert facts["device.platform_ua_mismatch"] is False
    assert facts["device.tz_geo_mismatch"] is False
    assert facts["device.tz_ip_mismatch"] is False
    iphone_ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)"
    other = device_facts(dev(user_agent=iphone_ua), at=at, lon=-74.0, ip_country="US")
    assert other["device.platform_ua_mismatch"] is True
    assert other["device.tz_geo_mismatch"] is True  # Shanghai time, New York longitude
    assert other["device.tz_ip_mismatch"] is True
    desktop = device_facts(
        dev(user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124"), at=at
    )
    assert desktop["device.platform_ua_mismatch"] is True
    assert "device.tz_ip_mismatch" not in device_facts(dev(), at=at)


@given(st.lists(st.tuples(SMALL_CHANGES, st.sampled_from([None, "a1", "b2"])), max_size=12))
def test_cached_facts_equal_computed(devices: list[tuple[dict[str, Any], str | None]]) -> None:
    from fengkong.identity import DeviceCache

    cache = DeviceCache(size=3)  # small: evictions happen too
    at = datetime(2026, 1, 15, 12, tzinfo=UTC)
    for changes, device_id in devices * 2:
        d = dev(device_id, **changes, build_props={"ro.build.tags": "test-keys"})
        assert device_facts(d, at=at, lon=116.4, cache=cache) == device_facts(d, at=at, lon=116.4)
        assert cache.key(d) == device_key(d)[0]
    assert len(cache) <= 3
