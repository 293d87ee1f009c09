"""``cash_out_account_acts``: a cash-out ring account is held between the loop's payments,
and the honest customers of the same shop, and a new shop's first fresh customers, are not."""

from __future__ import annotations

from tests.rules.test_chains_and_circles import _at, _open, _pay
from tests.rules.test_slow_farms_and_hubs import hits
from tests.rules.test_world_facts import DAY, HOUR, T0, Stream

RULE = "cash_out_account_acts"


def test_a_ring_account_is_challenged_after_its_ring_payment_and_honest_customers_are_not() -> None:
    s = Stream()
    ring = [f"ring{k}" for k in range(5)]
    for k, user in enumerate(ring):
        _open(s, T0 + k * 600, user, k)
    # Established customers (opened before the history) buy small things at the shop.
    for k in range(3):
        _pay(s, T0 + 2 * HOUR + k * 60, f"cust{k}", "ringshop", 68.0 + k, 50 + k)
    t = T0 + DAY
    for k, user in enumerate(ring):  # near-cap purchases by the fresh accounts
        _pay(s, t + k * HOUR, user, "ringshop", 4980.0, k)
    later = t + 10 * HOUR
    for k, user in enumerate(ring):  # cover: a login and a small purchase elsewhere
        s.add(later + k * 60, "login", user, **_at(user, k))
        _pay(s, later + k * 60 + 30, user, f"cafe{k}", 32.5, k)
    # An established customer pays the shop a large sum too, then buys a coffee.
    _pay(s, later + HOUR, "cust0", "ringshop", 1800.0, 50)
    _pay(s, later + 2 * HOUR, "cust0", "cafe0", 30.0, 50)
    # Eight days after its ring payment, ring4 buys a coffee: the mark is gone.
    _pay(s, t + 4 * HOUR + 8 * DAY, "ring4", "cafe9", 20.0, 4)
    decided = hits(s.events())
    fired = {(e.user_id, e.type.value, e.merchant_id) for e, _, names in decided if RULE in names}
    # The first three ring payments met a shop with fewer than three young large payers.
    for k in (0, 1, 2):
        assert (f"ring{k}", "payment", "ringshop") not in fired
        assert (f"ring{k}", "login", None) not in fired
        assert (f"ring{k}", "payment", f"cafe{k}") not in fired
    # The fourth and fifth paid it when three fresh accounts already had: marked, held later.
    for k in (3, 4):
        assert (f"ring{k}", "login", None) in fired
        assert (f"ring{k}", "payment", f"cafe{k}") in fired
    assert ("ring4", "payment", "cafe9") not in fired
    assert not any(u.startswith("cust") for u, _, _ in fired)


def test_a_new_shops_fresh_customers_among_established_ones_are_not_marked() -> None:
    # Five fresh customers among seven established ones: the last two meet three young
    # large payers, but not half of the shop's.
    s = Stream()
    fresh = [f"new{k}" for k in range(5)]
    for k, user in enumerate(fresh):
        _open(s, T0 + k * 600, user, 10 + k)
    t = T0 + DAY
    for k in range(7):  # the shop's large sales are mostly to established customers
        _pay(s, t + k * 600, f"old{k}", "furniture", 2400.0, 60 + k)
    for k, user in enumerate(fresh):
        _pay(s, t + HOUR + k * 600, user, "furniture", 1900.0, 10 + k)
        _pay(s, t + 3 * HOUR + k * 600, user, "grocer", 45.0, 10 + k)
    assert not any(RULE in names for _, _, names in hits(s.events()))


def test_a_purchase_paid_back_minus_a_fee_marks_the_account_and_a_shared_bill_does_not() -> None:
    s = Stream()
    for k, user in enumerate(("mule", "friend", "worker")):
        _open(s, T0 + k * 600, user, 30 + k)
    t = T0 + DAY
    for k, user in enumerate(("mule", "friend", "worker")):
        _pay(s, t + k * 60, user, f"shop{k}", 3000.0, 30 + k)
    back = t + 5 * HOUR
    # The ring's owner (established) returns the purchase, 6 % kept; a friend pays half
    # the bill; an employer reimburses the whole sum.
    for k, (user, amount) in enumerate((("mule", 2820.0), ("friend", 1500.0), ("worker", 3000.0))):
        s.add(
            back + k * 60,
            "transfer",
            f"payer{k}",
            amount=f"{amount:.2f}",
            counterparty={"account_id": user},
            **_at(f"payer{k}", 70 + k),
        )
    for k, user in enumerate(("mule", "friend", "worker")):
        s.add(back + HOUR + k * 60, "login", user, **_at(user, 30 + k))
    decided = hits(s.events())
    fired = {(e.user_id, e.type.value) for e, _, names in decided if RULE in names}
    repays = [e.user_id for e, _, names in decided if "transfer_repays_young_purchase" in names]
    assert repays == ["payer0"]
    assert ("mule", "login") in fired
    assert ("friend", "login") not in fired and ("worker", "login") not in fired
