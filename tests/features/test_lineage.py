"""Account lineage: how an account first came onto a device (``user.device_sms_entry``)."""

from __future__ import annotations

import pickle
from typing import Any

from fengkong.events import Event, parse_event
from fengkong.features.lineage import Lineage
from tests.rules.test_world_facts import HOUR, T0, iso


def _ev(ts: float, etype: str, user: str, **fields: Any) -> Event:
    row = {"event_id": f"e{ts}{user}", "type": etype, "user_id": user, "occurred_at": iso(ts)}
    return parse_event({**row, **fields})


def _step(lin: Lineage, event: Event, device: str | None) -> Any:
    """Read the features before the event (point in time), then learn from it."""
    out = lin.read(event, device, None, None)
    lin.see(event, device, None)
    return out["user.device_sms_entry"]


def test_a_device_entered_by_sms_code_is_remembered_and_a_password_login_is_not() -> None:
    lin = Lineage()
    # Before anything is known of the device: not an SMS entry yet.
    assert _step(lin, _ev(T0, "login", "u1", phone="13800000001"), "thief") is False
    assert _step(lin, _ev(T0 + 60, "account_change", "u1", operation="add_payee"), "thief")
    # A later SMS login on a device first met with the password does not make it one.
    assert _step(lin, _ev(T0, "login", "u1"), "tablet") is False
    assert _step(lin, _ev(T0 + HOUR, "login", "u1", phone="13800000001"), "tablet") is False
    pay = _ev(T0 + 2 * HOUR, "payment", "u1", amount="30", merchant_id="m1")
    assert _step(lin, pay, "tablet") is False
    # A new phone announced by change_device before its SMS login is not one either.
    assert _step(lin, _ev(T0, "account_change", "u2", operation="change_device"), "new") is False
    assert _step(lin, _ev(T0 + 30, "login", "u2", phone="13800000002"), "new") is False
    change = _ev(T0 + 90, "account_change", "u2", operation="change_password")
    assert _step(lin, change, "new") is False
    # Per account: another account on the thief's phone did not enter it by SMS.
    assert _step(lin, _ev(T0 + 120, "login", "u3"), "thief") is False
    # Without an app device id the fact is unknown.
    assert lin.read(_ev(T0 + 200, "login", "u1"), None, None, None)["user.device_sms_entry"] is None


def test_sms_entries_expire_with_the_device_and_old_snapshots_still_load() -> None:
    lin = Lineage()
    _step(lin, _ev(T0, "login", "u1", phone="13800000001"), "thief")
    lin.expire(T0 + 91 * 24 * HOUR)
    assert not lin.sms_entry and not lin.device_first
    # A snapshot taken before the field existed loads with an empty set.
    state = dict(lin.__dict__)
    del state["sms_entry"]
    old = Lineage.__new__(Lineage)
    old.__setstate__(state)
    restored = pickle.loads(pickle.dumps(old))
    assert restored.sms_entry == set()
