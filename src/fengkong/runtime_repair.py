"""The state repair of a server on PostgreSQL + Redis (``features/state_repair.py``):
the stages it recounts with, and the loop every worker runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import redis

from fengkong.decisions import DecisionContext, Pipeline
from fengkong.documents.stage import DocumentsStage
from fengkong.events import Event, normalise
from fengkong.events.limits import STORED_LIMITS
from fengkong.features import FeatureEngine
from fengkong.features.stage import FeaturesStage
from fengkong.features.state_redis import STATE_NAMESPACE, RedisSession, RedisState
from fengkong.features.state_repair import StateRepair
from fengkong.graph.flow_stage import FlowsStage

if TYPE_CHECKING:
    from fengkong.decisions import Engine
    from fengkong.settings import Settings
    from fengkong.storage.postgres import PostgresStore


class Recounter:
    """Copies of the pipeline's stages on Redis (features, flows, document reuse) on a
    cycle of their own, built per call from the live definitions: each lost event is
    applied as a decided one is (the cycle's fetch, each stage's update, the held write
    with its claim), the events of one call written together once all are applied."""

    def __init__(self, pipeline: Pipeline, client: redis.Redis, secret: bytes) -> None:
        self.pipeline = pipeline
        self.client = client
        self.secret = secret

    def _stages(self, session: RedisSession) -> list[Any]:
        out: list[Any] = []
        for stage in self.pipeline.stages:
            if isinstance(stage, FeaturesStage) and getattr(stage.engine.state, "shared", False):
                live = stage.engine
                state = RedisState.on(session.features())
                engine = FeatureEngine(
                    live.definitions, max_distinct=live.max_distinct, state=state
                )
                state.ttl_s = engine.entity_horizons()
                out.append(FeaturesStage(engine))
            elif isinstance(stage, FlowsStage) and stage.session.shared:
                out.append(FlowsStage(stage.inflows.window_s, session.stage("flows")))
            elif isinstance(stage, DocumentsStage) and stage.session.shared:
                out.append(DocumentsStage(session=session.stage("documents")))
        return out

    def __call__(self, events: Sequence[Event]) -> int:
        if not events:
            return 0
        session = RedisSession(self.client, self.secret, namespace=STATE_NAMESPACE)
        stages = self._stages(session)
        cycle = session.cycle
        held = []
        for event in events:
            cycle.open_event(event)
            ctx = DecisionContext(event)
            for stage in stages:
                recount = getattr(stage, "recount", None)
                (recount or stage.update)(ctx)
            entry = cycle.close_event(event.event_id)
            if entry is not None:
                held.append(entry)
        for entry in held:
            entry.committed = True
        cycle.flush()
        return len(held) - cycle.duplicates


def open_repair(
    settings: Settings, engine: Engine, store: PostgresStore, secret: bytes
) -> StateRepair:
    """The repair loop of this worker (started; :meth:`StateRepair.close` stops it)."""
    assert settings.state.redis_url is not None  # checked by the settings
    client = redis.Redis.from_url(settings.state.redis_url.get_secret_value())
    tokenizer = engine.tokenizer

    def parse(body: bytes) -> Event:
        return normalise(body, tokenizer, STORED_LIMITS)

    repair = StateRepair(
        client,
        store,
        parse,
        Recounter(engine.pipeline, client, secret),
        interval_s=settings.state.repair_interval_s,
        grace_s=settings.state.repair_grace_s,
    )
    repair.start()
    return repair
