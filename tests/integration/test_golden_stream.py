"""The demo stream decides exactly as before the state redesign, down to feature values."""

from __future__ import annotations

from pathlib import Path

from tests.integration.golden import GOLDEN, digests, stream


def test_demo_stream_decisions_and_features_are_unchanged(tmp_path: Path) -> None:
    want = GOLDEN.read_text().split("\n")[:-1]
    got = digests(tmp_path / "golden.db", stream())
    assert len(got) == len(want) > 2000
    changed = [w.split()[0] for g, w in zip(got, want, strict=True) if g != w]
    # A deliberate change of outcomes (a new rule, stage or feature) regenerates the file:
    # python tests/integration/golden.py tests/data/golden_demo_digests.txt
    assert changed == [], f"{len(changed)} events decide differently, first {changed[:3]}"
