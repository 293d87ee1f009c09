"""Training reads the graph, flows, links and document features as serving computes them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from tests.integration.golden import stream as demo_stream

from fengkong.events import Event, Label
from fengkong.models import FeatureSet, LabelRiskSpec, TrainConfig, build_rows, train_model
from fengkong.models.dataset import CONTEXT_FEATURES, PAYMENT_FEATURES
from fengkong.models.model import ModelLoadError
from fengkong.models.stage import ModelStage
from fengkong.rules.stage import declared_names
from fengkong.runtime import build_runtime, compose
from fengkong.settings import Settings

from .conftest import T0

FS = FeatureSet(
    PAYMENT_FEATURES, LabelRiskSpec(windows_days=(1, 3), delay_days=2), CONTEXT_FEATURES
)


def test_context_rows_equal_what_serving_computed(tmp_path: Path) -> None:
    settings = Settings(db_path=tmp_path / "s.db", token_secret="c" * 32)
    rt = build_runtime(settings)
    items = [rt.engine.accept(e) for e in demo_stream()[:700]]
    rt.engine.decide_many(items)
    served = {
        i.event.event_id: orjson.loads(rt.store.decision(i.event.event_id)[1])["features"]  # type: ignore[index]
        for i in items
    }
    rt.close()
    events = [i.event for i in items]
    rows = build_rows(events, [], FS, stages=compose(settings, "training"))
    nonzero = 0
    for j, name in enumerate(rows.names):
        if name not in CONTEXT_FEATURES:
            continue
        for k, event_id in enumerate(rows.event_ids):
            want = served[event_id].get(name)
            got = rows.x[k, j]
            assert (want is None and got != got) or got == want, (name, event_id)
            nonzero += bool(want)
    assert nonzero > 100  # the stream has rings, transfers, QR scans and uploads


def test_context_needs_the_stages() -> None:
    with pytest.raises(ValueError, match="context stages"):
        build_rows([], [], FS)
    assert FeatureSet.from_dict(FS.to_dict()) == FS


def test_a_context_model_serves_only_where_the_context_is_composed(
    stream: tuple[list[Event], list[Label]], tmp_path: Path
) -> None:
    events, labels = stream
    settings = Settings(db_path=tmp_path / "m.db", token_secret="c" * 32)
    start = (T0 + timedelta(days=3)).timestamp()
    rows = build_rows(events, labels, FS, start=start, stages=compose(settings, "training"))
    cfg = TrainConfig(
        start=start,
        train_days=6,
        valid_days=2,
        gap_days=2,
        test_days=4,
        label_delay_days=2,
        rounds=30,
        early_stopping=10,
        num_threads=1,
        anomaly_trees=5,
    )
    model = train_model(rows, labels, FS, cfg).model
    context = [n for n in model.features if n in CONTEXT_FEATURES]
    assert context, "the model reads no context feature"
    engine_defs = {n: t for n, t in FS.definition_texts().items() if n not in CONTEXT_FEATURES}
    served = declared_names(compose(settings, "export"))
    ModelStage(model, defined=engine_defs, context=served)  # loads
    with pytest.raises(ModelLoadError, match="not defined"):
        ModelStage(model, defined=engine_defs)
