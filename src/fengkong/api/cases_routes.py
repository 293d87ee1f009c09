"""The cases API (``/v1/cases``): the queue, a case, and the actions the console takes.

The console's pages and these routes share :func:`close_case`, so closing from either
writes the same labels in the same commit.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from fengkong.api.auth import require
from fengkong.api.keys import KeyInfo
from fengkong.api.schemas import MessageOut, ValidationErrorOut
from fengkong.api.stores import open_cases
from fengkong.api.strict import strict_json_route
from fengkong.audit.trail import AuditTrail
from fengkong.cases import CaseError, closing_labels
from fengkong.cases.store import CaseStore
from fengkong.decisions.store import LabelRecord
from fengkong.events import Label
from fengkong.runtime import AnyStore, Runtime

Reader = Annotated[KeyInfo, require("analyst", "auditor")]
Worker = Annotated[KeyInfo, require("analyst")]
_404: dict[int | str, dict[str, Any]] = {404: {"model": MessageOut, "description": "no such case"}}
_BODY = ConfigDict(extra="forbid", strict=True)


class CloseBody(BaseModel):
    model_config = _BODY
    outcome: Literal["confirmed_fraud", "false_positive", "inconclusive"]


class AssignBody(BaseModel):
    model_config = _BODY
    assignee: str | None = Field(default=None, max_length=200)


class NoteBody(BaseModel):
    model_config = _BODY
    text: str = Field(min_length=1, max_length=4000)


class StatusBody(BaseModel):
    model_config = _BODY
    status: Literal["open", "investigating"]


def event_store(rt: Runtime) -> AnyStore:
    """The runtime's event store (the file or PostgreSQL): cases live beside it."""
    return rt.store


def case_store(request: Request) -> CaseStore:
    """The app's case store over the runtime's database (opened on first use)."""
    state = request.app.state
    if getattr(state, "case_store", None) is None:
        rt: Runtime = state.runtime
        state.case_store = open_cases(rt.settings.shared_db())
    store: CaseStore = state.case_store
    return store


async def close_case(rt: Runtime, cases: CaseStore, case_id: str, outcome: str, actor: str) -> int:
    """Close with ``outcome``: its labels and the close in one commit, then the feedback
    to the stages that learn from labels (as ``POST /v1/labels`` gives it)."""
    case = await asyncio.to_thread(cases.get, case_id)
    if case is None:
        raise CaseError(f"no case {case_id}")
    held = await asyncio.to_thread(cases.events, case_id, 10_000)
    now = time.time()
    drafts = closing_labels(outcome, case.members or [case.subject], [e for e, _ in held], now)
    records = [LabelRecord(d.event_id, d.user_id, d.label, "confirmed_case", d.at) for d in drafts]

    def commit() -> None:
        event_store(rt).add_labels(
            records, within=lambda conn, _: cases.close_in(conn, case_id, outcome, actor, now)
        )

    await asyncio.to_thread(commit)
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    labels = [
        Label.model_validate(
            {"event_id": d.event_id, "user_id": d.user_id, "label": d.label}
            | {"source": "confirmed_case", "at": at}
        )
        for d in drafts
    ]
    async with rt.engine.deciding():  # never inside a unit being decided
        rt.engine.pipeline.apply_labels(labels)
    return len(records)


def cases_router() -> APIRouter:
    r = APIRouter(
        prefix="/v1/cases",
        tags=["cases"],
        route_class=strict_json_route(),
        responses={422: {"model": ValidationErrorOut, "description": "invalid input, by field"}},
    )

    def run(call: Any) -> Any:
        try:
            return call()
        except CaseError as exc:
            code = 404 if str(exc).startswith("no case") else 409
            raise HTTPException(code, f"{exc.field}: {exc}") from None

    @r.get("")
    def queue(
        request: Request,
        who: Reader,
        inbox: Annotated[str | None, Query(max_length=64)] = None,
        assignee: Annotated[str | None, Query(max_length=200)] = None,
        after_due: Annotated[float | None, Query(allow_inf_nan=False)] = None,
        after_id: Annotated[str, Query(max_length=32)] = "",
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        """Active cases by due time; the next page starts after the last one's
        ``due_at`` and ``case_id``."""
        store = case_store(request)
        after = (after_due, after_id) if after_due is not None else None
        found = store.queue(inbox=inbox, assignee=assignee, after=after, limit=limit)
        trail: AuditTrail = request.app.state.audit
        trail.record("view", "cases", actor=who.identity, data={"path": request.url.path})
        return {"cases": [c.as_dict() for c in found], "inboxes": store.counts(max_age_s=10.0)}

    @r.get("/{case_id}", responses=_404)
    def get_case(request: Request, case_id: str, who: Reader) -> dict[str, Any]:
        store = case_store(request)
        case = store.get(case_id)
        if case is None:
            raise HTTPException(404, f"no case {case_id}")
        trail: AuditTrail = request.app.state.audit
        data = {"path": request.url.path, "accounts": case.members[:20]}
        trail.record_read(case_id, user=case.subject, actor=who.identity, data=data)
        events = [e for e, _ in store.events(case_id)]
        return {**case.as_dict(), "events": events, "history": store.history(case_id)}

    @r.post("/{case_id}/close", responses=_404)
    async def close(request: Request, case_id: str, body: CloseBody, who: Worker) -> dict[str, Any]:
        rt: Runtime = request.app.state.runtime
        try:
            n = await close_case(rt, case_store(request), case_id, body.outcome, who.identity)
        except CaseError as exc:
            code = 404 if str(exc).startswith("no case") else 409
            raise HTTPException(code, f"{exc.field}: {exc}") from None
        return {"case_id": case_id, "status": "closed", "outcome": body.outcome, "labels": n}

    @r.post("/{case_id}/assign", responses=_404)
    def assign(request: Request, case_id: str, body: AssignBody, who: Worker) -> dict[str, Any]:
        run(lambda: case_store(request).assign([case_id], body.assignee, who.identity))
        return {"case_id": case_id, "assignee": body.assignee}

    @r.post("/{case_id}/status", responses=_404)
    def status(request: Request, case_id: str, body: StatusBody, who: Worker) -> dict[str, Any]:
        run(lambda: case_store(request).move(case_id, body.status, who.identity))
        return {"case_id": case_id, "status": body.status}

    @r.post("/{case_id}/notes", status_code=201, responses=_404)
    def note(request: Request, case_id: str, body: NoteBody, who: Worker) -> dict[str, Any]:
        run(lambda: case_store(request).note(case_id, body.text, who.identity))
        return {"case_id": case_id, "noted": True}

    return r
