"""The examples in the package's docstrings run, and say what the code does."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import fengkong

_ROOT = Path(fengkong.__file__).parent
_MODULES = sorted(
    ".".join(("fengkong", *path.relative_to(_ROOT).with_suffix("").parts)).removesuffix(".__init__")
    for path in _ROOT.rglob("*.py")
    if ">>> " in path.read_text(encoding="utf-8")
)


def test_modules_with_examples_are_found() -> None:
    assert "fengkong.models.watch" in _MODULES


@pytest.mark.parametrize("name", _MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
