"""Default-pack rules for attacks on real customers' accounts — takeover, scam calls,
lure QR codes — and the fresh accounts that collect the money; each on a crafted
stream, beside the honest look-alike that must not fire."""

from __future__ import annotations

from typing import Any

from tests.rules.test_slow_farms_and_hubs import hits
from tests.rules.test_world_facts import DAY, HOUR, T0, Stream, phone

BEIJING = {"lat": 39.90, "lon": 116.40}
CHENGDU = {"lat": 30.66, "lon": 104.07}


def _history(s: Stream, user: str, device: dict[str, Any], days: int = 10) -> None:
    """Ten ordinary days at home: a login and a coffee each morning."""
    for day in range(days):
        ts = T0 + day * DAY + 9 * HOUR
        s.add(ts, "login", user, device=device, ip="123.112.4.20", geo=BEIJING)
        s.add(
            ts + 60,
            "payment",
            user,
            device=device,
            ip="123.112.4.20",
            geo=BEIJING,
            amount="45.00",
            merchant_id="m-coffee",
        )


def _open(s: Stream, ts: float, user: str, i: int) -> None:
    s.add(ts, "register", user, device=phone(f"fresh-phone-{i:04d}"), ip=f"36.{i}.7.9")


def _fired(decided: list[Any], user: str, etype: str) -> tuple[str, set[str]]:
    """Decision and rules of the user's last event of that type."""
    return [(d, names) for e, d, names in decided if e.user_id == user and e.type == etype][-1]


def test_a_takeover_is_stopped_at_each_step_and_a_phone_upgrade_is_not() -> None:
    s = Stream()
    _history(s, "victim", phone("victim-phone-01"))
    _history(s, "upgrader", phone("old-phone-0001"))
    _open(s, T0 + 2 * DAY, "mule", 1)
    _open(s, T0 + 2 * DAY, "old-friend", 2)
    at = T0 + 10 * DAY + 14 * HOUR
    emulator = phone("thief-phone-01", "OPPO Find X7", "c-oppo")
    emulator["fingerprint"]["is_emulator"] = True
    thief = {"device": emulator, "ip": "171.88.3.4"}
    s.add(at, "login", "victim", geo=CHENGDU, phone="13800000001", **thief)
    s.add(at + 120, "account_change", "victim", operation="change_password", **thief)
    s.add(at + 300, "account_change", "victim", operation="add_payee", **thief)
    s.add(at + 400, "credit_draw", "victim", amount="8000", **thief)
    s.add(
        at + 600, "transfer", "victim", amount="9000", counterparty={"account_id": "mule"}, **thief
    )
    # The owner of a new phone: announces it, logs in by SMS at home, changes the
    # password and pays a friend; the friend's account is young, the payment small.
    new = {"device": phone("new-phone-0001", "OPPO Find X7", "c-oppo"), "ip": "123.112.4.20"}
    s.add(at, "account_change", "upgrader", operation="change_device", geo=BEIJING, **new)
    s.add(at + 30, "login", "upgrader", geo=BEIJING, phone="13800000002", **new)
    s.add(at + 120, "account_change", "upgrader", operation="change_password", **new)
    s.add(at + 300, "account_change", "upgrader", operation="add_payee", **new)
    s.add(
        at + 400,
        "transfer",
        "upgrader",
        amount="30",
        counterparty={"account_id": "old-friend"},
        **new,
    )
    decided = hits(s.events())
    assert "takeover_login_new_device_hidden" in _fired(decided, "victim", "login")[1]
    changes = [
        (d, n) for e, d, n in decided if e.user_id == "victim" and e.type == "account_change"
    ]
    assert "credentials_changed_on_fresh_device" in changes[0][1]
    assert "payee_added_after_credential_change" in changes[1][1]
    assert all(d != "allow" for d, _ in changes)
    assert _fired(decided, "victim", "credit_draw")[0] != "allow"
    d, names = _fired(decided, "victim", "transfer")
    assert d in ("review", "block") and "fresh_device_pays_just_added_payee" in names
    upgrader = [(d, n) for e, d, n in decided if e.user_id == "upgrader" and e.ts >= at]
    assert sum(d != "allow" for d, _ in upgrader) <= 1


