"""The engine's periodic GC freeze (decisions.state.Freezer)."""

from __future__ import annotations

import gc

from fengkong.decisions.state import Freezer


def test_freezes_once_every_n_events() -> None:
    gc.unfreeze()
    try:
        freezer = Freezer(every=10)
        kept = [[i] for i in range(100)]  # containers alive now
        freezer.add(9)
        assert gc.get_freeze_count() == 0
        freezer.add(1)
        frozen = gc.get_freeze_count()
        assert frozen >= len(kept)
        freezer.add(9)  # the count starts again after a freeze
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_every_zero_never_freezes() -> None:
    gc.unfreeze()
    try:
        freezer = Freezer(every=0)
        freezer.add(1_000_000)
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
