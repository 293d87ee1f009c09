"""The sharing half of the runtime: a member's keys, export, import, PSI and leads.

Both ``fengkong share ...`` and the ``/v1/share`` routes work through these functions,
so a bundle exported, imported or checked either way is the same.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fengkong.events import Event
from fengkong.runtime import AnyStore, audit_db, consortium_keys, open_store
from fengkong.runtime_keys import field_protector
from fengkong.settings import Settings
from fengkong.sharing.bundle import Bundle, BundleError, sign_bundle, verify_bundle
from fengkong.sharing.export import ExportReport, build_entries, collect, fraud_targets
from fengkong.sharing.keys import (
    ConsortiumKeys,
    MemberDirectory,
    ShareKeyError,
    key_id_of,
    load_signing_key,
    public_key_text,
)
from fengkong.storage.sharing_sqlite import ImportRefused, SharingStore

log = logging.getLogger(__name__)


class SharingNotConfigured(ValueError):
    """A sharing command without the settings it needs (the message names them)."""


@dataclass
class Member:
    """This member: its id, signing key and the consortium keys."""

    member: str
    signing_key: Ed25519PrivateKey
    keys: ConsortiumKeys

    @property
    def public_key(self) -> str:
        return public_key_text(self.signing_key)

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_key)


def member_key_path(settings: Settings) -> Path:
    return settings.sharing.member_key_path or Path(f"{settings.db_path}.share-key")


def open_member(settings: Settings, *, need_keys: bool = True) -> Member:
    s = settings.sharing
    if s.member is None:
        raise SharingNotConfigured("set sharing.member (this member's id in the consortium)")
    keys = consortium_keys(settings)
    if need_keys and keys.current is None:
        raise SharingNotConfigured(
            "set sharing.consortium_keys (and sharing.export_key_id when there are several)"
        )
    return Member(s.member, load_signing_key(member_key_path(settings)), keys)


def open_directory(settings: Settings) -> MemberDirectory:
    if settings.sharing.members_path is None:
        raise SharingNotConfigured("set sharing.members_path (the members' public keys)")
    return MemberDirectory.load(settings.sharing.members_path)


def _stored_events(store: AnyStore) -> Iterator[Event]:
    for body in store.events():
        try:
            yield Event.model_validate_json(body)
        except ValueError:  # an event an older, laxer version accepted: skipped
            continue


def export(settings: Settings, *, now: float | None = None) -> tuple[bytes, ExportReport]:
    """The member's signed bundle of its confirmed-fraud identities, and what it holds."""
    member = open_member(settings)
    at = time.time() if now is None else now
    store = open_store(settings, field_protector(settings))
    vault = SharingStore(settings.shared_db())
    try:
        users, events = fraud_targets(store.labels())
        report = ExportReport(fraud_accounts=len(users), fraud_events=len(events))
        seen = collect(_stored_events(store), users, events)
        entries = build_entries(
            seen,
            member.keys,
            lambda token: vault.hashes([token]).get(token, {}),
            now=at,
            ttl_days=settings.sharing.ttl_days,
            report=report,
        )
    finally:
        store.close()
        vault.close()
    assert member.keys.current is not None
    blob = sign_bundle(
        entries,
        member=member.member,
        signing_key=member.signing_key,
        member_key_id=member.key_id,
        consortium_key=member.keys.current,
        created_at=int(at),
    )
    return blob, report


def import_blob(
    settings: Settings, blob: bytes, *, via: str, now: float | None = None
) -> tuple[Bundle, bool]:
    """Verify and store a bundle; raises :class:`BundleError` / ``ImportRefused``."""
    at = time.time() if now is None else now
    bundle = verify_bundle(blob, open_directory(settings), now=at)
    if bundle.member == settings.sharing.member:
        raise ImportRefused("this is our own bundle")
    if bundle.consortium_key not in consortium_keys(settings).ids:
        raise ImportRefused(f"consortium key {bundle.consortium_key!r} is not configured here")
    store = SharingStore(settings.shared_db())
    try:
        done = store.import_bundle(bundle, via=via, now=at)
        store.purge_expired(at)  # other members' entries that expired since their import
    finally:
        store.close()
    return bundle, done


