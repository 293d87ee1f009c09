"""The repository the model registry uses: versions and their roles.

:class:`~fengkong.storage.models_sqlite.SQLiteModelStore` implements it in the embedded
database; versions are immutable and roles an append-only log (every promotion and
rollback kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class ModelVersion:
    """One registered artefact: where it lives, its digest and its summary."""

    version: int
    name: str
    digest: str
    path: str
    created_at: float
    meta: dict[str, Any]


class ModelStore(Protocol):
    """Versions and the role log; ``artefact_dir(version)`` is where the files go."""

    def next_version(self) -> int: ...

    def artefact_dir(self, version: int) -> Path: ...

    def add(self, version: int, name: str, digest: str, meta: dict[str, Any]) -> ModelVersion:
        """Record a saved artefact as ``version`` (immutable from then on)."""
        ...

    def get(self, version: int) -> ModelVersion:
        """The version; ``KeyError`` when there is none."""
        ...

    def versions(self) -> list[ModelVersion]: ...

    def set_role(self, role: str, version: int | None, *, author: str, action: str) -> None:
        """Give ``role`` (``champion``, ``challenger``, optionally ``kind.``-prefixed) to
        ``version`` (``None``: to none)."""
        ...

    def role(self, role: str) -> int | None: ...

    def history(self, role: str | None = None) -> list[dict[str, Any]]:
        """The role log, oldest first: seq, role, version, at, author, action."""
        ...

    def close(self) -> None: ...
