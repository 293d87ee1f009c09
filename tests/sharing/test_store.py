"""The sharing tables: versioned migration, replacing imports, revocation, the vault, chain."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fengkong.audit.verify import verify_database
from fengkong.sharing import Bundle, Entry
from fengkong.storage.sharing_sqlite import ImportRefused, SharingStore

NOW = 1_795_000_000


def _bundle(member: str, made: int, digests: list[str]) -> Bundle:
    entries = [
        Entry("device", d, NOW - 50, NOW - 5, 0.9, "chargeback", NOW + 1000) for d in digests
    ]
    return Bundle(member, "k1", "ck", made, entries, 0, f"{member}-{made}".ljust(64, "0"))


def test_the_schema_is_a_versioned_migration(tmp_path: Path) -> None:
    SharingStore(tmp_path / "s.db").close()
    SharingStore(tmp_path / "s.db").close()  # a second open takes no step again
    conn = sqlite3.connect(tmp_path / "s.db")
    row = conn.execute("SELECT version FROM schema_versions WHERE component = 'sharing'")
    assert row.fetchone() == (1,)


def test_a_newer_bundle_replaces_the_members_entries(tmp_path: Path) -> None:
    store = SharingStore(tmp_path / "s.db")
    try:
        assert store.import_bundle(_bundle("a", 10, ["11" * 16, "22" * 16]), via="t", now=NOW)
        assert store.import_bundle(_bundle("b", 10, ["11" * 16]), via="t", now=NOW)
        assert store.import_bundle(_bundle("a", 20, ["33" * 16]), via="t", now=NOW)
        got = sorted((e.member, e.digest) for e in store.entries())
        assert got == [("a", "33" * 16), ("b", "11" * 16)]
        with pytest.raises(ImportRefused, match="not newer"):
            store.import_bundle(_bundle("a", 15, ["22" * 16]), via="t", now=NOW)
        assert store.revoke("b", "poisoning") == 1
        assert [e.member for e in store.entries()] == ["a"]
        with pytest.raises(ImportRefused, match="revoked"):
            store.import_bundle(_bundle("b", 30, ["44" * 16]), via="t", now=NOW)
        store.reinstate("b")
        assert store.import_bundle(_bundle("b", 30, ["44" * 16]), via="t", now=NOW)
        assert store.purge_expired(NOW + 1000) == 2
    finally:
        store.close()


def test_imports_and_revocations_keep_the_chain_valid(tmp_path: Path) -> None:
    store = SharingStore(tmp_path / "s.db")
    try:
        store.import_bundle(_bundle("a", 10, ["11" * 16]), via="t", now=NOW)
        store.revoke("a", "test")
    finally:
        store.close()
    conn = sqlite3.connect(tmp_path / "s.db")
    kinds = [r[0] for r in conn.execute("SELECT kind FROM audit_log ORDER BY seq")]
    assert kinds == ["share_import", "share_revoke"]
    report = verify_database(conn)
    assert report.problems == []


def test_the_vault_keeps_hashes_by_token_and_key(tmp_path: Path) -> None:
    store = SharingStore(tmp_path / "s.db")
    try:
        store.remember([("tk_phone_1", "ck1", "aa"), ("tk_phone_1", "ck2", "bb")])
        store.remember([("tk_phone_1", "ck1", "aa")])
        assert store.hashes(["tk_phone_1", "tk_phone_2"]) == {
            "tk_phone_1": {"ck1": "aa", "ck2": "bb"}
        }
    finally:
        store.close()


def test_the_version_moves_with_every_change(tmp_path: Path) -> None:
    store = SharingStore(tmp_path / "s.db")
    try:
        seen = [store.version()]
        store.import_bundle(_bundle("a", 10, ["11" * 16]), via="t", now=NOW)
        seen.append(store.version())
        store.revoke("a", "t")
        seen.append(store.version())
        store.reinstate("a")
        seen.append(store.version())
        assert seen == sorted(set(seen)) and len(seen) == 4
    finally:
        store.close()