def fetch(url: str, api_key: str, *, timeout: float = 60.0) -> bytes:
    """A peer's bundle from its ``GET /v1/share/bundle``."""
    import httpx

    resp = httpx.get(url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout)
    if resp.status_code != 200:
        raise BundleError(f"{url}: HTTP {resp.status_code}: {resp.text[:200]}")
    return resp.content


def own_items(settings: Settings) -> list[str]:
    """This member's list as PSI items (``kind:digest``): the bundle it last exported."""
    path = settings.sharing.bundle_path
    if path is None or not path.exists():
        raise SharingNotConfigured("export first: sharing.bundle_path holds no bundle")
    body = path.read_bytes().split(b"\n", 1)[0]
    return [f"{row[0]}:{row[1]}" for row in orjson.loads(body)["entries"]]


def psi_check(
    settings: Settings, url: str, api_key: str, items: list[str], *, reveal: bool
) -> list[str] | int:
    """Run PSI as the client against a peer's ``POST /v1/share/psi``; chain what was asked."""
    import base64

    import httpx

    from fengkong.sharing.psi import PsiAnswer, PsiClient

    client = PsiClient(items, reveal=reveal)
    payload = {"request": base64.b64encode(client.request()).decode(), "reveal": reveal}
    resp = httpx.post(
        url, json=payload, headers={"Authorization": f"Bearer {api_key}"}, timeout=300.0
    )
    if resp.status_code != 200:
        raise BundleError(f"{url}: HTTP {resp.status_code}: {resp.text[:200]}")
    data = resp.json()
    answer = PsiAnswer(base64.b64decode(data["setup"]), base64.b64decode(data["response"]))
    result = client.result(answer)
    _chain(settings, "psi_query", url, {"items": len(items), "reveal": reveal,
           "common": result if isinstance(result, int) else len(result)})  # fmt: skip
    return result


def _chain(settings: Settings, kind: str, ref: str, data: dict[str, Any]) -> None:
    from fengkong.audit.trail import AuditTrail

    trail = AuditTrail(audit_db(settings))
    try:
        trail.record(kind, ref, actor="cli", data=data)
    finally:
        trail.close()


def build_police_lead(settings: Settings, rings_path: Path, ring_id: str) -> bytes:
    """The signed lead of one ring of a ``fengkong graph mine`` file."""
    from fengkong.audit.checkpoint import load_signer
    from fengkong.audit.trail import AuditTrail
    from fengkong.sharing.leads import build_lead

    member = open_member(settings, need_keys=False)
    rings = orjson.loads(rings_path.read_bytes())["rings"]
    ring = next((r for r in rings if r["ring_id"] == ring_id), None)
    if ring is None:
        raise ValueError(f"no ring {ring_id!r} in {rings_path}")
    key_path = settings.audit_key_path or Path(f"{settings.db_path}.audit-key")
    trail = AuditTrail(audit_db(settings), load_signer(key_path, settings.audit_origin))
    try:
        blob = build_lead(
            ring,
            trail.export,
            member=member.member,
            signing_key=member.signing_key,
            public_key=member.public_key,
            created_at=int(time.time()),
        )
        trail.record("export", f"lead:{ring_id}", actor="cli",
                     data={"ring": ring_id, "accounts": len(ring.get("members", []))})  # fmt: skip
    finally:
        trail.close()
    return blob


__all__ = [
    "BundleError",
    "ImportRefused",
    "Member",
    "ShareKeyError",
    "SharingNotConfigured",
    "build_police_lead",
    "export",
    "fetch",
    "import_blob",
    "own_items",
    "psi_check",
]
