"""One composition for every use; rule-readable names come from the stages' declarations."""

from __future__ import annotations

from pathlib import Path

from fengkong.rules import compile_ruleset, load_ruleset
from fengkong.rules.stage import declared_names, rule_known_names
from fengkong.runtime import Runtime, compose, default_rule_names
from fengkong.settings import Settings


def test_model_anomaly_score_is_readable_by_rules(tmp_path: Path) -> None:
    """Documented as readable (docs/models.md), it failed to compile before."""
    path = tmp_path / "r.toml"
    path.write_text(
        'name = "t"\n[[rules]]\nname = "odd"\nwhen = "model.anomaly_score > 0.8"\n'
        'action = "review"\n'
    )
    compiled = compile_ruleset(load_ruleset(path), default_rule_names())
    assert [r.name for r in compiled.rules] == ["odd"]


def test_every_declared_output_is_known_to_rules(runtime: Runtime) -> None:
    stages = runtime.engine.pipeline.stages
    known = rule_known_names(stages)
    for name in declared_names(stages):
        assert name in known
    assert "graph.cluster_size" in known and "user.received_amount_24h" in known


def test_backtest_and_export_see_the_serving_stages(settings: Settings, runtime: Runtime) -> None:
    # The identity stages read the server's challenge and voiceprint stores: serving only.
    identity = {"challenges", "behaviour", "voice"}
    serving = [s.name for s in runtime.engine.pipeline.stages if s.name not in identity]
    assert serving[-3:] == ["models", "rules", "credit"]
    assert [s.name for s in compose(settings, "backtest")] == serving[:-3]
    assert [s.name for s in compose(settings, "backtest", store=runtime.store)] == serving[:-2]
    assert [s.name for s in compose(settings, "export")] == serving[:-3]
