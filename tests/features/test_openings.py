"""Opening links: cards and first-day documents young accounts share; device filings."""

from __future__ import annotations

from typing import Any

from fengkong.events import Event, parse_event
from fengkong.features.openings import OpeningLinks
from tests.rules.test_world_facts import DAY, HOUR, T0, iso


def _ev(ts: float, etype: str, user: str, **fields: Any) -> Event:
    row = {"event_id": f"e{ts}{user}", "type": etype, "user_id": user, "occurred_at": iso(ts)}
    return parse_event({**row, **fields})


def _doc(key: str) -> dict[str, str]:
    return {"kind": "id_card", "image_b64": "iVBORw0KGgo" + key}


def test_cards_and_first_day_documents_link_young_accounts_read_now() -> None:
    links = OpeningLinks()
    for i, user in enumerate(("a", "b")):
        t = T0 + i * HOUR
        links.see(_ev(t, "register", user), None)
        links.see(_ev(t + 60, "document_upload", user, document=_doc("same")), None)
        bind = {"operation": "bind_card", "bank_card": "6222000011112222"}
        links.see(_ev(t + 120, "account_change", user, **bind), None)
    later = links.read(_ev(T0 + DAY, "login", "a"), None)
    assert later["user.opening_card_accounts_30d"] == 2
    assert later["user.opening_document_accounts_30d"] == 2
    # The card's other accounts, on an event with it: the drawer's own use is not another's.
    draw = {"amount": "900", "bank_card": "6222000011112222"}
    assert (
        links.read(_ev(T0 + DAY, "credit_draw", "a", **draw), None)["bank_card.other_accounts_30d"]
        == 1
    )
    own = {"amount": "900", "bank_card": "6222000099990000"}
    links.see(_ev(T0 + DAY, "credit_draw", "z", **own), None)
    bind = {"operation": "bind_card", "bank_card": "6222000099990000"}
    assert (
        links.read(_ev(T0 + DAY + 60, "account_change", "z", **bind), None)[
            "bank_card.other_accounts_30d"
        ]
        == 0
    )
    # An account opened before the history has no opening to read.
    assert links.read(_ev(T0 + DAY, "login", "old"), None)["user.opening_card_accounts_30d"] is None
    # A document uploaded days after opening is no opening document.
    links.see(_ev(T0 + 3 * DAY, "register", "c"), None)
    links.see(_ev(T0 + 5 * DAY, "document_upload", "c", document=_doc("same")), None)
    assert (
        links.read(_ev(T0 + 6 * DAY, "login", "c"), None)["user.opening_document_accounts_30d"]
        is None
    )
    # Thirty days on, the links have faded.
    assert links.read(_ev(T0 + 31 * DAY, "login", "a"), None)["user.opening_card_accounts_30d"] == 0


def test_device_filings_count_other_established_accounts_only() -> None:
    links = OpeningLinks()
    change = {"operation": "change_password"}
    links.see(_ev(T0, "account_change", "owner", **change), "dk_phone")
    # The owner's own paperwork is not someone else's.
    assert links.read(_ev(T0 + 60, "login", "owner"), "dk_phone")["device.filing_accounts_30d"] == 0
    assert links.read(_ev(T0 + 60, "login", "guest"), "dk_phone")["device.filing_accounts_30d"] == 1
    # A registration's own documents on a shared tablet are not filings for others.
    links.see(_ev(T0 + HOUR, "register", "newbie"), "dk_phone")
    links.see(_ev(T0 + HOUR + 60, "document_upload", "newbie", document=_doc("x")), "dk_phone")
    assert (
        links.read(_ev(T0 + 2 * HOUR, "login", "guest"), "dk_phone")["device.filing_accounts_30d"]
        == 1
    )
    assert (
        links.read(_ev(T0 + 2 * HOUR, "login", "web"), None)["device.filing_accounts_30d"] is None
    )
