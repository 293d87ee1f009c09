"""The identities members share, in one canonical form so two members hash alike.

Kinds: ``device`` (the app's device id), ``fingerprint`` (the fingerprint cluster key),
``phone`` (E.164), ``id_number`` (upper case, no separators), ``bank_card`` (digits),
``payee`` (a counterparty account id) and ``merchant``. Phone, ID and card numbers
reach the pipeline as member-keyed tokens; their canonical values are taken at the
edge (:mod:`.vault`), the others are read from the event itself.

>>> canonical("phone", "+86 139-1234-5678") == canonical("phone", "13912345678")
True
>>> canonical("id_number", "11010519491231002x")
'11010519491231002X'
"""

from __future__ import annotations

import re

from fengkong.events import Event
from fengkong.events.tokens import is_token, normalise_account, normalise_phone
from fengkong.identity.device import usable_device_id
from fengkong.identity.fingerprints import fingerprint_cluster

KINDS: tuple[str, ...] = (
    "device",
    "fingerprint",
    "phone",
    "id_number",
    "bank_card",
    "payee",
    "merchant",
)
# Kinds whose raw value the edge tokenises (their canonical form comes from the vault).
TOKENISED: dict[str, str] = {"phone": "phone", "id_number": "id_number", "bank_card": "bank_card"}
_DIGITS = re.compile(r"\D")


def canonical(kind: str, value: str) -> str:
    """The one spelling of ``value`` every member hashes (raises ``ValueError`` on a bad kind)."""
    if kind == "phone":
        return _e164(value)
    if kind in ("id_number", "payee"):
        return normalise_account(value)
    if kind == "bank_card":
        return _DIGITS.sub("", value)
    if kind == "device":
        return value.strip().lower()
    if kind in ("fingerprint", "merchant"):
        return value.strip()
    raise ValueError(f"unknown entity kind {kind!r}; kinds are {', '.join(KINDS)}")


def _e164(value: str) -> str:
    """E.164: ``+`` and the digits; a Chinese national number gets ``+86``."""
    text = value.strip()
    national = normalise_phone(text)
    if len(national) == 11 and national.startswith("1"):
        return "+86" + national
    digits = _DIGITS.sub("", text)
    if text.startswith("00"):
        digits = digits[2:]
    return "+" + digits


def clear_entities(event: Event) -> list[tuple[str, str]]:
    """``(kind, canonical value)`` of the identities an event carries in clear."""
    out: list[tuple[str, str]] = []
    device = event.device
    if device is not None:
        own = usable_device_id(device.device_id)
        if own is not None:
            out.append(("device", canonical("device", own)))
        cluster = fingerprint_cluster(device)
        if cluster is not None:
            out.append(("fingerprint", cluster))
    if event.merchant_id:
        out.append(("merchant", canonical("merchant", event.merchant_id)))
    cp = event.counterparty
    if cp is not None and cp.account_id:
        out.append(("payee", canonical("payee", cp.account_id)))
    return out


def token_entities(event: Event) -> list[tuple[str, str]]:
    """``(kind, token)`` of the tokenised identities of an event (phone, ID, cards)."""
    out: list[tuple[str, str]] = []
    for kind, value in (
        ("phone", event.phone),
        ("id_number", event.id_number),
        ("bank_card", event.bank_card),
    ):
        if value is not None and is_token(value):
            out.append((kind, value))
    cp = event.counterparty
    if cp is not None and cp.bank_card is not None and is_token(cp.bank_card):
        out.append(("bank_card", cp.bank_card))
    return out
