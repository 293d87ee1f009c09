"""Analyst API for rules: versions, publish, rollback, lists, freezes, backtest.

The lead mounts it with ``app.include_router(rules_router(store), dependencies=[...])``,
adding the analyst authentication dependency there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from fengkong.api.schemas import MessageOut, RulesInvalidOut
from fengkong.api.strict import strict_json_route
from fengkong.decisions.types import Stage
from fengkong.events import (
    Event,
    EventValidationError,
    FieldError,
    Label,
    Tokenizer,
    normalise,
    parse_event,
    parse_label,
)
from fengkong.events.limits import DEFAULT_LIMITS, Limits
from fengkong.rules import (
    FREEZE_ACTIONS,
    FREEZE_KINDS,
    CompiledRuleSet,
    RuleSetInvalid,
    RuleStore,
    compile_ruleset,
    parse_ruleset,
)
from fengkong.rules.backtest import LabelIndex
from fengkong.runtime import backtest_events

MAX_BACKTEST_EVENTS = 200_000


_BODY = ConfigDict(extra="forbid", strict=True)
_404: dict[int | str, dict[str, Any]] = {
    404: {"model": MessageOut, "description": "no such version, list entry or freeze"}
}
_409: dict[int | str, dict[str, Any]] = {
    409: {"model": MessageOut, "description": "the request conflicts with the live state"}
}
ListName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
ListValue = Annotated[str, Field(min_length=1, max_length=256)]


class PublishBody(BaseModel):
    model_config = _BODY
    ruleset: dict[str, Any]
    author: str = Field(default="", max_length=128)
    comment: str = Field(default="", max_length=2000)
    activate: bool = True


# Versions are SQLite integers; beyond 2^53 JSON clients lose precision anyway.
MAX_VERSION = 2**53
Version = Annotated[int, Path(ge=1, le=MAX_VERSION)]


def _whole(value: Any) -> Any:
    """JSON has one number type: 3.0 is the integer 3 (strings stay refused)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class RollbackBody(BaseModel):
    model_config = _BODY
    to: Annotated[int, Field(ge=1, le=MAX_VERSION), BeforeValidator(_whole)] | None = None
    author: str = Field(default="", max_length=128)


class ListAddBody(BaseModel):
    model_config = _BODY
    values: list[ListValue] = Field(min_length=1, max_length=100_000)
    ttl_seconds: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    note: str = Field(default="", max_length=1000)
    tokenise: str | None = Field(default=None, pattern="^(phone|id_number|bank_card)$")


class ListRemoveBody(BaseModel):
    model_config = _BODY
    values: list[ListValue] = Field(min_length=1, max_length=100_000)


class FreezeBody(BaseModel):
    model_config = _BODY
    kind: str = Field(
        description=f"one of {', '.join(FREEZE_KINDS)}",
        json_schema_extra={"enum": list(FREEZE_KINDS)},
    )
    value: str = Field(min_length=1, max_length=256)
    action: str = Field(
        default="block",
        description=f"one of {', '.join(FREEZE_ACTIONS)}",
        json_schema_extra={"enum": list(FREEZE_ACTIONS)},
    )
    reason: str = Field(min_length=1, max_length=1000, pattern=r"\S")
    ttl_seconds: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    created_by: str = Field(default="", max_length=128)


class BacktestBody(BaseModel):
    model_config = _BODY
    ruleset: dict[str, Any] | None = Field(
        default=None, description="candidate rule set; default: the live one"
    )
    events: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BACKTEST_EVENTS)
    labels: list[dict[str, Any]] = Field(default_factory=list)
    compare_live: bool = True


def _invalid(exc: RuleSetInvalid) -> JSONResponse:
    detail = [{"loc": ["ruleset"], "field": "ruleset", "msg": str(exc), "type": "ruleset_invalid"}]
    return JSONResponse(
        status_code=422,
        content={"detail": detail, "problems": [p.as_dict() for p in exc.problems]},
    )


def _field_error(field: str, exc: ValueError) -> HTTPException:
    return _unprocessable(EventValidationError([FieldError((field,), str(exc), "value_error")]))


