"""Two fengkong instances (two databases, two member keys) share a device farm.

A confirms a farm, exports; B imports over a file and over loopback HTTP
(``fengkong share serve``); B's next registration from the farm is flagged, a phone
from it too (through the edge's vault), an honest one is not. A tampered bundle and an
expired entry are refused, a revoked member's entries go, and PSI between the two
finds exactly the common entries.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from fengkong.decisions.store import LabelRecord
from fengkong.runtime import build_runtime
from fengkong.runtime_sharing import export as share_export
from fengkong.runtime_sharing import fetch, import_blob, own_items, psi_check
from fengkong.settings import Settings
from fengkong.sharing import BundleError, Entry, sign_bundle
from fengkong.sharing.keys import key_id_of, load_signing_key, public_key_text
from fengkong.storage.keys_sqlite import KeyStore
from fengkong.storage.sharing_sqlite import ImportRefused, SharingStore
from tests.integration.server import free_port
from tests.keys import ADMIN_KEY

CONSORTIUM = {"ck-2026": "consortium-secret-0123456789abcdef"}


def _settings(root: Path, member: str) -> Settings:
    return Settings(
        db_path=root / f"{member}.db",
        token_secret=f"{member}-own-token-secret-0123456789",
        bootstrap_key=ADMIN_KEY,
        sqlite_synchronous="NORMAL",
        snapshots=False,
        sharing={  # type: ignore[arg-type]
            "member": member,
            "consortium_keys": CONSORTIUM,
            "members_path": root / "members.toml",
            "bundle_path": root / f"{member}.bundle",
        },
    )


def _event(i: str, user: str, device: str, phone: str, at: datetime) -> dict[str, Any]:
    return {
        "event_id": i,
        "type": "register",
        "user_id": user,
        "occurred_at": at.isoformat(),
        "device": {"device_id": device, "fingerprint": {"platform": "android", "model": "X1"}},
        "phone": phone,
        "ip": "203.0.113.7",
    }


def _decide(settings: Settings, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rt = build_runtime(settings)
    try:
        return [dict(rt.engine.decide(e)) for e in events]
    finally:
        rt.close()


def _names(decision: dict[str, Any]) -> set[str]:
    return {r["name"] for r in decision["reasons"]}


@pytest.fixture()
def members(tmp_path: Path) -> tuple[Settings, Settings]:
    a, b = _settings(tmp_path, "bank-a"), _settings(tmp_path, "bank-b")
    keys = {
        m: public_key_text(load_signing_key(Path(f"{s.db_path}.share-key")))
        for m, s in (("bank-a", a), ("bank-b", b))
    }
    text = "".join(f'[[members]]\nid = "{m}"\nkeys = ["{k}"]\n' for m, k in keys.items())
    (tmp_path / "members.toml").write_text(text)
    return a, b


def _farm_at_a(a: Settings) -> None:
    start = datetime.now(UTC) - timedelta(days=2)
    farm = [
        _event(f"a-{n}", f"fa-{n}", f"farm-dev-{n % 3}", f"+86 1390000{n:04d}", start)
        for n in range(9)
    ]
    honest = [_event("a-h", "ha-1", "honest-dev-1", "13811112222", start)]
    _decide(a, farm + honest)
    rt = build_runtime(a)
    try:
        at = time.time() - 3600
        rt.store.add_labels(
            [LabelRecord(None, f"fa-{n}", "fraud", "confirmed_case", at) for n in range(9)]
        )
    finally:
        rt.close()


def test_a_farm_confirmed_at_a_is_flagged_at_b(members: tuple[Settings, Settings]) -> None:
    a, b = members
    _farm_at_a(a)
    blob, report = share_export(a)
    assert report.fraud_accounts == 9
    assert report.by_kind["device"] == 3 and report.by_kind["phone"] == 9
    assert b"farm-dev" not in blob and b"1390000" not in blob  # keyed hashes only
    assert a.sharing.bundle_path is not None
    a.sharing.bundle_path.write_bytes(blob)

    bundle, done = import_blob(b, a.sharing.bundle_path.read_bytes(), via="file")
    assert done and bundle.member == "bank-a" and len(bundle.entries) == report.entries
    assert import_blob(b, blob, via="file")[1] is False  # the same bundle twice: one import

    now = datetime.now(UTC)
    got = _decide(
        b,
        [
            _event("b-1", "fb-1", "farm-dev-1", "13700000000", now),  # the farm's device
            _event("b-2", "fb-2", "new-dev-9", "+8613900000004", now),  # a farm phone
            _event("b-3", "hb-1", "honest-dev-2", "13811113333", now),
        ],
    )
    assert "shared_list_match" in _names(got[0])
    assert "shared_list_match" in _names(got[1])
    assert "shared_list_match" not in _names(got[2])

    tampered = blob.replace(b'"device"', b'"phone"', 1)
    with pytest.raises(BundleError):
        import_blob(b, tampered, via="file")

    store = SharingStore(b.db_path)
    try:
        assert store.revoke("bank-a", "test") == report.entries
    finally:
        store.close()
    with pytest.raises(ImportRefused, match="revoked"):
        import_blob(b, blob, via="file")
    again = _decide(b, [_event("b-4", "fb-4", "farm-dev-1", "13700000001", datetime.now(UTC))])
    assert "shared_list_match" not in _names(again[0])


def test_an_expired_entry_is_refused(members: tuple[Settings, Settings]) -> None:
    a, b = members
    key = load_signing_key(Path(f"{a.db_path}.share-key"))
    now = int(time.time())
    live = Entry("device", "ab" * 16, now - 99, now - 9, 0.9, "chargeback", now + 86_400)
    dead = Entry("device", "cd" * 16, now - 99, now - 9, 0.9, "chargeback", now - 1)
    blob = sign_bundle(
        [live, dead],
        member="bank-a",
        signing_key=key,
        member_key_id=key_id_of(public_key_text(key)),
        consortium_key="ck-2026",
        created_at=now,
    )
    bundle, _ = import_blob(b, blob, via="file")
    assert bundle.expired == 1
    store = SharingStore(b.db_path)
    try:
        assert [e.digest for e in store.entries()] == ["ab" * 16]
    finally:
        store.close()


def _share_serve(settings: Settings, port: int, root: Path) -> subprocess.Popen[bytes]:
    s = settings.sharing
    config = root / "a.toml"
    config.write_text(
        f'db_path = "{settings.db_path}"\n[sharing]\nmember = "{s.member}"\n'
        f'members_path = "{s.members_path}"\nbundle_path = "{s.bundle_path}"\n'
        f'[sharing.consortium_keys]\n"ck-2026" = "{CONSORTIUM["ck-2026"]}"\n'
    )
    env = {**os.environ, "FENGKONG_BOOTSTRAP_KEY": ADMIN_KEY}
    cmd = [sys.executable, "-m", "fengkong", "share", "serve", "--config", str(config)]
    proc = subprocess.Popen([*cmd, "--port", str(port)], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90  # a loaded 2-core machine starts Python slowly
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/share/bundle", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("share serve did not start")


def test_b_imports_over_http_and_psi_finds_the_common_entries(
    members: tuple[Settings, Settings], tmp_path: Path
) -> None:
    a, b = members
    _farm_at_a(a)
    blob, report = share_export(a)
    assert a.sharing.bundle_path is not None
    a.sharing.bundle_path.write_bytes(blob)
    keys = KeyStore(a.db_path)
    try:
        peer_key, _ = keys.create("bank-b", ("consortium",), actor="test")
        ingest_key, _ = keys.create("app", ("ingest",), actor="test")
    finally:
        keys.close()
    port = free_port()
    proc = _share_serve(a, port, tmp_path)
    base = f"http://127.0.0.1:{port}/v1/share"
    try:
        assert httpx.get(f"{base}/bundle", timeout=10).status_code == 401
        wrong = {"Authorization": f"Bearer {ingest_key}"}
        assert httpx.get(f"{base}/bundle", headers=wrong, timeout=10).status_code == 403
        bundle, done = import_blob(b, fetch(f"{base}/bundle", peer_key), via=f"{base}/bundle")
        assert done and len(bundle.entries) == report.entries

        # B's own list: two of A's farm devices, and one identity A never saw.
        entries = [e for e in bundle.entries if e.kind == "device"][:2]
        extra = Entry("phone", "ef" * 16, 1, 2, 0.9, "chargeback", int(time.time()) + 86_400)
        own = [*entries, extra]
        key = load_signing_key(Path(f"{b.db_path}.share-key"))
        assert b.sharing.bundle_path is not None
        b.sharing.bundle_path.write_bytes(
            sign_bundle(
                own,
                member="bank-b",
                signing_key=key,
                member_key_id=key_id_of(public_key_text(key)),
                consortium_key="ck-2026",
                created_at=int(time.time()),
            )
        )
        items = own_items(b)
        common = psi_check(b, f"{base}/psi", peer_key, items, reveal=True)
        assert common == sorted(f"device:{e.digest}" for e in entries)
        assert psi_check(b, f"{base}/psi", peer_key, items, reveal=False) == 2
    finally:
        proc.terminate()
        proc.wait(timeout=30)
