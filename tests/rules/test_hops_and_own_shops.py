"""Default-pack rules on the hop facts: a forwarded receipt, a split or whole-passed loan,
a group's own shop, a circle of many young accounts. Each on a crafted stream, with the
honest look-alike that must not fire."""

from __future__ import annotations

from typing import Any

from tests.rules.test_chains_and_circles import _at, _fired, _open, _send
from tests.rules.test_slow_farms_and_hubs import hits
from tests.rules.test_world_facts import DAY, HOUR, T0, Stream

HOP_RULES = {
    "young_account_forwards_latest_receipt",
    "loan_split_among_young_accounts",
    "loan_passed_on_whole",
}
SHOP_RULES = {"young_payer_of_young_shop", "circle_of_many_young_accounts"}


def _draw(s: Stream, ts: float, user: str, amount: float, i: int) -> None:
    s.add(ts, "credit_draw", user, amount=f"{amount:.2f}", **_at(user, i))


def _pay(s: Stream, ts: float, user: str, shop: str, amount: float, i: int) -> None:
    s.add(ts, "payment", user, amount=f"{amount:.2f}", merchant_id=shop, **_at(user, i))


def _fan_out(s: Stream) -> None:
    """A hub splits a loan among eight fresh mules; each forwards its share 8 h later."""
    users = ["hub", "collector", *(f"mid{k}" for k in range(8))]
    for i, user in enumerate(users):
        _open(s, T0 + i * 900, user, i)
    t = T0 + 4 * DAY
    _draw(s, t, "hub", 4000.0, 0)
    for k in range(8):
        _send(s, t + HOUR + k * 600, "hub", f"mid{k}", 480.0 + k, 0)
        _send(s, t + 9 * HOUR + k * 600, f"mid{k}", "collector", (480.0 + k) * 0.97, 2 + k)


def test_a_loan_fan_out_is_held_at_the_split_and_at_every_forward() -> None:
    s = Stream()
    _fan_out(s)
    decided = hits(s.events())
    hub = _fired(decided, "hub", HOP_RULES)
    # The first slice has no young payee before it; every later one does.
    assert [("loan_split_among_young_accounts" in f) for f in hub[2:]] == [False] + [True] * 7
    for k in range(8):  # 8 h after the money came in: past young_account_hands_on_to_young
        assert "young_account_forwards_latest_receipt" in _fired(decided, f"mid{k}", HOP_RULES)[-1]


def test_a_customer_who_withdrew_the_loan_and_pays_friends_is_not_a_split() -> None:
    s = Stream()
    for i, user in enumerate(("borrower", "friend1", "friend2")):
        _open(s, T0 + i * 900, user, 20 + i)
    t = T0 + 4 * DAY
    _draw(s, t, "borrower", 2600.0, 20)
    s.add(t + 1800, "withdrawal", "borrower", amount="2600.00", **_at("borrower", 20))
    _send(s, t + 3 * HOUR, "borrower", "friend1", 235.0, 20)
    _send(s, t + 4 * HOUR, "borrower", "friend2", 300.0, 20)
    _send(s, t + 20 * HOUR, "borrower", "friend1", 2435.0, 20)
    # A friend gets 500 and sends another friend 300 of it: a share, not the payment.
    _send(s, t + 5 * HOUR, "friend2", "friend1", 180.0, 22)
    decided = hits(s.events())
    assert all(not f for f in _fired(decided, "borrower", HOP_RULES))
    assert all(not f for f in _fired(decided, "friend2", HOP_RULES))


def test_a_loan_handed_whole_to_a_fresh_account_hours_later_is_held() -> None:
    s = Stream()
    for i, user in enumerate(("src", "next")):
        _open(s, T0 + i * 900, user, 30 + i)
    t = T0 + 5 * DAY
    _draw(s, t, "src", 16000.0, 30)
    _send(s, t + 8 * HOUR, "src", "next", 16000.0, 30)
    decided = hits(s.events())
    assert "loan_passed_on_whole" in _fired(decided, "src", HOP_RULES)[-1]


def _own_shop(s: Stream, members: int, outsider: bool) -> None:
    for i in range(members):
        _open(s, T0 + i * 600, f"g{i}", 40 + i)
    t = T0 + 3 * DAY
    if outsider:  # an established customer (opened before the history) pays there too
        _pay(s, t - HOUR, "regular", "m-shop", 40.0, 90)
    for i in range(members):
        _pay(s, t + i * HOUR, f"g{i}", "m-shop", 120.0 + i, 40 + i)


def test_the_fourth_young_payer_of_an_all_young_shop_is_held() -> None:
    s = Stream()
    _own_shop(s, 5, outsider=False)
    decided = hits(s.events())
    held = [bool(_fired(decided, f"g{i}", SHOP_RULES)[-1]) for i in range(5)]
    assert held == [False, False, False, True, True]


def test_a_new_shop_with_an_established_customer_is_not_a_groups_own() -> None:
    s = Stream()
    _own_shop(s, 5, outsider=True)
    decided = hits(s.events())
    fired: list[Any] = [_fired(decided, f"g{i}", SHOP_RULES)[-1] for i in range(5)]
    assert all("young_payer_of_young_shop" not in f for f in fired)


def test_a_circle_of_six_young_accounts_is_held_and_of_three_is_not() -> None:
    s = Stream()
    for i in range(8):
        _open(s, T0 + i * 600, f"c{i}", 60 + i)
    t = T0 + 3 * DAY
    for i in range(1, 8):  # c0 trades with seven fresh accounts of its group
        _send(s, t + i * HOUR, f"c{i}", "c0", 100.0 + i, 60 + i)
    _send(s, t + 9 * HOUR, "c0", "c1", 90.0, 60)
    # A new customer who joined with three friends pays one of them back.
    for i in range(4):
        _open(s, T0 + DAY + i * 600, f"f{i}", 80 + i)
    for i in range(1, 4):
        _send(s, t + i * HOUR, f"f{i}", "f0", 50.0, 80 + i)
    _send(s, t + 9 * HOUR, "f0", "f1", 40.0, 80)
    decided = hits(s.events())
    assert "circle_of_many_young_accounts" in _fired(decided, "c0", SHOP_RULES)[-1]
    assert "circle_of_many_young_accounts" not in _fired(decided, "f0", SHOP_RULES)[-1]


def test_a_first_trade_into_a_group_of_six_is_held_a_friends_circle_is_not() -> None:
    s = Stream()
    for i in range(7):
        _open(s, T0 + i * 600, f"m{i}", 100 + i)
    for i in range(4):
        _open(s, T0 + DAY + i * 600, f"p{i}", 120 + i)
    t = T0 + 3 * DAY
    for i in range(1, 6):  # five members of the group trade with m0
        _send(s, t + i * HOUR, f"m{i}", "m0", 150.0 + i, 100 + i)
    for i in range(1, 4):  # three friends who joined lately pay p0
        _send(s, t + i * HOUR, f"p{i}", "p0", 30.0 + i, 120 + i)
    _send(s, t + 8 * HOUR, "m6", "m0", 120.0, 106)  # the newcomer's first trade
    _open(s, T0 + 2 * DAY, "newfriend", 130)
    _send(s, t + 8 * HOUR, "newfriend", "p0", 25.0, 130)
    decided = hits(s.events())
    rule = {"transfer_into_young_circle"}
    assert _fired(decided, "m6", rule)[-1] == rule
    assert _fired(decided, "newfriend", rule)[-1] == set()
