"""Offline export gives the same values as online serving, row by row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from fengkong.cli.features_cmd import features
from fengkong.decisions.types import DecisionContext
from fengkong.events import parse_event
from fengkong.features import default_engine
from fengkong.features.stage import EnrichStage, FeaturesStage

# The design's examples (the same events as tests/data/examples.jsonl, kept beside the repo).
EXAMPLES = Path(__file__).resolve().parents[2] / "../shared/design/examples.jsonl"
LOCAL = Path(__file__).resolve().parents[1] / "data" / "examples.jsonl"


@pytest.mark.parametrize(
    "examples",
    [
        LOCAL,
        pytest.param(
            EXAMPLES,
            marks=pytest.mark.skipif(
                not EXAMPLES.is_file(), reason="../shared/design/examples.jsonl not present"
            ),
        ),
    ],
)
def test_export_matches_online(tmp_path: Path, examples: Path) -> None:
    src = tmp_path / "events.jsonl"
    lines = [line for line in examples.read_text().splitlines() if line.strip()]
    src.write_text("\n".join(lines * 3) + "\n")  # repeats give non-trivial history
    out = tmp_path / "f.parquet"
    result = CliRunner().invoke(features, ["export", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out)
    assert len(table) == 3 * len(lines)
    # The serving composition, not the features engine alone: no train/serve skew.
    for name in ("graph.cluster_size", "user.received_amount_24h", "user.secs_since_risky_qr"):
        assert name in table.columns

    enrich, stage = EnrichStage(), FeaturesStage(default_engine())
    for i, line in enumerate(src.read_text().splitlines()):
        ctx = DecisionContext(parse_event(line))
        enrich.run(ctx)
        stage.run(ctx)
        row = table.iloc[i]
        for name, value in ctx.features.items():
            cell = row[name]
            assert (value is None and pd.isna(cell)) or cell == value, (i, name, cell, value)
