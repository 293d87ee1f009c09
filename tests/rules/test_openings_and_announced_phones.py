"""The default pack on an emulator-opened account's next steps, and on a takeover after
an old phone upgrade (a change_device announces only the phone it is made on)."""

from __future__ import annotations

from fengkong.decisions.types import Action
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
