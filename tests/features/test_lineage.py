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


def _loaded_without(lin: Lineage, *fields: str) -> Lineage:
    """``lin`` as a snapshot taken before ``fields`` existed loads it."""
    state = dict(lin.__dict__)
    for name in fields:
        del state[name]
    old = Lineage.__new__(Lineage)
    old.__setstate__(state)
    return old


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
    old = _loaded_without(lin, "sms_entry")
    restored = pickle.loads(pickle.dumps(old))
    assert restored.sms_entry == set()


def _marked(lin: Lineage, event: Event, device: str | None) -> Any:
    out = lin.read(event, device, None, None)
    lin.see(event, device, None)
    return out["user.device_marked_secs_ago"]


def test_a_password_changed_on_a_fresh_device_marks_that_device_for_two_days() -> None:
    lin = Lineage()
    _marked(lin, _ev(T0, "login", "u1"), "own")  # the account's history starts
    at = T0 + 3 * 24 * HOUR
    assert _marked(lin, _ev(at, "login", "u1", phone="13800000001"), "thief") is None
    change = _ev(at + 300, "account_change", "u1", operation="change_password")
    assert _marked(lin, change, "thief") is None
    draw = _ev(at + 600, "credit_draw", "u1", amount="5000")
    assert _marked(lin, draw, "thief") == 300.0
    back = _ev(at + 40 * HOUR, "transfer", "u1", amount="900", counterparty={"account_id": "m"})
    assert _marked(lin, back, "thief") == 40 * HOUR - 300
    # Not the owner's own phone, not after two days.
    assert _marked(lin, _ev(at + 700, "payment", "u1", amount="9", merchant_id="m1"), "own") is None
    late = _ev(at + 49 * HOUR, "withdrawal", "u1", amount="100")
    assert _marked(lin, late, "thief") is None
    lin.expire(at + 49 * HOUR)
    assert not lin.marks


def test_no_mark_for_an_announced_phone_a_device_used_for_long_or_a_new_account() -> None:
    lin = Lineage()
    at = T0 + 3 * 24 * HOUR
    # An upgrade announced with change_device before the password change.
    _marked(lin, _ev(T0, "login", "u2"), "old")
    _marked(lin, _ev(at, "account_change", "u2", operation="change_device"), "new")
    _marked(lin, _ev(at + 60, "account_change", "u2", operation="change_password"), "new")
    # A second phone used for two hours before the password is changed on it.
    _marked(lin, _ev(T0, "login", "u3"), "phone")
    _marked(lin, _ev(at, "login", "u3"), "tablet")
    _marked(lin, _ev(at + 2 * HOUR, "account_change", "u3", operation="change_phone"), "tablet")
    # A new account changing its password on the phone it opened on.
    _marked(lin, _ev(at, "register", "u4"), "first")
    _marked(lin, _ev(at + 60, "account_change", "u4", operation="change_password"), "first")
    assert not lin.marks
    pay = _ev(at + 3 * HOUR, "transfer", "u2", amount="900", counterparty={"account_id": "m"})
    assert _marked(lin, pay, "new") is None


def test_a_snapshot_from_before_the_marks_still_loads() -> None:
    lin = Lineage()
    old = _loaded_without(lin, "marks", "account_first", "last_change", "marked_money")
    assert old.marks == {} and old.account_first == {} and old.last_change == {}
    assert old.marked_money == {}


def test_money_sent_from_a_marked_device_marks_the_account_that_receives_it() -> None:
    lin = Lineage()
    _marked(lin, _ev(T0, "login", "victim"), "own")
    at = T0 + 3 * 24 * HOUR
    _marked(lin, _ev(at, "login", "victim"), "thief")
    _marked(lin, _ev(at + 60, "account_change", "victim", operation="change_phone"), "thief")
    mule = {"counterparty": {"account_id": "mule"}}
    _marked(lin, _ev(at + 600, "transfer", "victim", amount="4000", **mule), "thief")
    # The owner's own phone paying a friend passes nothing on.
    friend = {"counterparty": {"account_id": "friend"}}
    _marked(lin, _ev(at + 700, "transfer", "victim", amount="50", **friend), "own")

    def received(user: str, ts: float) -> Any:
        out = lin.read(_ev(ts, "withdrawal", user, amount="3900"), "m-phone", None, None)
        return out["user.secs_since_received_from_marked_device"]

    assert received("mule", at + 4 * HOUR) == 4 * HOUR - 600
    assert received("friend", at + 4 * HOUR) is None
    assert received("mule", at + 50 * HOUR) is None


def test_a_change_device_announces_only_the_phone_it_was_made_on() -> None:
    lin = Lineage()
    at = T0 + 3 * 24 * HOUR
    _step(lin, _ev(T0, "login", "u1"), "old")
    # The owner announced a new phone a week ago; the thief then comes in by SMS.
    _step(lin, _ev(T0 + HOUR, "account_change", "u1", operation="change_device"), "new")
    seen = lin.read(_ev(at, "login", "u1"), "new", None, None)["user.device_announced"]
    assert seen is True
    login = _ev(at, "login", "u1", phone="13800000001")
    assert lin.read(login, "thief", None, None)["user.device_announced"] is False
    _step(lin, login, "thief")
    change = _ev(at + 300, "account_change", "u1", operation="change_password")
    assert _marked(lin, change, "thief") is None  # point in time: marked after it
    draw = _ev(at + 600, "credit_draw", "u1", amount="5000")
    assert _marked(lin, draw, "thief") == 300.0
    assert lin.read(draw, None, None, None)["user.device_announced"] is None
    lin.expire(at + 91 * 24 * HOUR)
    assert not lin.announced
    # A snapshot taken before the field existed loads with an empty set.
    old = _loaded_without(lin, "announced")
    assert old.announced == set()


