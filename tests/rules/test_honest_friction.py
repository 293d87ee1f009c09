"""Issue 10: the default pack's margin on honest friction. Each changed rule on a crafted
stream: the honest case it used to push over a threshold, and the attack it still helps
to flag."""

from __future__ import annotations

from tests.rules.test_slow_farms_and_hubs import hits
from tests.rules.test_victim_accounts import BEIJING, CHENGDU, _fired, _history
from tests.rules.test_world_facts import DAY, HOUR, T0, Stream, phone

HOME = {"ip": "123.112.4.20", "geo": BEIJING}


def test_a_first_large_loan_counts_its_amount_once_and_a_large_purchase_still_scores() -> None:
    s = Stream()
    dev = {"device": phone("saver-phone-01"), **HOME}
    shop = {"device": phone("shopper-phone-01"), **HOME}
    for day in range(10):  # coffee and groceries: a habit with some spread
        amount = f"{40 + 25 * (day % 4)}.00"
        for user, where in (("saver", dev), ("shopper", shop)):
            s.add(T0 + day * DAY + 18 * HOUR, "payment", user, amount=amount, **where)
    at = T0 + 10 * DAY + 11 * HOUR
    s.add(at, "credit_draw", "saver", amount="9000", **dev)
    s.add(at, "payment", "shopper", amount="6000", merchant_id="m-furniture", **shop)
    decided = hits(s.events())
    d, names = _fired(decided, "saver", "credit_draw")
    # One fact, this amount against the account's history: scored by one rule.
    assert "amount_above_past_max" in names
    assert "amount_far_above_habit" not in names
    assert d == "allow"
    # A payment is not read by amount_above_past_max: the habit rule still scores it.
    assert "amount_far_above_habit" in _fired(decided, "shopper", "payment")[1]


def test_the_owner_of_an_announced_new_phone_moves_money_after_changing_it() -> None:
    s = Stream()
    _history(s, "upgrader", phone("old-phone-0002"))
    _history(s, "victim", phone("victim-phone-03"))
    at = T0 + 10 * DAY + 14 * HOUR
    new = {"device": phone("new-phone-0002"), **HOME}
    # The owner announces the new phone, withdraws at once, changes the password the
    # next morning and takes a loan that afternoon.
    s.add(at, "account_change", "upgrader", operation="change_device", **new)
    s.add(at + 600, "withdrawal", "upgrader", amount="3000", **new)
    s.add(at + DAY - 5 * HOUR, "account_change", "upgrader", operation="change_password", **new)
    s.add(at + DAY, "credit_draw", "upgrader", amount="6000", **new)
    # The thief on his own phone announces nothing and does the same.
    thief = {"device": phone("thief-phone-02"), "ip": "171.88.3.4", "geo": BEIJING}
    s.add(at, "login", "victim", phone="13800000003", **thief)
    s.add(at + 120, "account_change", "victim", operation="change_password", **thief)
    s.add(at + 600, "withdrawal", "victim", amount="3000", **thief)
    s.add(at + DAY, "credit_draw", "victim", amount="6000", **thief)
    decided = hits(s.events())
    for etype, rule in (
        ("withdrawal", "money_after_phone_or_device_change"),
        ("credit_draw", "fresh_device_draw_after_change"),
    ):
        d, names = _fired(decided, "upgrader", etype)
        assert rule not in names and d == "allow", (etype, names)
        assert rule in _fired(decided, "victim", etype)[1]
    assert _fired(decided, "victim", "credit_draw")[0] != "allow"


def _collects(s: Stream, user: str, at: float, amount: int) -> None:
    for i in range(3):
        s.add(
            at + i * 600,
            "transfer",
            f"friend-{user}-{i}",
            device=phone(f"friend-phone-{user}-{i}"),
            ip=f"120.229.{i}.8",
            amount=str(amount),
            counterparty={"account_id": user},
        )


def test_a_dinner_bill_collected_from_friends_is_allowed_and_a_young_mule_is_not() -> None:
    s = Stream()
    dev = {"device": phone("host-phone-01"), **HOME}
    _history(s, "host", dev["device"])
    at = T0 + 10 * DAY + 19 * HOUR
    # Three friends pay the host their share; the host pays the whole bill.
    _collects(s, "host", at, 300)
    s.add(
        at + 2 * HOUR,
        "transfer",
        "host",
        amount="1200",
        counterparty={"account_id": "restaurant-owner"},
        **dev,
    )
    # A mule opened the day before collects from three senders and sends it all on.
    s.add(T0 + 9 * DAY, "register", "mule", device=phone("mule-phone-01"), ip="36.1.7.9")
    _collects(s, "mule", at, 2000)
    s.add(
        at + 2 * HOUR,
        "transfer",
        "mule",
        device=phone("mule-phone-01"),
        ip="36.1.7.9",
        amount="6000",
        counterparty={"account_id": "next-hop"},
    )
    decided = hits(s.events())
    d, names = _fired(decided, "host", "transfer")
    assert "mule_fan_in_out" in names and d == "allow"
    d, names = _fired(decided, "mule", "transfer")
    assert {"mule_fan_in_out", "mule_pass_through"} <= names
    assert d != "allow"


def test_a_trip_with_a_new_phone_is_allowed_and_a_thief_far_away_is_still_stopped() -> None:
    s = Stream()
    _history(s, "tourist", phone("tourist-old-phone"))
    _history(s, "victim", phone("victim-phone-04"))
    at = T0 + 10 * DAY + 15 * HOUR
    # The tourist lands in Chengdu, buys a phone there and withdraws cash for the trip.
    trip = {"device": phone("tourist-new-phone"), "ip": "171.88.9.9", "geo": CHENGDU}
    s.add(at + 600, "withdrawal", "tourist", amount="800", **trip)
    # The thief in Chengdu: a new phone far from home too, then the lockout and a payee.
    thief = {"device": phone("thief-phone-04"), "ip": "171.88.3.4", "geo": CHENGDU}
    s.add(at, "login", "victim", phone="13800000005", **thief)
    s.add(at + 120, "account_change", "victim", operation="change_password", **thief)
    s.add(at + 300, "account_change", "victim", operation="add_payee", **thief)
    s.add(at + 600, "withdrawal", "victim", amount="800", **thief)
    decided = hits(s.events())
    d, names = _fired(decided, "tourist", "withdrawal")
    assert "new_city_new_device_money" in names and d == "allow"
    assert _fired(decided, "victim", "withdrawal")[0] != "allow"
    changes = [d for e, d, _ in decided if e.user_id == "victim" and e.type == "account_change"]
    assert all(d != "allow" for d in changes)
