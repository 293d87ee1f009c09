"""The repository protocol of API keys: what authentication and key management ask.

Owned by the API, the only layer that checks keys; the storage layer implements it
(:class:`fengkong.storage.keys_sqlite.KeyStore`) without importing it (structural
typing), and :mod:`fengkong.api.stores` is where mypy holds the two together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class KeyInfo(Protocol):
    """A key as stored: never the key itself, only its id, name and roles."""

    @property
    def key_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def roles(self) -> tuple[str, ...]: ...
    @property
    def created_at(self) -> float: ...
    @property
    def revoked_at(self) -> float | None: ...
    @property
    def identity(self) -> str:
        """How changes made with this key are attributed: ``name (key_id)``."""
        ...

    def as_dict(self) -> dict[str, object]: ...


class KeyStore(Protocol):
    """Create, revoke, check and list keys; creations and revocations are chained."""

    def create(
        self, name: str, roles: tuple[str, ...], *, key: str | None = None, actor: str | None = None
    ) -> tuple[str, KeyInfo]: ...
    def revoke(self, key_id: str, *, actor: str | None = None) -> bool: ...
    def check(self, key: str) -> KeyInfo | None: ...
    def listing(self) -> Sequence[KeyInfo]: ...
    def empty(self) -> bool: ...
    def close(self) -> None: ...
