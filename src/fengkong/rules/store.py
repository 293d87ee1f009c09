"""The rule store interface: versions, the live pointer, lists and freezes.

Backends (``fengkong.storage.rules_sqlite`` for the embedded database) implement
:class:`RuleStore`; the decision stage only needs :class:`SnapshotSource`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from fengkong.rules.lists import Freeze, FreezeTable, ListEntry, ListSnapshot
from fengkong.rules.ruleset import CompiledRuleSet, RuleSet
from fengkong.rules.schema import Type


@dataclass(frozen=True, slots=True)
class RulesSnapshot:
    """What the rules stage needs for one event: live rule set, lists, freezes."""

    ruleset: CompiledRuleSet | None
    lists: ListSnapshot
    freezes: FreezeTable


class SnapshotSource(Protocol):
    """Anything that hands out the current :class:`RulesSnapshot` cheaply (cached)."""

    def snapshot(self) -> RulesSnapshot: ...


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One published rule set version; ``label`` (``r7``) goes into decisions."""

    version: int
    name: str
    digest: str
    created_at: float
    author: str
    comment: str
    rules: int
    live: bool = False

    @property
    def label(self) -> str:
        return f"r{self.version}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "label": self.label,
            "name": self.name,
            "digest": self.digest,
            "created_at": self.created_at,
            "author": self.author,
            "comment": self.comment,
            "rules": self.rules,
            "live": self.live,
        }


class RuleStore(SnapshotSource, Protocol):
    """Persistence of rule set versions (immutable), the live pointer, lists, freezes."""

    @property
    def known_names(self) -> dict[str, Type] | list[str]:
        """The names a rule set may read; what :meth:`publish` compiles against."""
        ...

    def publish(
        self, ruleset: RuleSet, *, author: str = "", comment: str = "", activate: bool = True
    ) -> VersionInfo:
        """Validate everything, then store a new version (and make it live) atomically."""
        ...

    def versions(self) -> list[VersionInfo]: ...

    def get_version(self, version: int) -> RuleSet: ...

    def live_version(self) -> VersionInfo | None: ...

    def activate(self, version: int, *, author: str = "") -> VersionInfo: ...

    def rollback(self, to: int | None = None, *, author: str = "") -> VersionInfo:
        """Make ``to`` (default: the version before the live one) live again."""
        ...

    def history(self) -> list[dict[str, object]]:
        """Every switch of the live pointer, newest first: seq, version, at, author, action."""
        ...

    def add_to_list(
        self,
        name: str,
        values: Iterable[str],
        *,
        expires_at: float | None = None,
        note: str = "",
    ) -> int: ...

    def remove_from_list(self, name: str, values: Iterable[str]) -> int: ...

    def list_entries(self, name: str, *, include_expired: bool = False) -> list[ListEntry]: ...

    def list_names(self) -> dict[str, int]: ...

    def freeze(
        self,
        kind: str,
        value: str,
        action: str,
        reason: str,
        *,
        expires_at: float | None = None,
        created_by: str = "",
    ) -> Freeze: ...

    def unfreeze(self, kind: str, value: str) -> bool: ...

    def freezes(self, *, include_expired: bool = False) -> list[Freeze]: ...

    def purge_expired(self) -> int: ...

    def close(self) -> None: ...
