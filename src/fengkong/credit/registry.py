"""Scorecards in the models registry: same versions table, roles ``credit.champion`` and
``credit.challenger`` (append-only log, so every promotion and rollback is kept)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from fengkong.credit.scorecard import Scorecard
from fengkong.models.registry import Registry
from fengkong.models.store import ModelStore

KIND = "credit"
ARTEFACT = "scorecard.json"
CHAMPION, CHALLENGER = f"{KIND}.champion", f"{KIND}.challenger"


class ScorecardLoadError(RuntimeError):
    """A registered scorecard that cannot be served (changed or unreadable artefact)."""


def _digest(directory: Path) -> str:
    return hashlib.sha256((directory / ARTEFACT).read_bytes()).hexdigest()[:16]


class CreditRegistry:
    """Register, load, promote and roll back scorecards beside the fraud models."""

    def __init__(self, store: ModelStore) -> None:
        self.registry = Registry(store)
        self.store = self.registry.store

    def register(self, card: Scorecard) -> int:
        """Save ``card`` as the next version of the shared registry (no role yet)."""
        version = self.store.next_version()
        directory = self.store.artefact_dir(version)
        if directory.exists():
            shutil.rmtree(directory)  # left over by a crash before the row was written
        directory.mkdir(parents=True)
        card.meta["version"] = f"{KIND}-v{version}"
        (directory / ARTEFACT).write_text(card.to_json(), encoding="utf-8")
        summary = {
            "features": card.names,
            "metrics": card.meta.get("metrics", {}),
            "kind": KIND,
        }
        return self.store.add(version, KIND, _digest(directory), summary).version

    def load(self, version: int) -> Scorecard:
        info = self.store.get(version)
        if info.name != KIND:
            raise ScorecardLoadError(f"version {version} is a {info.name!r} model, not a scorecard")
        directory = Path(info.path)
        try:
            if _digest(directory) != info.digest:
                raise ScorecardLoadError(f"scorecard v{version} changed since it was registered")
            return Scorecard.from_json((directory / ARTEFACT).read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError) as exc:
            raise ScorecardLoadError(f"scorecard v{version} unreadable: {exc}") from None

    def role(self, role: str) -> int | None:
        return self.store.role(f"{KIND}.{role}")

    def load_role(self, role: str) -> Scorecard | None:
        v = self.role(role)
        return None if v is None else self.load(v)

    def set_challenger(self, version: int | None, author: str = "") -> None:
        if version is not None:
            self.load(version)
        self.store.set_role(CHALLENGER, version, author=author, action="shadow")

    def promote(self, version: int | None = None, author: str = "") -> int:
        """Make ``version`` (default: the challenger) the champion; returns it."""
        if version is None:
            version = self.role("challenger")
            if version is None:
                raise ValueError("no credit challenger to promote; give a version")
        self.load(version)  # refuse an artefact that cannot serve
        self.store.set_role(CHAMPION, version, author=author, action="promote")
        if self.role("challenger") == version:
            self.store.set_role(CHALLENGER, None, author=author, action="promoted")
        return version

    def rollback(self, author: str = "") -> int:
        """Return to the champion before the current one; returns it."""
        log = [h["version"] for h in self.store.history(CHAMPION) if h["version"] is not None]
        earlier = [v for v in log if v != (log[-1] if log else None)]
        if not earlier:
            raise ValueError("no earlier credit champion to roll back to")
        target = int(earlier[-1])
        self.store.set_role(CHAMPION, target, author=author, action="rollback")
        return target

    def listing(self) -> list[dict[str, Any]]:
        champ, chall = self.role("champion"), self.role("challenger")
        out = []
        for v in self.store.versions():
            if v.name != KIND:
                continue
            role = (
                "champion" if v.version == champ else ("challenger" if v.version == chall else "")
            )
            test = v.meta.get("metrics", {})
            out.append(
                {
                    "version": v.version,
                    "role": role,
                    "created_at": v.created_at,
                    "variables": len(v.meta.get("features", [])),
                    "auc": test.get("auc"),
                    "ks": test.get("ks"),
                    "digest": v.digest,
                }
            )
        return out

    def close(self) -> None:
        self.registry.close()
