"""The API's repositories, opened: the one API module that names their implementations.

The routes and the console depend on the protocols (:mod:`fengkong.api.keys`,
:mod:`fengkong.cases.store`); these functions return the storage layer's classes as
those protocols, so mypy checks each implementation against its protocol here.
"""

from __future__ import annotations

from pathlib import Path

from fengkong.api.keys import KeyInfo, KeyStore
from fengkong.cases.store import CaseStore
from fengkong.storage import cases_sqlite, keys_sqlite


def open_keys(target: str | Path, cache_s: float = 0.0) -> KeyStore:
    """The key store in the database at ``target`` (a file or a PostgreSQL URL)."""
    return keys_sqlite.KeyStore(target, cache_s=cache_s)


def open_cases(target: str | Path) -> CaseStore:
    """The case store in the database at ``target`` (a file or a PostgreSQL URL)."""
    return cases_sqlite.CaseStore(target)


def principal(key_id: str, name: str, roles: tuple[str, ...]) -> KeyInfo:
    """A principal no stored key stands for (the loopback ingest of a local server)."""
    return keys_sqlite.KeyInfo(key_id, name, roles, 0.0)
