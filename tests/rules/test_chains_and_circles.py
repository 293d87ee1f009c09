"""Default-pack rules for laundering chains and fake-credit trading circles: each on a
crafted stream, with the honest look-alike that must not fire."""

from __future__ import annotations

import random
from typing import Any

from tests.rules.test_slow_farms_and_hubs import hits
from tests.rules.test_world_facts import DAY, HOUR, T0, Stream, phone

CHAIN_RULES = {"relayed_money_passed_on", "acting_on_relayed_money"}
CIRCLE_RULES = {
    "circle_reciprocal_trade",
    "circle_young_trade",
    "circle_joint_draw",
    "circle_member_draw",
}


def _at(user: str, i: int) -> dict[str, Any]:
    return {"device": phone(f"dev-{user}"), "ip": f"120.229.{i % 200}.{10 + i % 90}"}


def _open(s: Stream, ts: float, user: str, i: int) -> None:
    s.add(ts, "register", user, phone=f"1390000{i:04d}", **_at(user, i))


def _send(s: Stream, ts: float, user: str, payee: str, amount: float, i: int = 0) -> None:
    s.add(
        ts,
        "transfer",
        user,
        amount=f"{amount:.2f}",
        counterparty={"account_id": payee},
        **_at(user, i),
    )


def _fired(decided: list[Any], user: str, rules: set[str]) -> list[set[str]]:
    return [names & rules for e, _, names in decided if e.user_id == user]


def test_a_chain_of_fresh_accounts_is_held_hop_after_hop_and_rent_is_not() -> None:
    s = Stream()
    hops = [f"hop{i}" for i in range(5)]
    for i, user in enumerate(hops):
        _open(s, T0 + i * 1800, user, i)
    amount, ts = 9800.0, T0 + 3 * DAY
    s.add(ts, "credit_draw", "hop0", amount=f"{amount:.2f}", **_at("hop0", 0))
    for i in range(4):  # each hop forwards within minutes, shaving a small fee
        ts += 600 + 300 * i
        _send(s, ts, hops[i], hops[i + 1], amount, i)
        amount *= 0.98
    s.add(ts + 900, "login", "hop2", **_at("hop2", 2))  # a hop back in the app
    s.add(ts + 1200, "withdrawal", "hop4", amount=f"{amount:.2f}", **_at("hop4", 4))
    # Honest: a tenant gets 3,000 from a flatmate and pays the rent (3,000) an hour later,
    # then shops; the landlord, an established account, pays its own bills days later.
    _send(s, T0 + 3 * DAY, "flatmate", "tenant", 3000.0, 50)
    _send(s, T0 + 3 * DAY + HOUR, "tenant", "landlord", 3000.0, 51)
    _send(s, T0 + 5 * DAY, "landlord", "plumber", 2900.0, 52)
    s.add(
        T0 + 4 * DAY,
        "payment",
        "tenant",
        amount="35.00",
        merchant_id="m-bakery",
        **_at("tenant", 51),
    )
    decided = hits(s.events())
    assert any("relayed_money_passed_on" in f for f in _fired(decided, "hop2", CHAIN_RULES))
    assert any("acting_on_relayed_money" in f for f in _fired(decided, "hop2", CHAIN_RULES))
    assert any("relayed_money_passed_on" in f for f in _fired(decided, "hop4", CHAIN_RULES))
    # The tenant's rent looks like a pass-on (mule_pass_through sees it); nothing more.
    assert _fired(decided, "tenant", {"relayed_money_passed_on", "acting_on_relayed_money"}) == [
        set(),
        set(),
    ]
    assert _fired(decided, "landlord", CHAIN_RULES) == [set()]


def _pay(s: Stream, ts: float, user: str, shop: str, amount: float, i: int) -> None:
    s.add(ts, "payment", user, amount=f"{amount:.2f}", merchant_id=shop, **_at(user, i))


