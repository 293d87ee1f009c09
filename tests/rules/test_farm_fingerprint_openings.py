"""Default-pack rule on a fingerprint's registration share: a farm phone resetting its
device id for every account it opens, on a crafted stream, with the honest look-alikes:
a popular model's sign-up rush, and a customer who owns the farm's model."""

from __future__ import annotations

from typing import Any

from tests.rules.test_shared_cards_and_documents import _image
from tests.rules.test_slow_farms_and_hubs import hits
from tests.rules.test_world_facts import DAY, HOUR, T0, Stream, phone

RULES = {"reg_fingerprint_mostly_new_accounts", "opened_on_farm"}
CHEAP = {"model": "OPPO A5", "canvas": "c-oppoa5-81"}


def _open(s: Stream, ts: float, user: str, device: dict[str, Any], i: int) -> None:
    """Register, upload the ID card and bind a card, minutes apart, like any new customer,
    each account through its own address (a farm buys a proxy per account)."""
    ip = f"113.{40 + i % 50}.{i % 250}.21"
    doc = {"kind": "id_card", "image_b64": _image(1000 + i)}
    s.add(ts, "register", user, device=device, ip=ip, phone=f"1370{i:07d}")
    s.add(ts + 90, "document_upload", user, device=device, ip=ip, document=doc)
    card = {"operation": "bind_card", "bank_card": f"62220200{i:011d}"}
    s.add(ts + 200, "account_change", user, device=device, ip=ip, **card)


def _customers(s: Stream) -> None:
    """Two days of 300 established customers on a popular phone and four who own the
    cheap model, logging in now and then."""
    for h in range(0, 48, 3):
        for i in range(h % 2, 300, 2):
            s.add(T0 + h * HOUR + i, "login", f"c{i}", device=phone(f"pop-{i:06d}"), ip="1.2.3.4")
        k = h // 3 % 4
        s.add(T0 + h * HOUR + 900, "login", f"o{k}", device=phone(f"own-{k:06d}", **CHEAP))


def _fired(decided: list[tuple[Any, str, set[str]]], user: str) -> list[tuple[str, str, set[str]]]:
    return [(e.type.value, d, names & RULES) for e, d, names in decided if e.user_id == user]


def test_a_farm_phone_resetting_its_id_is_challenged_from_the_fourth_registration() -> None:
    s = Stream()
    _customers(s)
    t = T0 + 2 * DAY
    # A customer who owns the cheap model opens an account the evening before.
    _open(s, t - 5 * HOUR, "owner", phone("own-000009", **CHEAP), 99)
    for k in range(4):  # the farm phone: a fresh device id and proxy for each account
        _open(s, t + k * 1800, f"farm{k}", phone(f"reset-{k:06d}", **CHEAP), k)
    s.add(t + 6 * HOUR, "login", "owner", device=phone("own-000009", **CHEAP), ip="113.9.9.9")
    decided = hits(s.events())
    # Nothing to see yet while at most two accounts opened on it before (the owner's
    # among them); from the fourth registration on it is the farm's fingerprint.
    for k in range(2):
        assert all(names == set() for _, _, names in _fired(decided, f"farm{k}"))
    for k in range(2, 4):
        opened = _fired(decided, f"farm{k}")
        assert opened[0][:2] == ("register", "challenge")
        assert "reg_fingerprint_mostly_new_accounts" in opened[0][2]
        # The document and card minutes later carry what the registration met.
        assert [d for _, d, _ in opened[1:]] == ["challenge", "challenge"]
        assert all(names == {"opened_on_farm"} for _, _, names in opened[1:])
    # The customer opened before the burst: neither then nor later judged by it (at six
    # farm accounts within two days of its opening, opened_on_farm's live count of the
    # fingerprint's registrations would reach it: that bound is older than this rule).
    assert all(d == "allow" and not names for _, d, names in _fired(decided, "owner"))


def test_a_popular_models_sign_up_rush_is_not_a_farm() -> None:
    s = Stream()
    _customers(s)
    t = T0 + 2 * DAY
    # A promotion: 30 customers sign up in an afternoon on the popular phone.
    for k in range(30):
        _open(s, t + k * 300, f"new{k}", phone(f"popnew-{k:06d}"), 200 + k)
    decided = hits(s.events())
    for k in range(30):
        assert all(not names for _, _, names in _fired(decided, f"new{k}"))
