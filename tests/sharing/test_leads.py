"""A police lead: a ring with each account's chain evidence, signed; any change refused."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from fengkong.audit.checkpoint import load_signer
from fengkong.audit.trail import AuditTrail
from fengkong.runtime import Runtime
from fengkong.sharing.keys import load_signing_key, public_key_text
from fengkong.sharing.leads import LeadInvalid, build_lead, verify_lead
from fengkong.storage.sql import open_db


def _ring_lead(runtime: Runtime, tmp_path: Path) -> tuple[bytes, str, str]:
    for n, user in enumerate(["u-1", "u-2", "u-3"]):
        runtime.engine.decide(
            {
                "event_id": f"e-{n}",
                "type": "register",
                "user_id": user,
                "occurred_at": "2026-11-20T10:00:00+08:00",
                "device": {"device_id": "ring-device-1"},
            }
        )
    signer = load_signer(tmp_path / "audit.key", "test.local/audit")
    trail = AuditTrail(open_db(runtime.settings.db_path), signer)
    key = load_signing_key(tmp_path / "member.key")
    ring = {"ring_id": "r-1", "kind": "community", "score": 0.9, "members": ["u-1", "u-2", "u-3"]}
    try:
        blob = build_lead(
            ring,
            trail.export,
            member="bank-a",
            signing_key=key,
            public_key=public_key_text(key),
            created_at=1_795_000_000,
        )
    finally:
        trail.close()
    return blob, public_key_text(key), signer.verifier.encode()


def test_a_lead_verifies_offline(runtime: Runtime, tmp_path: Path) -> None:
    blob, member_key, audit_key = _ring_lead(runtime, tmp_path)
    summary = verify_lead(blob, member_key, audit_key)
    assert summary == {"member": "bank-a", "ring": "r-1", "accounts": 3, "entries": 6}


def test_a_changed_lead_is_refused(runtime: Runtime, tmp_path: Path) -> None:
    blob, member_key, audit_key = _ring_lead(runtime, tmp_path)
    doc = orjson.loads(blob)
    doc["lead"]["ring"]["members"].append("u-9")
    with pytest.raises(LeadInvalid):
        verify_lead(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS), member_key, audit_key)
    for at in (100, len(blob) // 2, len(blob) - 100):
        changed = blob[:at] + bytes([blob[at] ^ 0x02]) + blob[at + 1 :]
        with pytest.raises(LeadInvalid):
            verify_lead(changed, member_key, audit_key)
    other = public_key_text(load_signing_key(tmp_path / "other.key"))
    with pytest.raises(LeadInvalid, match="another key"):
        verify_lead(blob, other, audit_key)
