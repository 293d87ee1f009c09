"""Default-pack rules for farms that share bank cards and document photos across the
accounts they open (on popular phones with reset device ids, from scattered addresses),
each on a crafted stream with the honest look-alike."""

from __future__ import annotations

import base64

from tests.rules.test_slow_farms_and_hubs import hits
from tests.rules.test_world_facts import DAY, HOUR, T0, Stream, phone

SHARED = {"opened_with_shared_card_or_document", "opened_with_shared_card_money"}


def _image(key: int) -> str:
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + key.to_bytes(8, "big") * 6).decode()


def _open(s: Stream, ts: float, user: str, i: int, card: str, doc: int) -> None:
    """Register, upload the ID card photo, bind the card: one popular phone model, a
    fresh device id and a different residential address every time."""
    dev = phone(f"fresh-{user}")
    ip = f"114.{30 + i}.{i * 11 % 256}.{7 + i}"
    s.add(ts, "register", user, device=dev, ip=ip, phone=f"1390000{i:04d}")
    image = {"kind": "id_card", "image_b64": _image(doc)}
    s.add(ts + 60, "document_upload", user, device=dev, ip=ip, document=image)
    bind = {"operation": "bind_card", "bank_card": card}
    s.add(ts + 120, "account_change", user, device=dev, ip=ip, **bind)


def _later(s: Stream, ts: float, user: str, i: int, card: str) -> None:
    dev = phone(f"fresh-{user}")
    ip = f"114.{30 + i}.{i * 11 % 256}.{7 + i}"
    s.add(ts, "login", user, device=dev, ip=ip)
    s.add(ts + 60, "payment", user, device=dev, ip=ip, amount="38.50", merchant_id="m-shop")
    s.add(ts + 120, "credit_draw", user, device=dev, ip=ip, amount="4800", bank_card=card)


def _by_user(s: Stream) -> dict[str, list[tuple[str, str, set[str]]]]:
    out: dict[str, list[tuple[str, str, set[str]]]] = {}
    for e, d, names in hits(s.events()):
        out.setdefault(e.user_id, []).append((e.type.value, d, names))
    return out


def test_a_farm_binding_three_cards_to_twelve_accounts_is_caught_honest_openers_are_not() -> None:
    s = Stream()
    cards = ["6222020000000001", "6222020000000002", "6222020000000003"]
    for i in range(12):  # over two days, one card for four accounts, fresh documents
        _open(s, T0 + i * 4 * HOUR, f"farm{i}", i, cards[i % 3], 100 + i)
        _later(s, T0 + 3 * DAY + i * HOUR, f"farm{i}", i, cards[i % 3])
    for i in range(12):  # honest newcomers: their own card, their own ID photo
        _open(s, T0 + i * 4 * HOUR + 900, f"new{i}", 50 + i, f"62170000000{i:05d}", 500 + i)
        _later(s, T0 + 3 * DAY + i * HOUR + 900, f"new{i}", 50 + i, f"62170000000{i:05d}")
    for k in range(3):  # the shop everyone pays has established customers too
        dev, ip = phone(f"regular-{k}"), f"116.{20 + k}.8.{30 + k}"
        at = T0 + 2 * DAY + k * HOUR
        s.add(at, "payment", f"regular{k}", device=dev, ip=ip, amount="12", merchant_id="m-shop")
    by_user = _by_user(s)
    for i in range(12):
        farm = by_user[f"farm{i}"]
        later = farm[3:]
        assert all(d != "allow" and names & SHARED for _, d, names in later), farm
        draw = farm[-1]
        assert draw[0] == "credit_draw" and draw[1] in ("review", "block")
        if i >= 3:  # the card was bound before: the bind itself is challenged
            assert "bind_card_of_other_account" in farm[2][2]
        assert all(d == "allow" for _, d, _ in by_user[f"new{i}"]), by_user[f"new{i}"]


