"""The definition language: names, windows, errors."""

from __future__ import annotations

import pytest

from fengkong.features import FeatureSpecError, default_feature_names, parse_feature
from fengkong.features.spec import DEFAULT_FEATURES


@pytest.mark.parametrize(
    ("text", "name", "window", "bucket"),
    [
        (
            "count(event where type=register) by device over 1h",
            "device.register_events_1h",
            3600,
            60,
        ),
        ("distinct(user_id) by ip_prefix24 over 24h", "ip24.distinct_users_24h", 86400, 3600),
        ("sum(amount) by user over 7d", "user.amount_sum_7d", 604800, 21600),
        ("std(amount) by user over 30d", "user.amount_std_30d", 2592000, 86400),
        ("distinct(device) by user over 10m", "user.distinct_devices_10m", 600, 10),
        ("last_seen(device) by user", "user.secs_since_device_seen", 7776000, 86400),
        ("first_seen(phone)", "phone.secs_since_first_seen", 7776000, 86400),
        ("new(payee) by user over 90d", "user.is_new_payee", 7776000, 86400),
        (
            "count(event where operation=change_phone) by user over 1h",
            "user.change_phone_events_1h",
            3600,
            60,
        ),
        ("count(event) by ip over 1h as burst", "ip.burst", 3600, 60),
    ],
)
def test_names_and_windows(text: str, name: str, window: int, bucket: int) -> None:
    d = parse_feature(text)
    assert (d.name, d.window_s, d.bucket_s) == (name, window, bucket)
    assert d.n_buckets >= 24


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("count(event) by user", "needs a window"),
        ("sum(amount) by planet over 1h", "unknown entity"),
        ("sum(event) by user over 1h", "takes `amount`"),
        ("count(event) by user over 91d", "outside"),
        ("count(event where type=teleport) by user over 1h", "unknown type"),
        ("count(event where colour=red) by user over 1h", "bad condition"),
        ("profile(moods) by user", "unknown profile"),
        ("profile(travel) by ip", "per user"),
        ("drop table users", "cannot parse"),
    ],
)
def test_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(FeatureSpecError, match=message):
        parse_feature(text)


def test_operation_filter_implies_account_change() -> None:
    d = parse_feature("count(event where operation in (change_phone, unbind_card)) by user over 1h")
    assert d.types == {"account_change"} and d.operations == {"change_phone", "unbind_card"}


def test_default_names_are_unique_and_documented() -> None:
    names = default_feature_names()
    assert len(names) == len(set(names)) >= len(DEFAULT_FEATURES)
    for required in (
        "user.amount_zscore_30d",
        "user.is_new_device",
        "user.geo_velocity_kmh",
        "device.accounts_registered_1h",
        "ip24.distinct_users_24h",
        "phone.accounts_7d",
    ):
        assert required in names
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs/features.md").read_text()
    for name in names:
        assert f"`{name}`" in doc, f"{name} missing from docs/features.md"
