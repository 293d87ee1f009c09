"""The API-key repository contract (api.keys.KeyStore), run against every backend: the
embedded file and PostgreSQL. The store is opened as the API opens it (api.stores)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fengkong.api.keys import KeyStore
from fengkong.api.stores import open_keys
from fengkong.audit import log
from fengkong.storage.sql import open_db
from tests.contract.backends import BACKENDS, target
from tests.servers import pg_server

__all__ = ["pg_server"]  # the session fixture, used by name


@pytest.fixture(params=BACKENDS)
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return target(request, tmp_path, "k.db")


@pytest.fixture()
def keys(where: str) -> Iterator[KeyStore]:
    s = open_keys(where)
    yield s
    s.close()


def test_a_created_key_checks_and_only_its_hash_is_kept(keys: KeyStore, where: str) -> None:
    assert keys.empty()
    key, info = keys.create("ana", ("analyst", "admin", "analyst"), actor="boot")
    assert key.startswith("fk_") and info.roles == ("admin", "analyst")
    assert info.identity == f"ana ({info.key_id})"
    checked = keys.check(key)
    assert checked is not None and checked.key_id == info.key_id and checked.revoked_at is None
    assert keys.check(key + "x") is None and keys.check("fk_short") is None
    assert not keys.empty()
    db = open_db(where)
    try:
        stored = [str(v) for row in db.execute("SELECT * FROM api_keys").fetchall() for v in row]
    finally:
        db.close()
    assert key not in stored


def test_a_given_key_is_kept_once_and_must_be_long(keys: KeyStore) -> None:
    key, _ = keys.create("svc", ("ingest",), key="fk_" + "a" * 40)
    assert key == "fk_" + "a" * 40 and keys.check(key) is not None
    with pytest.raises(ValueError, match="already exists"):
        keys.create("svc2", ("ingest",), key=key)
    with pytest.raises(ValueError, match="at least"):
        keys.create("svc3", ("ingest",), key="fk_tiny")


def test_revoked_keys_stop_checking_and_stay_listed(keys: KeyStore) -> None:
    one, a = keys.create("a", ("ingest",))
    two, b = keys.create("b", ("analyst",))
    assert keys.revoke(a.key_id, actor="ops")
    assert not keys.revoke(a.key_id)  # once
    assert not keys.revoke("k_nothing")
    assert keys.check(one) is None and keys.check(two) is not None
    listed = {k.key_id: k for k in keys.listing()}
    assert set(listed) == {a.key_id, b.key_id}
    assert listed[a.key_id].revoked_at is not None and listed[b.key_id].revoked_at is None
    assert listed[b.key_id].as_dict()["roles"] == ["analyst"]


def test_creations_and_revocations_are_chained(keys: KeyStore, where: str) -> None:
    _, info = keys.create("a", ("ingest",), actor="boot")
    keys.revoke(info.key_id, actor="ops")
    db = open_db(where)
    try:
        entries = [s.parsed() for s in log.entries(db)]
    finally:
        db.close()
    kinds = [(e["kind"], e["ref"], e["actor"]) for e in entries]
    assert kinds == [("key_create", info.key_id, "boot"), ("key_revoke", info.key_id, "ops")]


def test_a_second_store_on_the_same_database_sees_the_keys(keys: KeyStore, where: str) -> None:
    key, _ = keys.create("a", ("ingest",))
    other = open_keys(where)
    try:
        assert other.check(key) is not None and len(other.listing()) == 1
    finally:
        other.close()