def test_a_closed_group_trading_then_drawing_together_is_reviewed_and_friends_are_not() -> None:
    s = Stream()
    group = [f"g{i}" for i in range(6)]
    for i, user in enumerate(group):
        _open(s, T0 + i * 3 * HOUR, user, i)
    ts = T0 + DAY
    rnd = random.Random(3)
    for step in range(18):  # round and round inside the group, and at the group's shop
        a, b = rnd.sample(group, 2)
        if step % 2:
            _pay(s, ts, a, "m-group-shop", 120.0 * (1 + step / 6), step % 6)
        else:
            _send(s, ts, a, b, 150.0 * (1 + step / 6), step % 6)
        ts += 7 * HOUR
    ts = T0 + 12 * DAY
    for i, user in enumerate(group):  # then they all draw within hours
        s.add(ts + i * 1800, "credit_draw", user, amount="20000.00", **_at(user, i))
    # Honest: established friends (opened before the history) settle up with each other
    # and buy at a small café they share, and two of them borrow on the same day.
    friends = [f"f{i}" for i in range(6)]
    ts = T0 + DAY
    for step in range(18):
        a, b = rnd.sample(friends, 2)
        if step % 2:
            _pay(s, ts, a, "m-cafe", 45.0, 60 + step % 6)
        else:
            _send(s, ts, a, b, 200.0, 60 + step % 6)
        ts += 7 * HOUR
    for i in range(2):
        s.add(
            T0 + 12 * DAY + i * HOUR,
            "credit_draw",
            friends[i],
            amount="8000.00",
            **_at(friends[i], 60 + i),
        )
    # Honest: new customers (an app that grows) buy at a shop with established customers.
    for i in range(8):
        _open(s, T0 + i * HOUR, f"new{i}", 70 + i)
        for k in range(3):
            _pay(s, T0 + (2 + k) * DAY + i * 600, f"new{i}", "m-noodles", 28.0, 70 + i)
    for i in range(4):
        _pay(s, T0 + 2 * DAY + i * 900, f"regular{i}", "m-noodles", 30.0, 80 + i)
    for i in range(3):
        s.add(
            T0 + 5 * DAY + i * HOUR,
            "credit_draw",
            f"new{i}",
            amount="3000.00",
            **_at(f"new{i}", 70 + i),
        )
    # Honest: a new customer pays an old friend back (young → established).
    _open(s, T0, "newbie", 90)
    _send(s, T0 + DAY, "f0", "newbie", 300.0, 60)
    _send(s, T0 + 2 * DAY, "newbie", "f0", 300.0, 90)
    decided = hits(s.events())
    draws = [(e.user_id, d, n) for e, d, n in decided if e.type.value == "credit_draw"]
    group_draws = [(d, n & CIRCLE_RULES) for u, d, n in draws if u in group]
    # A member whose only partner draws after it is missed: five of six are enough.
    assert sum(1 for d, n in group_draws if d in ("review", "block") and n) >= 5
    assert any("circle_joint_draw" in n for _, n in group_draws[1:])
    trades = [
        n & CIRCLE_RULES
        for e, _, n in decided
        if e.user_id in group and e.type.value in ("payment", "transfer")
    ]
    # The circle shows once the group has traded a while: most of the later trades.
    assert sum(1 for n in trades[9:] if n) >= 7
    for user in [*friends, "newbie", *(f"new{i}" for i in range(8))]:
        assert all(not f for f in _fired(decided, user, CIRCLE_RULES)), user


