"""Keyed tokenisation of sensitive identifiers at the edge.

Phone numbers, ID numbers and bank cards are replaced by ``tk_<kind>_<hmac>`` before an
event is stored, logged or measured. Equal inputs give equal tokens under one secret, so
counting and equality still work; without the secret a token cannot be reversed or
recomputed from a guess.

>>> t = Tokenizer(b"k" * 32)
>>> t.token("phone", "+86 139-1234-5678") == t.token("phone", "13912345678")
True
"""

from __future__ import annotations

import hashlib
import hmac
import re

from fengkong.events.models import Counterparty, Event

TOKEN_PREFIX = "tk_"
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")
_NON_DIGIT = re.compile(r"\D")


def normalise_phone(value: str) -> str:
    """Digits only, without the 0086 / +86 country prefix."""
    digits = _NON_DIGIT.sub("", value)
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def normalise_account(value: str) -> str:
    """Card, account and ID numbers: letters and digits, upper case, no separators."""
    return _NON_ALNUM.sub("", value).upper()


def is_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX)


class Tokenizer:
    """Replaces sensitive identifiers with keyed HMAC-SHA256 tokens."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the tokenisation secret must be at least 16 bytes")
        self._secret = secret

    def token(self, kind: str, value: str) -> str:
        """The token of ``value`` as an identifier of ``kind`` (phone, id_number, bank_card)."""
        if is_token(value):
            return value
        clean = normalise_phone(value) if kind == "phone" else normalise_account(value)
        digest = hmac.new(self._secret, f"{kind}:{clean}".encode(), hashlib.sha256)
        return f"{TOKEN_PREFIX}{kind}_{digest.hexdigest()[:24]}"

    def tokenize(self, event: Event) -> Event:
        """A copy of ``event`` with every sensitive identifier tokenised."""
        update: dict[str, object] = {}
        if event.phone is not None:
            update["phone"] = self.token("phone", event.phone)
        if event.id_number is not None:
            update["id_number"] = self.token("id_number", event.id_number)
        if event.bank_card is not None:
            update["bank_card"] = self.token("bank_card", event.bank_card)
        cp = event.counterparty
        if cp is not None and cp.bank_card is not None:
            update["counterparty"] = Counterparty(
                account_id=cp.account_id,
                bank_card=self.token("bank_card", cp.bank_card),
                name=cp.name,
            )
        if not update:
            return event
        return event.model_copy(update=update)