def test_a_traveller_on_their_own_phone_meets_no_takeover_rule() -> None:
    s = Stream()
    dev = phone("my-phone-0001")
    _history(s, "traveller", dev)
    at = T0 + 10 * DAY + 15 * HOUR
    s.add(at, "login", "traveller", device=dev, ip="171.88.3.4", geo=CHENGDU)
    s.add(at + 300, "account_change", "traveller", device=dev, operation="change_password")
    s.add(at + 600, "credit_draw", "traveller", device=dev, amount="3000", geo=CHENGDU)
    takeover = {
        "takeover_login_new_device_hidden",
        "credentials_changed_on_fresh_device",
        "fresh_device_draw_after_change",
    }
    for e, _, names in hits(s.events()):
        assert not names & takeover, (e.type, names)


def test_a_coached_victim_is_warned_from_the_login_and_an_honest_call_only_reminded() -> None:
    s = Stream()
    dev = phone("victim-phone-02")
    _history(s, "victim", dev)
    _history(s, "customer", phone("cust-phone-01"))
    _open(s, T0 + 5 * DAY, "safe-account", 3)
    at = T0 + 10 * DAY + 11 * HOUR
    call = {"in_call": True, "caller_in_contacts": False}
    s.add(at, "login", "victim", device=dev, context={**call, "screen_sharing": True})
    s.add(
        at + 600,
        "transfer",
        "victim",
        device=dev,
        amount="3000",
        context=call,
        counterparty={"account_id": "safe-account"},
    )
    # A courier calls while a customer logs in and pays the usual coffee shop.
    s.add(at, "login", "customer", device=phone("cust-phone-01"), context=call)
    s.add(
        at + 60,
        "payment",
        "customer",
        device=phone("cust-phone-01"),
        amount="45",
        merchant_id="m-coffee",
        context=call,
    )
    decided = {e.event_id: (e, names) for e, _, names in hits(s.events())}
    fired = {(e.user_id, e.type): names for e, names in decided.values() if e.ts >= at}
    assert "login_screen_watched_in_call" in fired["victim", "login"]
    assert "coached_transfer_to_new_payee" in fired["victim", "transfer"]
    # The customer only sees the in-call reminder at login: allowed, no points.
    assert fired["customer", "login"] == {"login_in_call_with_stranger"}
    assert not fired["customer", "payment"]
    customer = [(d, e.type) for e, d, _ in hits(s.events()) if e.user_id == "customer"]
    assert {d for d, _ in customer} == {"allow"}


def test_a_payment_after_a_shortened_code_is_warned_a_brand_code_is_not() -> None:
    s = Stream()
    for user, payload in (
        ("victim", "https://t.cn/A6Hq9x"),
        ("shopper", "https://qr.alipay.com/bax0a1b2c3"),
    ):
        dev = phone(f"{user}-phone-001")
        _history(s, user, dev, days=3)
        at = T0 + 3 * DAY + 12 * HOUR
        s.add(at, "qr_scan", user, device=dev, qr={"payload": payload}, context={"entry": "qr"})
        s.add(
            at + 40,
            "payment",
            user,
            device=dev,
            amount="680",
            merchant_id=f"m-{user}",
            context={"entry": "qr"},
        )
    decided = hits(s.events())
    pays = {
        e.user_id: names for e, _, names in decided if e.type == "payment" and e.ts > T0 + 3 * DAY
    }
    assert "money_after_suspicious_qr" in pays["victim"]
    assert "money_after_suspicious_qr" not in pays["shopper"]


