"""The lure-code collection account that empties what strangers paid by scanning its code
(`code_collector_empties_scanned_payments`), beside the honest look-alikes."""

from __future__ import annotations

from tests.rules.test_slow_farms_and_hubs import hits
from tests.rules.test_world_facts import DAY, HOUR, T0, Stream, phone

RULE = "code_collector_empties_scanned_payments"


def _paid(s: Stream, at: float, payer: str, payee: str, amount: str, scanned: bool) -> None:
    dev = phone(f"{payer}-phone-001")
    ctx = {"entry": "qr" if scanned else "home"}
    if scanned:
        code = {"payload": f"https://qr.alipay.com/fkx1{payee}"}
        s.add(at, "qr_scan", payer, device=dev, qr=code, context=ctx)
    cp = {"account_id": payee}
    s.add(at + 60, "transfer", payer, device=dev, amount=amount, context=ctx, counterparty=cp)


def _withdraw(s: Stream, at: float, user: str, amount: str) -> None:
    card = f"62220000000{sum(map(ord, user)):05d}"
    s.add(at, "withdrawal", user, device=phone(f"{user}-phone-001"), amount=amount, bank_card=card)


def test_a_code_paid_by_strangers_then_emptied_is_reviewed_and_look_alikes_are_not() -> None:
    s = Stream()
    # The lure's collector: two victims scan its code on two days, then it empties.
    _paid(s, T0 + 10 * HOUR, "victim1", "collector", "1800", scanned=True)
    _paid(s, T0 + DAY + 15 * HOUR, "victim2", "collector", "950", scanned=True)
    _withdraw(s, T0 + 2 * DAY, "collector", "2750")
    # Paid back by two friends, only one by scanning the code: no collecting code.
    _paid(s, T0 + 11 * HOUR, "pal1", "host", "1400", scanned=True)
    _paid(s, T0 + 12 * HOUR, "pal2", "host", "1400", scanned=False)
    _withdraw(s, T0 + 2 * DAY, "host", "2800")
    # A group-buy organiser: three scan her code, but she spends from the account.
    for i in range(3):
        _paid(s, T0 + (9 + i) * HOUR, f"buyer{i}", "organiser", "600", scanned=True)
    shop = {"device": phone("organiser-phone-001"), "merchant_id": "m-wholesale"}
    s.add(T0 + DAY, "payment", "organiser", amount="300", **shop)
    _withdraw(s, T0 + 2 * DAY, "organiser", "1500")
    out = {e.user_id: (d, names) for e, d, names in hits(s.events()) if e.type == "withdrawal"}
    decision, names = out["collector"]
    assert RULE in names and decision in ("review", "block")
    assert RULE not in out["host"][1]
    assert RULE not in out["organiser"][1]