def test_one_id_photo_behind_many_openings_is_caught_and_an_agencys_old_customers_are_not() -> None:
    s = Stream()
    for i in range(6):  # one template ID photo, a fresh card each
        _open(s, T0 + i * 6 * HOUR, f"farm{i}", i, f"62220300000{i:05d}", 7)
        _later(s, T0 + 2 * DAY + i * HOUR, f"farm{i}", i, f"62220300000{i:05d}")
    for i in range(6):  # established customers (opened before the history) send one
        # certificate photo through the same agency: not an opening document
        dev = phone(f"own-{i}")
        image = {"kind": "certificate", "image_b64": _image(900)}
        s.add(
            T0 + i * HOUR,
            "document_upload",
            f"old{i}",
            **{"device": dev, "ip": "101.6.1.1", "document": image},
        )
        s.add(T0 + DAY + i * HOUR, "payment", f"old{i}", device=dev, ip="101.6.1.1", amount="60")
    by_user = _by_user(s)
    for i in range(1, 6):
        assert all(names & SHARED for _, _, names in by_user[f"farm{i}"][3:])
    assert "opened_with_shared_card_or_document" in by_user["farm0"][3][2]  # now linked
    for i in range(6):
        assert not any(names & SHARED for _, _, names in by_user[f"old{i}"])


AGENT = {"agent_device_takes_new_customer", "agent_device_files_for_another"}


def _visit(
    s: Stream, ts: float, user: str, dev: dict[str, object], ip: str, image: int, number: str
) -> None:
    s.add(ts, "login", user, device=dev, ip=ip)
    upload = {"kind": "certificate", "image_b64": _image(image)}
    s.add(ts + 300, "document_upload", user, device=dev, ip=ip, document=upload)
    change = {"operation": "change_phone", "phone": number}
    s.add(ts + 600, "account_change", user, device=dev, ip=ip, **change)


def test_an_agency_phone_filing_for_one_customer_after_another_is_challenged() -> None:
    s = Stream()
    agency = phone("agency-phone-0001", "Redmi Note 12", "c-redmi-note12-14")
    for i in range(6):  # a customer from another city every few hours, over two days
        _visit(s, T0 + i * 7 * HOUR, f"cust{i}", agency, "27.19.206.85", 40 + i, "13811112222")
    # A family tablet: the mother uploads a document, the son signs in and buys a game.
    tablet = phone("family-tablet-0007", "HUAWEI MatePad", "c-matepad-4")
    s.add(T0, "login", "mother", device=tablet, ip="183.14.2.9")
    upload = {"kind": "id_card", "image_b64": _image(77)}
    s.add(T0 + 60, "document_upload", "mother", device=tablet, ip="183.14.2.9", document=upload)
    s.add(T0 + DAY, "login", "son", device=tablet, ip="183.14.2.9")
    s.add(T0 + DAY + 60, "payment", "son", device=tablet, ip="183.14.2.9", amount="30")
    # A user on their new phone files their own documents and changes their phone.
    _visit(s, T0 + 2 * HOUR, "upgrader", phone("new-phone-0042"), "183.14.7.7", 99, "13955556666")
    for user in [*(f"cust{i}" for i in range(6)), "mother", "son", "upgrader"]:
        s.add(T0 - DAY, "login", user, device=phone(f"own-{user}"), ip="120.229.1.1")
    by_user = {u: rows[1:] for u, rows in _by_user(s).items()}  # the days before: none
    assert not any(names & AGENT for _, _, names in by_user["cust0"])  # nothing known yet
    # The second customer's login comes after one other customer's paperwork: allowed;
    # what the agency files for them is not.
    assert all(d != "allow" and names & AGENT for _, d, names in by_user["cust1"][1:])
    for i in range(2, 6):
        assert all(d != "allow" and names & AGENT for _, d, names in by_user[f"cust{i}"])
    for user in ("mother", "son", "upgrader"):
        assert all(d == "allow" for _, d, _ in by_user[user]), by_user[user]