def test_a_large_sum_paid_right_after_a_shortened_code_is_challenged() -> None:
    s = Stream()
    at = T0 + 3 * DAY + 12 * HOUR
    # user -> (seconds after the scan, amount, payee); every code is a shortener's
    plans = {"victim": (90, "2400"), "small": (60, "300"), "later": (27 * 60, "3000")}
    for user, (after, amount) in plans.items():
        dev = phone(f"{user}-phone-001")
        _history(s, user, dev, days=3)
        s.add(at, "qr_scan", user, device=dev, qr={"payload": f"https://t.cn/A6{user}"})
        s.add(
            at + after,
            "transfer",
            user,
            device=dev,
            amount=amount,
            context={"entry": "qr"},
            counterparty={"account_id": f"payee-of-{user}"},
        )
    decided = [(e, d, names) for e, d, names in hits(s.events()) if e.type == "transfer"]
    fired = {e.user_id: (d, names) for e, d, names in decided}
    assert fired["victim"][0] == "challenge"
    assert "large_money_right_after_suspicious_qr" in fired["victim"][1]
    # A small sum, or a large one half an hour later, keeps the warning only.
    for user in ("small", "later"):
        assert "money_after_suspicious_qr" in fired[user][1]
        assert "large_money_right_after_suspicious_qr" not in fired[user][1]


def test_a_fresh_collection_account_emptying_what_it_received_is_reviewed() -> None:
    s = Stream()
    _open(s, T0, "collector", 4)
    _open(s, T0, "newcomer", 5)
    for i in range(4):  # lure victims pay the collector over three days
        s.add(
            T0 + DAY + i * 20 * HOUR,
            "transfer",
            f"victim{i}",
            device=phone(f"victim-phone-{i:03d}"),
            amount="700",
            counterparty={"account_id": "collector"},
        )
    s.add(
        T0 + DAY,
        "transfer",
        "parent",
        device=phone("parent-phone-01"),
        amount="3000",
        counterparty={"account_id": "newcomer"},
    )
    out = T0 + 4 * DAY
    s.add(
        out,
        "withdrawal",
        "collector",
        device=phone("fresh-phone-0004"),
        amount="2750",
        bank_card="6222000000000001",
    )
    # A new customer who received money from family withdraws it after shopping.
    s.add(
        T0 + 2 * DAY,
        "payment",
        "newcomer",
        device=phone("fresh-phone-0005"),
        amount="120",
        merchant_id="m-grocer",
    )
    s.add(
        out,
        "withdrawal",
        "newcomer",
        device=phone("fresh-phone-0005"),
        amount="2750",
        bank_card="6222000000000002",
    )
    decided = hits(s.events())
    d, names = _fired(decided, "collector", "withdrawal")
    assert d == "review" and "first_money_passes_on_received" in names
    assert "first_money_passes_on_received" not in _fired(decided, "newcomer", "withdrawal")[1]


def test_a_personal_code_paying_a_fresh_account_is_warned_a_friends_code_is_not() -> None:
    s = Stream()
    _open(s, T0 + 2 * DAY, "collector", 6)
    lure, friend = "https://qr.alipay.com/fkx1lure000001", "https://qr.alipay.com/fkx1friend0001"
    for i in range(3):  # victims scan the lure; people pay a friend (opened long ago)
        for code, payee, who in ((lure, "collector", "victim"), (friend, "friend", "pal")):
            user, at = f"{who}{i}", T0 + (3 + i) * DAY + 12 * HOUR
            dev = phone(f"{user}-phone-0001")
            qr = {"entry": "qr"}
            s.add(at, "qr_scan", user, device=dev, qr={"payload": code}, context=qr)
            cp = {"account_id": payee}
            s.add(at + 40, "transfer", user, device=dev, amount="80", context=qr, counterparty=cp)
    scans = [(e.user_id, names) for e, _, names in hits(s.events()) if e.type == "qr_scan"]
    warned = {user for user, names in scans if "qr_code_pays_young_account" in names}
    # The first victim's scan teaches the code's payee; the later ones are warned.
    assert warned == {"victim1", "victim2"}


SMS_TAKEOVER = {
    "credentials_changed_on_sms_entered_device",
    "return_to_sms_entered_device_after_change",
}


