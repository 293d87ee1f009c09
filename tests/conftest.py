"""Shared fixtures: the design's example events and an engine on a temporary store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fengkong.runtime import Runtime, build_runtime
from fengkong.settings import Settings
from tests.keys import ADMIN_KEY

EXAMPLES = Path(__file__).resolve().parent / "data" / "examples.jsonl"


@pytest.fixture()
def examples() -> list[dict[str, Any]]:
    """One event of each type, as in the design's examples.jsonl."""
    return [json.loads(line) for line in EXAMPLES.read_text().splitlines() if line.strip()]


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(
        db_path=tmp_path / "fk.db",
        token_secret="t" * 32,
        sqlite_synchronous="NORMAL",
        bootstrap_key=ADMIN_KEY,
    )


@pytest.fixture()
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = build_runtime(settings)
    yield rt
    rt.close()
