"""The default pack on an emulator-opened account's next steps, and on a takeover after
an old phone upgrade (a change_device announces only the phone it is made on)."""

from __future__ import annotations

from fengkong.decisions.types import Action
from tests.rules.test_slow_farms_and_hubs import hits
from tests.rules.test_world_facts import DAY, HOUR, T0, Stream, decide, phone


def _onboard(s: Stream, ts: float, user: str, dev: dict[str, object], n: int) -> None:
    ip = f"27.16.{n}.7"
    s.add(ts, "register", user, device=dev, ip=ip, phone=f"1390000{n:04d}")
    card = f"62220200000{n:05d}"
    s.add(
        ts + 120, "account_change", user, device=dev, ip=ip, operation="bind_card", bank_card=card
    )
    s.add(ts + 600, "payment", user, device=dev, ip=ip, amount="35.20", merchant_id=f"shop{n}")


def test_an_emulator_opened_account_is_challenged_when_it_acts_and_a_phone_opened_one_is_not() -> (
    None
):
    s = Stream()
    emulator = phone("0b0b0b0b0b0b0b01", "Pixel 4", "canvas-pixel4")
    emulator["fingerprint"]["is_emulator"] = True  # type: ignore[index]
    rooted = phone("0b0b0b0b0b0b0b02")
    rooted["fingerprint"]["is_rooted"] = True  # type: ignore[index]
    _onboard(s, T0, "farm1", emulator, 1)
    _onboard(s, T0 + HOUR, "cust1", phone("0b0b0b0b0b0b0b03"), 2)
    _onboard(s, T0 + 2 * HOUR, "cust2", rooted, 3)  # some customers root their phones
    decided = decide(s.events())
    farm_later = [a for e, a in decided if e.user_id == "farm1" and e.type.value != "register"]
    assert farm_later and all(a is not Action.ALLOW for a in farm_later)
    assert all(a is Action.ALLOW for e, a in decided if e.user_id.startswith("cust"))


def test_an_upgrade_announced_a_week_ago_does_not_excuse_a_takeover_on_a_third_phone() -> None:
    s = Stream()
    ip = "27.16.9.7"
    for n, user in enumerate(("u1", "u2")):
        new = phone(f"0a0a0a0a0a0a0a2{n}", "HONOR 90", "canvas-honor90")
        s.add(T0, "login", user, device=phone(f"0a0a0a0a0a0a0a1{n}"), ip=ip)
        s.add(T0 + 2 * DAY, "account_change", user, device=new, ip=ip, operation="change_device")
        s.add(T0 + 2 * DAY + 60, "login", user, device=new, ip=ip, phone=f"1380000000{n}")
    # u2 changes his password on the phone he announced: the owner, left alone.
    own = T0 + 2 * DAY + 600
    s.add(own, "account_change", "u2", device=new, ip=ip, operation="change_password")
    # A week later a thief enters u1 by SMS on his own phone and locks the owner out.
    at = T0 + 9 * DAY
    thief = phone("0a0a0a0a0a0a0a30", "Redmi K70", "canvas-k70")
    s.add(at, "login", "u1", device=thief, ip="27.16.9.8", phone="13800000000")
    lockout = {"device": thief, "ip": "27.16.9.8", "operation": "change_password"}
    s.add(at + 300, "account_change", "u1", **lockout)
    decided = {e.event_id: a for e, a in decide(s.events())}
    assert decided["e6"] is Action.ALLOW  # the owner's change on his announced phone
    assert decided["e8"] is not Action.ALLOW  # the thief's change on his SMS-entered phone


def test_an_old_upgrade_does_not_excuse_a_thiefs_emulator_nor_his_changes_away() -> None:
    """The three older takeover rules read user.device_announced too: a change_device
    made days before on the owner's new phone excuses nothing on the thief's."""
    s = Stream()
    home, away = {"lat": 39.90, "lon": 116.40}, {"lat": 30.66, "lon": 104.07}
    old, new = phone("0c0c0c0c0c0c0c01"), phone("0c0c0c0c0c0c0c02", "HONOR 90", "canvas-honor90")
    for day in range(3):
        s.add(T0 + day * DAY, "login", "u1", device=old, ip="27.16.9.7", geo=home)
    at = T0 + 3 * DAY
    s.add(
        at, "account_change", "u1", device=new, ip="27.16.9.7", geo=home, operation="change_device"
    )
    s.add(at + 60, "login", "u1", device=new, ip="27.16.9.7", geo=home)
    s.add(
        at + 600,
        "account_change",
        "u1",
        device=new,
        ip="27.16.9.7",
        geo=home,
        operation="change_password",
    )
    # A second change_device on the same phone leaves the account's last change an upgrade.
    s.add(
        at + 2 * DAY,
        "account_change",
        "u1",
        device=new,
        ip="27.16.9.7",
        geo=home,
        operation="change_device",
    )
    thief = phone("0c0c0c0c0c0c0c03", "Pixel 4", "canvas-pixel4")
    thief["fingerprint"]["is_emulator"] = True  # type: ignore[index]
    t = at + 9 * DAY
    on = {"device": thief, "ip": "171.88.3.4", "geo": away}
    s.add(t, "login", "u1", **on)
    s.add(t + 300, "account_change", "u1", operation="change_password", **on)
    decided = {e.event_id: (d, names) for e, d, names in hits(s.events())}
    owner = decided["e5"][1]  # the owner's password change on his announced phone
    assert not owner & {"credentials_changed_on_fresh_device", "sensitive_change_on_fresh_device"}
    assert "takeover_login_new_device_hidden" in decided["e7"][1]
    lockout = decided["e8"][1]
    assert {"credentials_changed_on_fresh_device", "sensitive_change_on_fresh_device"} <= lockout