def test_a_thief_let_in_by_sms_code_at_home_is_challenged_and_a_second_device_is_not() -> None:
    s = Stream()
    _history(s, "victim", phone("victim-phone-03"))
    _history(s, "owner", phone("owner-phone-01"))
    at = T0 + 10 * DAY + 20 * HOUR
    # A swapped SIM: the thief's ordinary phone of the victim's model, in the victim's
    # city, on a carrier IP, signs in with the code sent to the victim's number.
    thief = {"device": phone("thief-phone-02"), "ip": "223.104.5.77", "geo": BEIJING}
    s.add(at, "login", "victim", phone="13800000003", **thief)
    s.add(at + 200, "account_change", "victim", operation="change_password", **thief)
    back = at + 30 * HOUR  # he waits, then comes back on the same phone
    s.add(back, "login", "victim", **thief)
    s.add(back + 5, "account_change", "victim", operation="add_payee", **thief)
    # The owner's second device (a tablet at home), signed in with the password.
    tablet = {"device": phone("owner-tablet-1", "Xiaomi Pad 6"), "ip": "123.112.4.20"}
    s.add(at, "login", "owner", geo=BEIJING, **tablet)
    s.add(at + 200, "account_change", "owner", operation="change_password", **tablet)
    s.add(back, "login", "owner", geo=BEIJING, **tablet)
    s.add(back + 5, "account_change", "owner", operation="add_payee", **tablet)
    decided = hits(s.events())
    victim = [(d, n & SMS_TAKEOVER) for e, d, n in decided if e.user_id == "victim" and e.ts >= at]
    # The login by code alone is no sign (owners log in by code on their other devices).
    assert [n for _, n in victim] == [
        set(),
        {"credentials_changed_on_sms_entered_device"},
        {"return_to_sms_entered_device_after_change"},
        {"return_to_sms_entered_device_after_change"},
    ]
    assert all(d != "allow" for d, _ in victim[1:])
    owner = [n for e, _, n in decided if e.user_id == "owner" and e.ts >= at]
    assert all(not n & SMS_TAKEOVER for n in owner)


def test_a_phone_upgrade_announced_by_change_device_meets_no_sms_takeover_rule() -> None:
    s = Stream()
    _history(s, "upgrader", phone("old-phone-0002"))
    at = T0 + 10 * DAY + 14 * HOUR
    new = {"device": phone("new-phone-0002"), "ip": "123.112.4.20", "geo": BEIJING}
    s.add(at, "account_change", "upgrader", operation="change_device", **new)
    s.add(at + 30, "login", "upgrader", phone="13800000004", **new)
    s.add(at + 120, "account_change", "upgrader", operation="change_password", **new)
    s.add(at + DAY, "login", "upgrader", **new)
    for e, _, names in hits(s.events()):
        assert not names & SMS_TAKEOVER, (e.type, names)


def test_every_piece_a_thief_moves_from_his_phone_after_the_lockout_is_held() -> None:
    s = Stream()
    _history(s, "victim", phone("victim-phone-04"))
    _history(s, "forgetful", phone("forgetful-phone"))
    _open(s, T0 + 2 * DAY, "mule", 3)
    at = T0 + 10 * DAY + 21 * HOUR
    # A thief at home in the victim's city on an ordinary phone, signed in by password
    # (a phished one): he changes it, sleeps, and drains the next morning in pieces.
    thief = {"device": phone("thief-phone-03"), "ip": "223.104.5.78", "geo": BEIJING}
    s.add(at, "login", "victim", **thief)
    s.add(at + 300, "account_change", "victim", operation="change_password", **thief)
    back = at + 12 * HOUR
    s.add(back, "login", "victim", **thief)
    s.add(back + 60, "credit_draw", "victim", amount="3000", **thief)
    for i in range(3):
        pay = {"amount": "1100", "counterparty": {"account_id": "mule"}}
        s.add(back + 300 + 200 * i, "transfer", "victim", **pay, **thief)
    # An owner resets a forgotten password on a new tablet, and pays three days later.
    tablet = {"device": phone("forgetful-tab", "Xiaomi Pad 6"), "ip": "123.112.4.20"}
    s.add(at, "login", "forgetful", geo=BEIJING, **tablet)
    s.add(at + 300, "account_change", "forgetful", operation="change_password", **tablet)
    later = {"amount": "1100", "counterparty": {"account_id": "mule"}}
    s.add(at + 3 * DAY, "transfer", "forgetful", geo=BEIJING, **later, **tablet)
    decided = hits(s.events())
    rule = "money_from_device_marked_by_credential_change"
    money = [(d, n) for e, d, n in decided if e.user_id == "victim" and e.ts >= back + 60]
    assert len(money) == 4 and all(rule in n and d != "allow" for d, n in money)
    assert all(rule not in n for e, _, n in decided if e.user_id == "forgetful")


