"""Default-pack rules for farm phones that open each account through another network
(a proxy per account), on a crafted stream, with the honest look-alike: a family
opening its accounts on the home tablet through the home line."""

from __future__ import annotations

from tests.rules.test_slow_farms_and_hubs import hits
from tests.rules.test_world_facts import HOUR, T0, Stream, phone


def _open(s: Stream, ts: float, user: str, device_id: str, ip: str) -> None:
    """Register, log in and bind a card, minutes apart, like any new customer."""
    number = f"1370{sum(map(ord, user)):07d}"
    s.add(ts, "register", user, device=phone(device_id), ip=ip, phone=number)
    s.add(ts + 120, "login", user, device=phone(device_id), ip=ip)
    s.add(ts + 240, "account_change", user, device=phone(device_id), ip=ip, operation="bind_card")


def test_a_phone_opening_a_second_account_through_another_network_is_challenged() -> None:
    s = Stream()
    # A farm phone: two accounts a day apart, each through its own proxy exit.
    _open(s, T0, "farm0", "farm-phone-000001", "113.40.7.21")
    _open(s, T0 + 26 * HOUR, "farm1", "farm-phone-000001", "61.52.190.4")
    # A family tablet: two members sign up the same evening through the home line.
    _open(s, T0 + 2 * HOUR, "mum", "family-tablet-0001", "114.93.12.77")
    _open(s, T0 + 3 * HOUR, "dad", "family-tablet-0001", "114.93.12.77")
    s.add(T0 + 30 * HOUR, "login", "farm0", device=phone("farm-phone-000001"), ip="113.40.7.21")
    s.add(T0 + 30 * HOUR, "login", "mum", device=phone("family-tablet-0001"), ip="114.93.12.77")
    decided = [(e.user_id, e.type, d, names) for e, d, names in hits(s.events())]
    farm1 = [(t, d, names) for u, t, d, names in decided if u == "farm1"]
    assert farm1[0][0] == "register" and farm1[0][1] == "challenge"
    assert "reg_device_second_network" in farm1[0][2]
    assert all(d == "challenge" and "opened_on_farm" in names for _, d, names in farm1[1:])
    # The first account is seen as a farm account once the second one opened.
    farm0 = [(t, d, names) for u, t, d, names in decided if u == "farm0"]
    assert all(d == "allow" for t, d, _ in farm0 if t != "login")
    assert farm0[-1][1] == "challenge" and "opened_on_farm" in farm0[-1][2]
    family = [(d, names) for u, _, d, names in decided if u in ("mum", "dad")]
    assert all(d == "allow" for d, _ in family)
    assert all("reg_device_second_network" not in names for _, names in family)
