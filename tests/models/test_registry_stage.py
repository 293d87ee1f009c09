"""Registry roles, champion/challenger in the pipeline, refusal to load, PSI."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fengkong.decisions.types import DecisionContext
from fengkong.events import Event, Label
from fengkong.models import ModelLoadError, psi
from fengkong.models.drift import reference
from fengkong.models.registry import Registry
from fengkong.models.stage import ANOMALY_FEATURE, ModelStage, serving_definitions
from fengkong.storage.models_sqlite import SQLiteModelStore

from .test_training import FS, _trained


@pytest.fixture(scope="module")
def models(stream: tuple[list[Event], list[Label]]) -> tuple[object, object]:
    a, _ = _trained(stream)
    b, _ = _trained(stream)
    b.platt = (b.platt[0], b.platt[1] + 0.5)  # a different challenger
    b.meta["platt"] = list(b.platt)
    return a, b


def test_champion_challenger_promote_rollback(
    models: tuple[object, object], stream: tuple[list[Event], list[Label]], tmp_path: Path
) -> None:
    a, b = models
    now = [0.0]
    reg = Registry(SQLiteModelStore(tmp_path / "f.db"))
    v1 = reg.register(a).version  # type: ignore[arg-type]
    v2 = reg.register(b).version  # type: ignore[arg-type]
    reg.promote(v1)
    reg.set_challenger(v2)
    engine = FS.engine()
    stage = ModelStage.from_registry(reg, defined=serving_definitions(engine), clock=lambda: now[0])
    events, _ = stream

    def decide(e: Event) -> DecisionContext:
        ctx = DecisionContext(e)
        engine.process(e, ctx.features)
        stage.run(ctx)
        return ctx

    reasons = []
    for e in events[:200]:
        ctx = decide(e)
        reasons += [r for r in ctx.reasons if r.source == "model"]
    assert reasons and all(r.name and r.detail for r in reasons)
    assert ctx.versions["model"] == f"fraud-v{v1}"
    assert ctx.model_score is not None and 0 <= ctx.model_score <= 1
    assert ctx.explain["challenger"]["version"] == f"fraud-v{v2}"
    assert ctx.explain["challenger"]["score"] != ctx.model_score  # shadow scored, not acting
    assert isinstance(ctx.features[ANOMALY_FEATURE], float)
    reg.promote()  # the challenger becomes champion
    now[0] += 10
    ctx = decide(events[200])
    assert ctx.versions["model"] == f"fraud-v{v2}" and "challenger" not in ctx.explain
    assert reg.rollback() == v1
    now[0] += 10
    assert decide(events[201]).versions["model"] == f"fraud-v{v1}"
    assert [h["action"] for h in reg.store.history("champion")] == [
        "promote",
        "promote",
        "rollback",
    ]


def test_refuses_undefined_or_changed_features(models: tuple[object, object]) -> None:
    a, _ = models
    defined = serving_definitions(FS.engine())
    name = next(n for n in a.features if n in defined)  # type: ignore[attr-defined]
    missing = {k: v for k, v in defined.items() if k != name}
    with pytest.raises(ModelLoadError, match="not defined"):
        ModelStage(a, defined=missing)  # type: ignore[arg-type]
    with pytest.raises(ModelLoadError, match="defined differently"):
        ModelStage(a, defined={**defined, name: "count(event) by user over 2h"})  # type: ignore[arg-type]
    ModelStage(a, defined=defined)  # type: ignore[arg-type]


def test_tampered_artefact_refused(models: tuple[object, object], tmp_path: Path) -> None:
    a, _ = models
    reg = Registry(SQLiteModelStore(tmp_path / "f.db"))
    v = reg.register(a)  # type: ignore[arg-type]
    meta = Path(v.path) / "meta.json"
    meta.write_text(meta.read_text().replace('"platt"', '"platt" ', 1))
    with pytest.raises(ModelLoadError, match="changed"):
        reg.load(v.version)


def test_psi() -> None:
    rng = np.random.default_rng(0)
    ref = reference(rng.normal(size=20000))
    assert psi(ref, rng.normal(size=20000)) < 0.01
    assert psi(ref, rng.normal(0.8, 1, size=20000)) > 0.25


def test_label_spec_validation() -> None:
    with pytest.raises(ValueError):
        replace(FS.label_risk, entities=("device",))  # type: ignore[arg-type]


def test_polled_labels_are_taken_once_each() -> None:
    from dataclasses import dataclass

    from fengkong.models.stage import ModelStage

    @dataclass
    class Rec:
        event_id: str | None
        label: str
        at: float

    table = [Rec("e1", "fraud", 10.0), Rec("e2", "fraud", 10.0)]

    def source(since: float | None) -> list[Rec]:
        return [r for r in table if since is None or r.at >= since]

    stage = ModelStage(None, defined={}, labels=source, label_poll_s=0.0)
    stage._poll_labels(5.0)
    table.append(Rec("e3", "legit", 12.0))
    stage._poll_labels(5.0)
    stage._poll_labels(5.0)
    assert sorted(e for _, e, _ in stage._pending) == ["e1", "e2", "e3"]
