"""The HTTP API: the public decision API and the labels feed.

Errors a client can cause are 4xx with a JSON body naming the field, never a 500:
422 for bad input, 409 for an ``event_id`` reused with another body, 413 for a body
over the limit, 415 for a body that is not JSON, 404 for an unknown decision. When the
server cannot go on it answers 503 with ``Retry-After`` (see :mod:`fengkong.api.errors`
and :mod:`fengkong.api.load`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from fastapi_offline import FastAPIOffline

from fengkong import __version__
from fengkong.api import errors, secure
from fengkong.api.auth import authorise, require
from fengkong.api.cases_routes import cases_router
from fengkong.api.challenges_routes import challenge_outcome, challenges_router, sweep_challenges
from fengkong.api.console import mount_console
from fengkong.api.errors import Health, JSONOnly, not_json, unavailable
from fengkong.api.fast import HotRoute, put_first
from fengkong.api.load import Admission, Overloaded
from fengkong.api.metrics import Metrics
from fengkong.api.schemas import (
    DecisionOut,
    HealthOut,
    LabelsStoredOut,
    MessageOut,
    ValidationErrorOut,
)
from fengkong.api.sharing_routes import sharing_router
from fengkong.decisions import Engine, IdempotencyConflict
from fengkong.events import (
    Event,
    EventValidationError,
    FieldError,
    Label,
    decode_json,
    parse_label,
)
from fengkong.runtime import Runtime, build_runtime
from fengkong.settings import Settings

log = logging.getLogger(__name__)

_JSON = "application/json"
INGEST = ("ingest",)


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds {limit} bytes")


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=_JSON)


def _errors(errors: list[FieldError]) -> Response:
    return _json({"detail": [e.as_dict() for e in errors]}, 422)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _body_schema(name: str, array: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"$ref": f"#/components/schemas/{name}"}
    schema: dict[str, Any] = ref
    if array:
        items = {"type": "array", "items": ref, "maxItems": 1000}
        wrapped = {"type": "object", "properties": {"events": items}, "required": ["events"]}
        schema = {"oneOf": [items, wrapped if name == "Event" else ref]}
    return {"requestBody": {"required": True, "content": {_JSON: {"schema": schema}}}}


_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"model": MessageOut, "description": "event_id reused with another body"},
    413: {"model": MessageOut, "description": "body too large"},
    422: {"model": ValidationErrorOut, "description": "invalid input, field by field"},
}


def create_app(
    settings: Settings, runtime: Runtime | None = None, *, close_runtime: bool = False
) -> FastAPI:
    """The FastAPI application over an embedded engine built from ``settings``.

    Without ``runtime`` the app builds its own at start-up and closes it at shutdown;
    a given one is closed at shutdown only with ``close_runtime`` (``fengkong serve``
    builds it first, so that a damaged store is refused before the port opens).
    """
    metrics = Metrics()
    health = Health()
    admission = Admission(settings.max_inflight, settings.shed_loop_lag_s or float("inf"))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or build_runtime(settings, server=True)
        app.state.runtime = rt
        secure.open_security(app, rt.settings)
        if runtime is None:
            _mount_rules(app, rt)
        for stage in rt.engine.pipeline.stages:
            if hasattr(stage, "drift_gauges") and hasattr(stage, "drift_alert"):
                metrics.watch_drift(stage)  # type: ignore[arg-type]
        if rt.repair is not None:
            metrics.watch_repair(rt.repair)
        housekeeping = asyncio.create_task(_maintain(rt, settings.maintenance_interval_s))
        lag = asyncio.create_task(admission.watch_lag())
        sweeper = asyncio.create_task(sweep_challenges(app, settings.challenges.sweep_interval_s))
        snapshots = asyncio.create_task(_snapshots(rt, settings.snapshot_interval_s))
        try:
            yield
        finally:
            housekeeping.cancel()
            lag.cancel()
            sweeper.cancel()
            snapshots.cancel()
            secure.close_security(app)
            if runtime is None or close_runtime:
                rt.close()

    # Swagger UI and ReDoc from the packaged assets: /docs works offline, no CDN.
    app = FastAPIOffline(
        title="fengkong",
        version=__version__,
        summary="Real-time risk decisions: allow, challenge, review or block.",
        lifespan=lifespan,
    )

    def engine_of(request: Request) -> Engine:
        rt: Runtime = request.app.state.runtime
        return rt.engine

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> Response:
        metrics.rejected.labels("413").inc()
        return _json({"detail": str(exc)}, 413)

    @app.exception_handler(EventValidationError)
    async def _invalid(request: Request, exc: EventValidationError) -> Response:
        metrics.rejected.labels("422").inc()
        return _errors(exc.errors)

    @app.exception_handler(IdempotencyConflict)
    async def _conflict(request: Request, exc: IdempotencyConflict) -> Response:
        metrics.rejected.labels("409").inc()
        return _json({"detail": str(exc), "field": exc.field}, 409)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
        metrics.rejected.labels("422").inc()
        errors = [FieldError(tuple(e["loc"]), e["msg"], e["type"]) for e in exc.errors()]
        return _errors(errors)

    @app.exception_handler(Overloaded)
    async def _overloaded(request: Request, exc: Overloaded) -> Response:
        metrics.rejected.labels("503").inc()
        return unavailable(f"server saturated ({exc.reason}); retry", settings.retry_after_s)

    errors.install(app, health, settings.retry_after_s, lambda s: metrics.rejected.labels(s).inc())

    async def hot_event(request: Request) -> bytes:
        authorise(request, INGEST)
        return await decide_body(request)

    put_first(app, lambda stack: HotRoute(stack, "POST", "/v1/events", hot_event, not_json))
    app.add_middleware(JSONOnly, exempt=("/console/",))

    counted: dict[str, Any] = {}  # a counter per outcome, looked up once

    def _timed(outcomes: list[dict[str, Any]], started: float) -> None:
        metrics.latency.observe(time.perf_counter() - started)
        for out in outcomes:
            outcome = out["decision"]
            counter = counted.get(outcome)
            if counter is None:
                counter = counted[outcome] = metrics.decisions.labels(outcome)
            counter.inc()

    @app.post(
        "/v1/events",
        response_model=DecisionOut,
        responses=_ERRORS,
        openapi_extra=_body_schema("Event"),
        summary="Decide on one event",
        dependencies=[require("ingest")],
    )
    async def post_event(request: Request) -> Response:
        return Response(await decide_body(request), media_type=_JSON)

    async def decide_body(request: Request) -> bytes:
        started = time.perf_counter()
        engine = engine_of(request)
        with admission.hold(1):
            body = await _read_body(request, settings.max_body_bytes)
            item = engine.accept(body)
            (decision,) = await engine.decide_async([item])
        health.recover("store")
        _timed([decision], started)
        return orjson.dumps(decision)

    @app.post(
        "/v1/events/batch",
        response_model=list[DecisionOut],
        responses=_ERRORS,
        openapi_extra=_body_schema("Event", array=True),
        summary="Decide on up to max_batch events, in order",
        dependencies=[require("ingest")],
    )
    async def post_batch(request: Request) -> Response:
        started = time.perf_counter()
        engine = engine_of(request)
        body = await _read_body(request, settings.max_body_bytes * 16)
        payload = decode_json(body)
        events = payload.get("events") if isinstance(payload, dict) else payload
        if not isinstance(events, list):
            raise EventValidationError(
                [FieldError(("events",), "give a JSON array of events", "list_type")]
            )
        if len(events) > settings.max_batch:
            raise EventValidationError(
                [
                    FieldError(
                        ("events",),
                        f"a batch holds at most {settings.max_batch} events, got {len(events)}",
                        "too_long",
                    )
                ]
            )
        with admission.hold(len(events)):
            items = await engine.accept_many_async(events)
            decisions = await engine.decide_async(items)
        health.recover("store")
        _timed(decisions, started)
        return _json(decisions)

    @app.get(
        "/v1/decisions/{event_id:path}",
        response_model=DecisionOut,
        responses={404: {"model": MessageOut}},
        summary="The decision stored for an event; explain=true adds features and rule hits",
    )
    async def get_decision(
        request: Request,
        event_id: str,
        who: Annotated[secure.KeyInfo, require("analyst")],
        explain: bool = False,
        unmask: bool = False,
    ) -> Response:
        found = engine_of(request).store.decision(event_id)
        if found is None:
            return _json({"detail": f"no decision for event_id {event_id!r}"}, 404)
        decision = orjson.loads(found[0])
        if (outcome := challenge_outcome(request, decision)) is not None:
            decision["challenge_outcome"] = outcome
        if explain:
            decision["explain"] = orjson.loads(found[1])
        return _json(await secure.analyst_view(request, event_id, decision, who, unmask=unmask))

    @app.post(
        "/v1/labels",
        status_code=201,
        response_model=LabelsStoredOut,
        responses=_ERRORS,
        openapi_extra=_body_schema("Label", array=True),
        summary="Record fraud / legit labels on events or accounts",
        dependencies=[require("labeler")],
    )
    async def post_labels(request: Request) -> Response:
        body = await _read_body(request, settings.max_body_bytes * 16)
        payload = decode_json(body)
        raws = payload if isinstance(payload, list) else [payload]
        if len(raws) > settings.max_batch:
            message = f"at most {settings.max_batch} labels at once, got {len(raws)}"
            raise EventValidationError([FieldError(("labels",), message, "too_long")])
        limits = engine_of(request).limits
        labels: list[Label] = []
        errors: list[FieldError] = []
        for i, raw in enumerate(raws):
            try:
                if not isinstance(raw, dict):
                    raise EventValidationError([FieldError((), "expected an object", "dict_type")])
                labels.append(parse_label(raw, limits, live=True))
            except EventValidationError as exc:
                errors.extend(exc.prefixed(i).errors if isinstance(payload, list) else exc.errors)
        if errors:
            raise EventValidationError(errors)
        # The same label twice is one fact: stored once (the store ignores repeats too).
        stored = await engine_of(request).add_labels_async(dict.fromkeys(labels))
        health.recover("store")
        return _json({"stored": stored}, 201)

    @app.get("/healthz", response_model=HealthOut, summary="Liveness and readiness")
    async def healthz(request: Request) -> Response:
        rt: Runtime = request.app.state.runtime
        status, reasons = health.status()
        if (busy := admission.overloaded()) is not None:
            status, reasons = "degraded", [*reasons, f"load: {busy}"]
        return _json(
            {
                "status": status,
                "reasons": reasons,
                "version": __version__,
                "rebuilt_events": rt.rebuilt_events,
            }
        )

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        dependencies=[require(*secure.ANY_ROLE)],
    )
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    app.include_router(challenges_router(settings.max_body_bytes))
    app.include_router(sharing_router(settings))
    app.include_router(cases_router())
    mount_console(app)
    if runtime is not None:
        _mount_rules(app, runtime)
    secure.limit_bodies(app, settings)
    app.openapi = _openapi_with_models(app)  # type: ignore[method-assign]
    return app


async def _maintain(rt: Runtime, every_s: float) -> None:
    """Expire old feature state now and then, between requests (on the event loop)."""
    while True:
        await asyncio.sleep(every_s)
        started = time.perf_counter()
        async with rt.engine.deciding():
            rt.engine.pipeline.maintain(time.time())
        log.info("state maintenance took %.2f s", time.perf_counter() - started)


async def _snapshots(rt: Runtime, every_s: float) -> None:
    """Save a snapshot now and then: it bounds the log tail a start or a recovery reads."""
    while True:
        await asyncio.sleep(every_s)
        if rt.store.last_seq() > rt.engine.snapshot_seq:
            rt.engine.save_snapshot()


def _mount_rules(app: FastAPI, rt: Runtime) -> None:
    """The analyst API for rule sets, lists, freezes and backtests, over the live store."""
    from fengkong.api.rules_routes import rules_router
    from fengkong.runtime import compose

    app.include_router(
        rules_router(
            rt.rule_store,
            tokenizer=rt.engine.tokenizer,
            replay_stages=lambda: compose(rt.settings, "backtest"),
            limits=rt.engine.limits,
            actor=secure.actor_of,
            tokenise_guard=secure.tokenise_guard(rt.settings.tokenise_per_minute),
            view=secure.list_view,
        ),
        dependencies=[secure.rules_access()],
    )
    secure.mount_security_routes(app)
    app.openapi_schema = None


def _openapi_with_models(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """Put the event and label JSON schemas into the OpenAPI components."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (Event, Label):
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        errors.declare_failures(schema, "#/components/schemas/MessageOut")
        app.openapi_schema = schema
        return schema

    return build
