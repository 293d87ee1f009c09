"""Where a contract test's store lives: the embedded file, or a fresh PostgreSQL database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers import new_database

BACKENDS = ["sqlite-file", "postgres"]


def target(request: pytest.FixtureRequest, tmp_path: Path, name: str) -> str:
    """The store's target for ``request.param`` (PostgreSQL skips without a server)."""
    if request.param == "postgres":
        return new_database(request.getfixturevalue("pg_server"))
    return str(tmp_path / name)
