"""Registry: versioned artefacts, champion and challenger, promotion and rollback."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fengkong.models.model import Model, ModelLoadError, artefact_digest
from fengkong.models.store import ModelStore, ModelVersion

# Metadata kept in the registry table (the artefact has everything).
_SUMMARY = ("features", "definitions_hash", "windows", "data_hash", "metrics", "event_types")


class Registry:
    """Models saved as ``v<N>`` directories (``store.artefact_dir``), roles in ``store``.

    >>> from fengkong.storage.models_sqlite import SQLiteModelStore
    >>> registry = Registry(SQLiteModelStore(":memory:"))
    """

    def __init__(self, store: ModelStore) -> None:
        self.store = store

    def register(self, model: Model, name: str = "fraud") -> ModelVersion:
        """Save ``model`` as the next version (no role yet)."""
        version = self.store.next_version()
        directory = self.store.artefact_dir(version)
        if directory.exists():
            shutil.rmtree(directory)  # left over by a crash before the row was written
        model.meta["version"] = f"{name}-v{version}"
        digest = model.save(directory)
        summary = {k: model.meta[k] for k in _SUMMARY if k in model.meta}
        return self.store.add(version, name, digest, summary)

    def load(self, version: int) -> Model:
        info = self.store.get(version)
        try:
            fresh = artefact_digest(Path(info.path))
        except OSError as exc:
            raise ModelLoadError(f"artefact of version {version} unreadable: {exc}") from None
        if fresh != info.digest:
            raise ModelLoadError(f"artefact of version {version} changed since it was registered")
        return Model.load(Path(info.path))

    def role(self, role: str) -> int | None:
        return self.store.role(role)

    def load_role(self, role: str) -> Model | None:
        v = self.store.role(role)
        return None if v is None else self.load(v)

    def set_challenger(self, version: int | None, author: str = "") -> None:
        if version is not None:
            self.store.get(version)
        self.store.set_role("challenger", version, author=author, action="shadow")

    def promote(self, version: int | None = None, author: str = "") -> int:
        """Make ``version`` (default: the challenger) the champion; returns it."""
        if version is None:
            version = self.store.role("challenger")
            if version is None:
                raise ValueError("no challenger to promote; give a version")
        self.load(version)  # refuse to promote an artefact that cannot load
        self.store.set_role("champion", version, author=author, action="promote")
        if self.store.role("challenger") == version:
            self.store.set_role("challenger", None, author=author, action="promoted")
        return version

    def rollback(self, author: str = "") -> int:
        """Return to the champion before the current one; returns it."""
        log = [h for h in self.store.history("champion") if h["version"] is not None]
        if len(log) < 2:
            raise ValueError("no earlier champion to roll back to")
        current = log[-1]["version"]
        earlier = [h["version"] for h in log if h["version"] != current]
        if not earlier:
            raise ValueError("no earlier champion to roll back to")
        target = int(earlier[-1])
        self.store.set_role("champion", target, author=author, action="rollback")
        return target

    def listing(self) -> list[dict[str, Any]]:
        champ, chall = self.store.role("champion"), self.store.role("challenger")
        out = []
        for v in self.store.versions():
            test = v.meta.get("metrics", {}).get("test", {})
            out.append(
                {
                    "version": v.version,
                    "name": v.name,
                    "role": "champion"
                    if v.version == champ
                    else ("challenger" if v.version == chall else ""),
                    "created_at": v.created_at,
                    "features": len(v.meta.get("features", [])),
                    "test_ap": test.get("average_precision"),
                    "test_auroc": test.get("auroc"),
                    "digest": v.digest,
                }
            )
        return out

    def close(self) -> None:
        self.store.close()
