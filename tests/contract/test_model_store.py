"""The model-registry repository contract (models.store.ModelStore), run against every
backend: the embedded file and PostgreSQL. The registry above it sees the same answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fengkong.models.registry import Registry
from fengkong.models.store import ModelStore
from fengkong.storage.models_sqlite import SQLiteModelStore
from tests.servers import new_database, pg_server

__all__ = ["pg_server"]  # the session fixture, used by name


@pytest.fixture(params=["sqlite-file", "postgres"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return new_database(request.getfixturevalue("pg_server"))
    return str(tmp_path / "m.db")


@pytest.fixture()
def store(where: str, tmp_path: Path) -> Iterator[ModelStore]:
    s = SQLiteModelStore(where, tmp_path / "models")
    yield s
    s.close()


def test_versions_are_numbered_kept_and_read_back(store: ModelStore, tmp_path: Path) -> None:
    assert store.versions() == [] and store.next_version() == 1
    first = store.add(1, "fraud", "d1", {"features": ["a", "b"], "auc": 0.91})
    assert store.next_version() == 2
    store.add(2, "fraud", "d2", {"features": ["a"]})
    assert store.get(1) == first
    assert first.meta == {"features": ["a", "b"], "auc": 0.91}
    assert [v.version for v in store.versions()] == [1, 2]
    assert store.artefact_dir(2) == tmp_path / "models" / "v2"
    with pytest.raises(KeyError):
        store.get(3)
    with pytest.raises(Exception):  # noqa: B017 (each backend's integrity error)
        store.add(1, "fraud", "again", {})  # a version is immutable


def test_roles_are_an_append_only_log(store: ModelStore) -> None:
    store.add(1, "fraud", "d1", {})
    store.add(2, "fraud", "d2", {})
    assert store.role("champion") is None
    store.set_role("champion", 1, author="ana", action="promote")
    store.set_role("champion", 2, author="ana", action="promote")
    store.set_role("credit.challenger", 1, author="bo", action="shadow")
    store.set_role("champion", 1, author="ana", action="rollback")
    store.set_role("challenger", None, author="bo", action="retire")
    assert store.role("champion") == 1
    assert store.role("credit.challenger") == 1 and store.role("credit.champion") is None
    assert store.role("challenger") is None
    log = store.history("champion")
    assert [(h["version"], h["action"]) for h in log] == [
        (1, "promote"),
        (2, "promote"),
        (1, "rollback"),
    ]
    assert len(store.history()) == 5
    seqs = [h["seq"] for h in store.history()]
    assert seqs == sorted(seqs)
    with pytest.raises(ValueError, match="role"):
        store.set_role("king", 1, author="x", action="promote")


def test_a_second_handle_sees_the_first_ones_writes(where: str, tmp_path: Path) -> None:
    """What another worker (or the CLI beside a server) sees: same answers, same registry."""
    a = SQLiteModelStore(where, tmp_path / "models")
    b = SQLiteModelStore(where, tmp_path / "models")
    try:
        a.add(a.next_version(), "fraud", "d1", {})
        a.set_role("champion", 1, author="t", action="promote")
        assert b.role("champion") == 1 and b.next_version() == 2
        assert Registry(b).role("champion") == 1 and b.get(1).digest == "d1"
    finally:
        a.close()
        b.close()