def _unprocessable(exc: EventValidationError) -> HTTPException:
    """A 422 of the same shape as every other: ``{"detail": [field errors]}``."""
    return HTTPException(422, [e.as_dict() for e in exc.errors])


def rules_router(
    store: RuleStore,
    *,
    tokenizer: Tokenizer | None = None,
    replay_stages: Callable[[], Sequence[Stage]] | None = None,
    clock: Callable[[], float] = time.time,
    limits: Limits = DEFAULT_LIMITS,
    actor: Callable[[Request], str] | None = None,
    tokenise_guard: Callable[[Request, str, int], None] | None = None,
    view: Callable[[Request, Any], Any] | None = None,
) -> APIRouter:
    """Routes under ``/v1/rules``. ``tokenizer`` tokenises phones/cards given in clear;
    ``replay_stages`` builds fresh enrich/features stages for a backtest. ``actor`` names
    the caller (then ``author`` / ``created_by`` in bodies are ignored: a change is
    attributed to the key that made it); ``tokenise_guard`` is called before raw values
    are tokenised (to rate-limit and audit it) and may raise; ``view`` shapes what list
    and freeze reads return to the caller (masking identifiers for analysts)."""
    r = APIRouter(
        prefix="/v1/rules",
        tags=["rules"],
        route_class=strict_json_route(limits),
        responses={422: {"model": RulesInvalidOut, "description": "invalid input, by field"}},
    )

    def who(request: Request, claimed: str) -> str:
        return actor(request) if actor is not None else claimed

    def shown(request: Request, payload: Any) -> Any:
        return view(request, payload) if view is not None else payload

    def tokenising(request: Request, kind: str, n: int) -> None:
        if tokenise_guard is not None:
            tokenise_guard(request, kind, n)

    @r.get("/versions")
    def versions() -> list[dict[str, Any]]:
        return [v.as_dict() for v in store.versions()]

    @r.get("/versions/{version}", responses=_404)
    def get_version(version: Version) -> dict[str, Any]:
        try:
            return store.get_version(version).model_dump(mode="json")
        except KeyError:
            raise HTTPException(404, f"no rule set version {version}") from None

    @r.get("/live", responses=_404)
    def live() -> dict[str, Any]:
        info = store.live_version()
        if info is None:
            raise HTTPException(404, "nothing is live")
        return info.as_dict()

    @r.post("/validate", response_model=None)
    def validate(body: dict[str, Any]) -> dict[str, Any] | JSONResponse:
        try:
            compiled = compile_ruleset(parse_ruleset(body), store.known_names)
        except RuleSetInvalid as exc:
            return _invalid(exc)
        return {
            "ok": True,
            "rules": len(compiled.rules),
            "warnings": [p.as_dict() for p in compiled.warnings],
        }

    @r.post("/versions", status_code=201, response_model=None)
    def publish(request: Request, body: PublishBody) -> dict[str, Any] | JSONResponse:
        try:
            info = store.publish(
                parse_ruleset(body.ruleset),
                author=who(request, body.author),
                comment=body.comment,
                activate=body.activate,
            )
        except RuleSetInvalid as exc:
            return _invalid(exc)
        return info.as_dict()

    @r.post("/rollback", responses={**_404, **_409})
    def rollback(request: Request, body: RollbackBody) -> dict[str, Any]:
        try:
            return store.rollback(body.to, author=who(request, body.author)).as_dict()
        except KeyError as exc:
            raise HTTPException(404, str(exc.args[0])) from None
        except (LookupError, RuleSetInvalid) as exc:
            raise HTTPException(409, str(exc)) from None

    @r.get("/history")
    def history() -> list[dict[str, Any]]:
        return store.history()

    # -- lists --------------------------------------------------------------------------
    @r.get("/lists")
    def list_names() -> dict[str, int]:
        return store.list_names()

    @r.get("/lists/{name}")
    def list_entries(
        request: Request, name: ListName, include_expired: bool = False
    ) -> list[dict[str, Any]]:
        entries = store.list_entries(name, include_expired=include_expired)
        return shown(request, [e.as_dict() for e in entries])  # type: ignore[no-any-return]

    @r.post("/lists/{name}", status_code=201, responses={400: {"model": MessageOut}})
    def list_add(request: Request, name: ListName, body: ListAddBody) -> dict[str, Any]:
        values = body.values
        if body.tokenise is not None:
            if tokenizer is None:
                raise HTTPException(400, "no tokenizer configured: send tokens")
            tokenising(request, body.tokenise, len(values))
            values = [tokenizer.token(body.tokenise, v) for v in values]
        expires = None if body.ttl_seconds is None else clock() + body.ttl_seconds
        try:
            n = store.add_to_list(name, values, expires_at=expires, note=body.note)
        except ValueError as exc:
            raise _field_error("values", exc) from None
        return {"list": name, "added": n, "expires_at": expires}

    @r.post("/lists/{name}/remove")
    def list_remove(name: ListName, body: ListRemoveBody) -> dict[str, Any]:
        return {"list": name, "removed": store.remove_from_list(name, body.values)}

    # -- freezes ------------------------------------------------------------------------
    @r.get("/freezes")
    def freezes(request: Request, include_expired: bool = False) -> list[dict[str, Any]]:
        found = store.freezes(include_expired=include_expired)
        return shown(request, [f.as_dict() for f in found])  # type: ignore[no-any-return]

    @r.post("/freezes", status_code=201)
    def freeze(request: Request, body: FreezeBody) -> dict[str, Any]:
        value = body.value
        if body.kind == "phone" and tokenizer is not None:
            if not value.startswith("tk_"):
                tokenising(request, "phone", 1)
            value = tokenizer.token("phone", value)
        expires = None if body.ttl_seconds is None else clock() + body.ttl_seconds
        try:
            f = store.freeze(
                body.kind,
                value,
                body.action,
                body.reason,
                expires_at=expires,
                created_by=who(request, body.created_by),
            )
        except ValueError as exc:
            raise _field_error("kind", exc) from None
        return f.as_dict()

    @r.delete("/freezes/{kind}/{value}", responses=_404)
    def unfreeze(kind: str, value: str) -> dict[str, Any]:
        if not store.unfreeze(kind, value):
            raise HTTPException(404, f"no freeze on {kind}={value}")
        return {"kind": kind, "value": value, "unfrozen": True}

    # -- backtest -----------------------------------------------------------------------
    @r.post("/backtest", response_model=None, responses=_409)
    def backtest(request: Request, body: BacktestBody) -> dict[str, Any] | JSONResponse:
        snap = store.snapshot()
        sets: dict[str, CompiledRuleSet] = {}
        if body.ruleset is not None:
            try:
                sets["candidate"] = compile_ruleset(
                    parse_ruleset(body.ruleset), store.known_names, version="candidate"
                )
            except RuleSetInvalid as exc:
                return _invalid(exc)
        if snap.ruleset is not None and (body.compare_live or not sets):
            sets["live"] = snap.ruleset
        if not sets:
            raise HTTPException(409, "no candidate given and nothing is live")
        tokenising(request, "backtest", 1)
        events = _events(body.events, tokenizer, limits)
        labels = LabelIndex.from_labels(_labels(body.labels, limits))
        stages = replay_stages() if replay_stages is not None else None
        report = backtest_events(events, sets, labels, lists=snap.lists, stages=stages)
        return report.as_dict()

    return r


def _events(
    raw: list[dict[str, Any]], tokenizer: Tokenizer | None, limits: Limits
) -> Iterator[Event]:
    out: list[Event] = []
    for i, item in enumerate(raw):
        try:
            out.append(
                normalise(item, tokenizer, limits) if tokenizer else parse_event(item, limits)
            )
        except EventValidationError as exc:
            raise exc.prefixed("events", i) from None
    out.sort(key=lambda e: e.occurred_at)  # replay needs time order
    return iter(out)


def _labels(raw: list[dict[str, Any]], limits: Limits) -> list[Label]:
    out: list[Label] = []
    for i, item in enumerate(raw):
        try:
            out.append(parse_label(item, limits))
        except EventValidationError as exc:
            raise _unprocessable(exc.prefixed("labels", i)) from None
    return out