def test_an_account_opened_on_an_emulator_carries_it_to_its_next_steps() -> None:
    lin = Lineage()
    farm = _ev(T0, "register", "farm1", phone="13800000009")
    # Point in time: the registration itself does not know it yet.
    assert lin.read(farm, "emu", None, None)["user.reg_on_emulator"] is None
    lin.see(farm, "emu", None, None, emulator=True)
    lin.see(_ev(T0 + 5, "register", "shop1"), "phone", None, None)
    doc = _ev(
        T0 + 60, "account_change", "farm1", operation="bind_card", bank_card="6222020000000001"
    )
    assert lin.read(doc, "emu", None, None)["user.reg_on_emulator"] is True
    shop = _ev(T0 + 60, "login", "shop1")
    assert lin.read(shop, "phone", None, None)["user.reg_on_emulator"] is False
    # An account opened before the history began: unknown.
    assert lin.read(_ev(T0 + 60, "login", "old"), "x", None, None)["user.reg_on_emulator"] is None
    # An opening pickled before the field existed reads as an ordinary phone.
    del lin.openings["farm1"].on_emulator
    assert lin.read(doc, "emu", None, None)["user.reg_on_emulator"] is False


def test_the_baserates_stage_learns_the_emulator_from_the_registration_device() -> None:
    from fengkong.features.baserates import BaseRatesStage

    stage = BaseRatesStage()
    fp = {"platform": "android", "model": "Pixel 4", "canvas_hash": "c1", "is_emulator": True}
    emu = {"device_id": "d-emu", "fingerprint": fp}
    phone = {"device_id": "d-ok", "fingerprint": {**fp, "is_emulator": False}}
    stage.observe(_ev(T0, "register", "farm1", device=emu))
    stage.observe(_ev(T0, "register", "cust1", device=phone))
    assert stage.values(_ev(T0 + 60, "login", "farm1", device=emu))["user.reg_on_emulator"]
    assert (
        stage.values(_ev(T0 + 60, "login", "cust1", device=phone))["user.reg_on_emulator"] is False
    )


def test_a_young_payer_of_a_ring_shop_is_marked_for_a_week_point_in_time() -> None:
    lin = Lineage()
    key = "user.secs_since_ring_shop_payment"
    for k in range(4):
        lin.see(_ev(T0 + k, "register", f"r{k}"), f"d{k}", None)
    for k in range(4):  # the fourth pays when three fresh accounts already have
        pay = _ev(T0 + HOUR + k * 60, "payment", f"r{k}", amount="4800.00", merchant_id="m")
        assert lin.read(pay, f"d{k}", None, None)[key] is None  # not before its own payment
        lin.see(pay, f"d{k}", None)
    later = T0 + 3 * HOUR
    assert lin.read(_ev(later, "login", "r2"), "d2", None, None)[key] is None
    assert lin.read(_ev(later, "login", "r3"), "d3", None, None)[key] == 3 * HOUR - HOUR - 180
    assert lin.read(_ev(T0 + 8 * 24 * HOUR, "login", "r3"), "d3", None, None)[key] is None
    lin.expire(T0 + 8 * 24 * HOUR)
    assert not lin.ring_payments
    # A snapshot taken before the field existed loads without marks.
    old = _loaded_without(lin, "ring_payments")
    assert old.ring_payments == {}


def test_a_purchase_repaid_minus_a_fee_within_two_days_by_a_young_account_only() -> None:
    lin = Lineage()
    lin.see(_ev(T0, "register", "young"), "d1", None)
    for user in ("young", "old"):  # "old" opened before the history began
        lin.see(_ev(T0 + HOUR, "payment", user, amount="2000.00", merchant_id="m"), "d", None)

    def back(ts: float, payee: str, amount: str) -> Any:
        ev = _ev(ts, "transfer", "owner", amount=amount, counterparty={"account_id": payee})
        out = lin.read(ev, "d0", None, None)["cp_account.repays_purchase"]
        lin.see(ev, "d0", None)
        return out

    assert back(T0 + 2 * HOUR, "old", "1900.00") is False
    assert back(T0 + 2 * HOUR, "young", "1990.00") is False  # 99.5 %: no fee kept
    assert back(T0 + 3 * HOUR, "young", "1200.00") is False  # a share
    login = _ev(T0 + 4 * HOUR, "login", "young")
    assert lin.read(login, "d1", None, None)["user.secs_since_purchase_repaid"] is None
    assert back(T0 + 47 * HOUR, "young", "1900.00") is True
    later = _ev(T0 + 48 * HOUR, "login", "young")
    assert lin.read(later, "d1", None, None)["user.secs_since_purchase_repaid"] == HOUR
    assert back(T0 + 49 * HOUR + 1, "young", "1900.00") is False  # past two days
    lin.expire(T0 + 10 * 24 * HOUR)
    assert not lin.repaid and not lin.purchases
