"""Identity: device keys and device risk signals (OTP, biometrics and voice live beside)."""

from fengkong.identity.device import (
    DeviceCache,
    device_facts,
    device_key,
    is_automation,
    is_emulator,
    is_rooted,
    platform_ua_mismatch,
    tz_geo_mismatch,
    zone_country,
)

__all__ = [
    "DeviceCache",
    "device_facts",
    "device_key",
    "is_automation",
    "is_emulator",
    "is_rooted",
    "platform_ua_mismatch",
    "tz_geo_mismatch",
    "zone_country",
]