def test_the_mule_cashing_out_money_from_a_locked_out_account_is_reviewed() -> None:
    s = Stream()
    _history(s, "victim", phone("victim-phone-05"))
    _history(s, "forgetful", phone("forgetful-phone-2"))
    _open(s, T0 + 2 * DAY, "mule", 4)
    _open(s, T0 + 2 * DAY, "friend", 5)
    at = T0 + 10 * DAY + 10 * HOUR
    thief = {"device": phone("thief-phone-04"), "ip": "223.104.5.79", "geo": BEIJING}
    s.add(at, "login", "victim", **thief)
    s.add(at + 120, "account_change", "victim", operation="change_phone", **thief)
    s.add(
        at + 400, "transfer", "victim", amount="6000", counterparty={"account_id": "mule"}, **thief
    )
    # An owner resets a forgotten password on a new tablet and pays a friend a week later.
    tablet = {"device": phone("forgetful-tab-2", "Xiaomi Pad 6"), "ip": "123.112.4.20"}
    s.add(at, "login", "forgetful", geo=BEIJING, **tablet)
    s.add(at + 120, "account_change", "forgetful", operation="change_password", **tablet)
    pay = {"amount": "6000", "counterparty": {"account_id": "friend"}}
    s.add(at + 7 * DAY, "transfer", "forgetful", geo=BEIJING, **pay, **tablet)
    for who, ts in (("mule", at + 3 * HOUR), ("friend", at + 7 * DAY + 3 * HOUR)):
        out = {"device": phone(f"{who}-phone-9"), "ip": "36.9.7.9", "amount": "5900"}
        s.add(ts, "withdrawal", who, bank_card="6222020000000000001", **out)
    decided = hits(s.events())
    rule = "cash_out_of_money_from_marked_device"
    mule = _fired(decided, "mule", "withdrawal")
    assert rule in mule[1] and mule[0] != "allow"
    assert rule not in _fired(decided, "friend", "withdrawal")[1]


def test_a_code_paid_large_sums_by_strangers_is_warned_a_landlords_and_a_vendors_not() -> None:
    s = Stream()
    lure = "https://qr.alipay.com/fkx1lure000002"
    landlord, vendor = "https://qr.alipay.com/fkx1rent000001", "wxp://f2f0vendor00001"
    codes = ((lure, "collector", "victim", "2600"), (vendor, "noodles", "diner", "18"))
    for i in range(4):  # strangers pay the lure large sums, diners the vendor small ones
        for code, payee, who, amount in codes:
            user, at = f"{who}{i}", T0 + (2 + i) * DAY + 12 * HOUR
            _pay_through(s, at, user, code, payee, amount)
    for i, day in enumerate((1, 9)):  # one tenant's rent at a time
        _pay_through(s, T0 + day * DAY, f"tenant{i}", landlord, "landlord", "3200")
    scans = [(e.user_id, names) for e, _, names in hits(s.events()) if e.type == "qr_scan"]
    warned = {user for user, names in scans if "qr_code_collects_from_many" in names}
    # The lure is warned from its third scanner on: two strangers paid it large sums.
    assert warned == {"victim2", "victim3"}


def _pay_through(s: Stream, at: float, user: str, code: str, payee: str, amount: str) -> None:
    dev, qr = phone(f"{user}-phone-0001"), {"entry": "qr"}
    s.add(at, "qr_scan", user, device=dev, qr={"payload": code}, context=qr)
    cp = {"account_id": payee}
    s.add(at + 40, "transfer", user, device=dev, amount=amount, context=qr, counterparty=cp)