def test_a_fresh_account_splitting_a_loan_among_fresh_accounts_is_challenged() -> None:
    s = Stream()
    for i, user in enumerate(["source", "mid0", "mid1", "mid2", "newbuyer", "newfriend"]):
        _open(s, T0 + i * 1800, user, i)
    ts = T0 + 4 * DAY
    s.add(ts, "credit_draw", "source", amount="9000.00", **_at("source", 0))
    for i in range(3):  # the loan is split among fresh accounts within the hour
        _send(s, ts + 1200 + 300 * i, "source", f"mid{i}", 2950.0 - 40 * i, 0)
    # Honest: a new customer borrows, pays an established seller the same afternoon and
    # a new friend (opened this month) a week later; an established customer borrows and
    # pays a new friend at once.
    s.add(ts, "credit_draw", "newbuyer", amount="6000.00", **_at("newbuyer", 4))
    _send(s, ts + 2 * HOUR, "newbuyer", "old-seller", 5800.0, 4)
    _send(s, ts + 7 * DAY, "newbuyer", "newfriend", 1500.0, 4)
    s.add(ts, "credit_draw", "regular", amount="5000.00", **_at("regular", 9))
    _send(s, ts + HOUR, "regular", "newfriend", 2000.0, 9)
    decided = hits(s.events())
    rule = {"drawn_credit_to_young_account"}
    source = [
        (d, names) for e, d, names in decided if e.user_id == "source" and e.type == "transfer"
    ]
    assert all(d == "challenge" and rule <= names for d, names in source)
    assert _fired(decided, "newbuyer", rule) == [set()] * 4  # register, draw, two transfers
    assert _fired(decided, "regular", rule) == [set()] * 2


def test_a_fresh_mule_forwarding_is_challenged_and_an_established_tenant_paying_rent_is_not() -> (
    None
):
    s = Stream()
    _open(s, T0, "fresh-mule", 1)
    _send(s, T0 + 2 * DAY, "victim", "fresh-mule", 4000.0, 2)
    _send(s, T0 + 2 * DAY + 1800, "fresh-mule", "next-hop", 3920.0, 1)  # a 2 % fee shaved
    # Honest: a tenant (an account from before the history) collects the flatmates'
    # shares and pays the rent within the hour; it shops with the app every week.
    _pay(s, T0 + HOUR, "tenant", "m-market", 260.0, 5)
    _send(s, T0 + 2 * DAY, "flatmate1", "tenant", 1500.0, 3)
    _send(s, T0 + 2 * DAY + 600, "flatmate2", "tenant", 1500.0, 4)
    _send(s, T0 + 2 * DAY + 3000, "tenant", "landlord", 3000.0, 5)
    decided = hits(s.events())
    mule = [(d, n) for e, d, n in decided if e.user_id == "fresh-mule" and e.type == "transfer"]
    assert mule[0][0] in ("challenge", "review") and "mule_pass_through" in mule[0][1]
    tenant = [(d, n) for e, d, n in decided if e.user_id == "tenant" and e.type == "transfer"]
    assert tenant == [("allow", tenant[0][1])]
    assert "pass_through_established_account" in tenant[0][1]
    assert "mule_pass_through" not in tenant[0][1]


def test_fresh_mules_handing_small_splits_on_hours_later_are_challenged() -> None:
    s = Stream()
    mules = [f"split{i}" for i in range(4)]
    for i, user in enumerate(["source", "collector", *mules, "newcomer", "newfriend"]):
        _open(s, T0 + i * 1800, user, i)
    ts = T0 + 4 * DAY
    s.add(ts, "credit_draw", "source", amount="3400.00", **_at("source", 0))
    for i, mule in enumerate(mules):  # splits under a thousand, handed on 4-5 h later
        _send(s, ts + 600 * (i + 1), "source", mule, 850.0, 0)
        _send(s, ts + 4 * HOUR + 900 * i, mule, "collector", 850.0 * 0.98, i + 2)
    # Honest: a new customer given 800 by a parent (an account from before the history)
    # pays the rent to an established landlord four hours later, and a new friend a
    # share two days later.
    _send(s, ts, "parent", "newcomer", 800.0, 9)
    _send(s, ts + 4 * HOUR, "newcomer", "landlord", 780.0, 6)
    _send(s, ts + 2 * DAY, "parent", "newcomer", 400.0, 9)
    _send(s, ts + 4 * DAY, "newcomer", "newfriend", 390.0, 6)
    decided = hits(s.events())
    rule = {"young_account_hands_on_to_young"}
    for mule in mules:
        hand_on = [(d, n) for e, d, n in decided if e.user_id == mule and e.type == "transfer"]
        assert hand_on[0][0] == "challenge" and rule <= hand_on[0][1]
        assert "mule_pass_through" not in hand_on[0][1]  # too small and too late for it
    assert _fired(decided, "newcomer", rule) == [set()] * 3  # register, two transfers
