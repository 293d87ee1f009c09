"""Leads for the police: a ring case with the evidence chain's proof for each account.

A lead (``fengkong-lead/1``) is one ring from ``fengkong graph mine`` (its accounts,
shared identifiers, money flows, timeline and score) and, for each of its accounts,
the audit evidence bundle (``fengkong-evidence/1``: the chain entries about it with
their RFC 6962 inclusion proofs under a signed checkpoint, and the records they cover).
The whole is canonical JSON signed by the member's Ed25519 key, so the recipient can
check who sent it, that nothing was changed, and that each record was in the chain the
member published — without access to the member's database.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fengkong.audit.canonical import canonical
from fengkong.audit.verify_bundle import BundleInvalid
from fengkong.audit.verify_bundle import verify_bundle as verify_evidence

FORMAT = "fengkong-lead/1"


class LeadInvalid(ValueError):
    """The lead does not verify; the message says where."""


def build_lead(
    ring: dict[str, Any],
    evidence: Callable[[str], dict[str, Any] | None],
    *,
    member: str,
    signing_key: Ed25519PrivateKey,
    public_key: str,
    created_at: int,
) -> bytes:
    """The signed lead of ``ring``; ``evidence(account)`` gives each account's bundle."""
    accounts = [str(m) for m in ring.get("members", [])]
    if not accounts:
        raise ValueError("the ring has no accounts")
    bundles = {}
    for account in accounts:
        bundle = evidence(account)
        if bundle is None:
            raise ValueError(f"no evidence in the chain for account {account!r}")
        bundles[account] = bundle
    body = {
        "format": FORMAT,
        "member": member,
        "public_key": public_key,
        "created_at": created_at,
        "ring": ring,
        "evidence": bundles,
    }
    data = canonical(body)
    signature = base64.b64encode(signing_key.sign(data)).decode()
    return canonical({"lead": body, "signature": signature})


def verify_lead(raw: bytes, member_key: str, audit_key: str | None = None) -> dict[str, Any]:
    """Check the lead's signature (``member_key``: base64 Ed25519) and every evidence bundle.

    ``audit_key`` is the member's published checkpoint key; without it each bundle is
    checked against the key it carries. Returns a summary; raises :class:`LeadInvalid`.
    """
    try:
        doc = orjson.loads(raw)
        body, signature = doc["lead"], base64.b64decode(doc["signature"], validate=True)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise LeadInvalid("not a fengkong-lead/1 file") from None
    if canonical(doc) != raw.strip() or body.get("format") != FORMAT:
        raise LeadInvalid("not canonical fengkong-lead/1 JSON")
    if body.get("public_key") != member_key:
        raise LeadInvalid("signed with another key than the member's")
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(member_key))
        public.verify(signature, canonical(body))
    except (InvalidSignature, ValueError):
        raise LeadInvalid("bad signature") from None
    accounts = [str(m) for m in body["ring"].get("members", [])]
    entries = 0
    for account in accounts:
        bundle = body["evidence"].get(account)
        if bundle is None or bundle.get("user") != account:
            raise LeadInvalid(f"no evidence for account {account!r}")
        try:
            summary = verify_evidence(canonical(bundle), audit_key)
        except BundleInvalid as exc:
            raise LeadInvalid(f"evidence of {account!r}: {exc}") from None
        entries += int(summary.get("entries", len(bundle.get("items", []))))
    return {
        "member": body["member"],
        "ring": body["ring"].get("ring_id"),
        "accounts": len(accounts),
        "entries": entries,
    }
