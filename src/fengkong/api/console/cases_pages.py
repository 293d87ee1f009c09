"""Queue, inboxes and the case page, with the actions an analyst takes on a case."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fengkong.api.cases_routes import close_case
from fengkong.api.console import casefile
from fengkong.api.console.svg import graph_svg
from fengkong.api.console.web import (
    Forbidden,
    Session,
    audited,
    cases_of,
    form_of,
    redirect,
    render,
    runtime_of,
    session_of,
)
from fengkong.cases import CaseError, Inbox
from fengkong.rules import FREEZE_KINDS

PAGE = 50
# The inbox counts on the queue page may be this old (they read every active case).
COUNTS_MAX_AGE_S = 10.0
WORKERS = ("analyst", "admin")


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/")
    async def queue(request: Request) -> Response:
        session = session_of(request, "analyst", "auditor")
        cases = cases_of(request)
        q = request.query_params
        inbox = q.get("inbox") or None
        mine = q.get("mine") == "1"
        after = _after(q.get("after"))
        found, counts = await asyncio.to_thread(
            lambda: (
                cases.queue(
                    inbox=inbox, assignee=session.who if mine else None, after=after, limit=PAGE
                ),
                cases.counts(max_age_s=COUNTS_MAX_AGE_S),
            )
        )
        await audited(request, session, "view", "queue", data={"inbox": inbox, "n": len(found)})
        nxt = f"{found[-1].due_at!r}|{found[-1].case_id}" if len(found) == PAGE else None
        return render(
            request,
            session,
            "queue.html",
            cases=found,
            counts=counts,
            inboxes=cases.inboxes(),
            inbox=inbox,
            mine=mine,
            next_after=nxt,
            now=time.time(),
            message=q.get("msg"),
        )

    @r.post("/queue/next")
    async def take_next(request: Request) -> Response:
        session = session_of(request, *WORKERS)
        form = await form_of(request, session)
        inbox = form.get("inbox") or None
        taken = await asyncio.to_thread(cases_of(request).next_unassigned, session.who, inbox)
        if taken is None:
            return redirect("/?msg=empty_queue")
        return redirect(f"/cases/{taken}")

    @r.post("/queue/bulk")
    async def bulk(request: Request) -> Response:
        session = session_of(request, *WORKERS)
        form = await form_of(request, session)
        ids = _ids(form.get("case_id[]"))
        action = str(form.get("action", ""))
        cases = cases_of(request)
        if action in ("assign_me", "release"):
            who = session.who if action == "assign_me" else None
            await asyncio.to_thread(cases.assign, ids, who, session.who)
        elif action == "round_robin":
            names = [n.strip() for n in str(form.get("analysts", "")).split(",") if n.strip()]
            await asyncio.to_thread(
                cases.round_robin, names, session.who, form.get("inbox") or None
            )
        elif action in ("confirmed_fraud", "false_positive", "inconclusive"):
            for case_id in ids:
                await _close(request, session, case_id, action)
        else:
            raise CaseError(f"unknown bulk action {action!r}", "action")
        return redirect("/?msg=done")

    @r.post("/queue/inbox")
    async def set_inbox(request: Request) -> Response:
        session = session_of(request, "admin")
        form = await form_of(request, session)
        patterns = tuple(p.strip() for p in str(form.get("patterns", "")).split(",") if p.strip())
        try:
            hours = float(form.get("sla_hours", ""))
            position = int(form.get("position", "500"))
        except ValueError:
            raise CaseError("SLA hours and position are numbers", "sla_hours") from None
        inbox = Inbox(
            str(form.get("name", "")).strip(), patterns, hours * 3600, str(form.get("title", ""))
        )
        await asyncio.to_thread(cases_of(request).set_inbox, inbox, position, session.who)
        return redirect(f"/?inbox={inbox.name}&msg=done")

    @r.get("/cases/{case_id}")
    async def case_page(request: Request, case_id: str) -> Response:
        session = session_of(request, "analyst", "auditor")
        rt = runtime_of(request)
        cases = cases_of(request)
        case = await asyncio.to_thread(cases.get, case_id)
        if case is None:
            return render(request, session, "error.html", 404, message=f"no case {case_id}")
        users = case.members or [case.subject]
        await audited(
            request, session, "read", case_id, user=users[0], data={"accounts": users[:20]}
        )
        held = await asyncio.to_thread(cases.events, case_id)
        entries = await asyncio.to_thread(casefile.timeline, rt, users, {e for e, _ in held})
        async with rt.engine.deciding():  # between units (a unit may be in its thread)
            hood = casefile.graph_of(rt, users[0])
        if hood is not None and case.kind == "ring":  # the mined ring's accounts, too
            hood.ring |= {k for k in (f"a:{m}" for m in users) if k in hood.nodes}
        flows = await asyncio.to_thread(casefile.fund_flow, rt, users)
        return render(
            request,
            session,
            "case.html",
            case=case,
            entries=entries,
            history=await asyncio.to_thread(cases.history, case_id),
            graph=graph_svg(hood) if hood is not None and hood.nodes else None,
            hood=hood,
            flows=flows,
            freeze_kinds=FREEZE_KINDS,
            now=time.time(),
            message=request.query_params.get("msg"),
        )

    @r.post("/cases/{case_id}/act")
    async def act(request: Request, case_id: str) -> Response:
        session = session_of(request, *WORKERS)
        form = await form_of(request, session)
        action = str(form.get("action", ""))
        cases = cases_of(request)
        msg = "done"
        if action in ("confirmed_fraud", "false_positive", "inconclusive"):
            msg = f"labels:{await _close(request, session, case_id, action)}"
        elif action in ("investigating", "open"):
            await asyncio.to_thread(cases.move, case_id, action, session.who)
        elif action == "note":
            await asyncio.to_thread(cases.note, case_id, str(form.get("note", "")), session.who)
        elif action == "escalate":
            await asyncio.to_thread(cases.escalate, case_id, session.who, str(form.get("note", "")))
        elif action == "assign_me":
            await asyncio.to_thread(cases.assign, [case_id], session.who, session.who)
        elif action in ("freeze", "list_add"):
            await _protect(request, session, case_id, action, form)
        else:
            raise CaseError(f"unknown action {action!r}", "action")
        await audited(request, session, "case_action", case_id, data={"action": action})
        return redirect(f"/cases/{case_id}?msg={msg}")

    return r


async def _close(request: Request, session: Session, case_id: str, outcome: str) -> int:
    """Close with ``outcome`` as the API does: labels and close in one commit."""
    return await close_case(runtime_of(request), cases_of(request), case_id, outcome, session.who)


async def _protect(
    request: Request, session: Session, case_id: str, action: str, form: dict[str, Any]
) -> None:
    """Freeze an entity, or put a value on a list, from the case (rule_admin or admin)."""
    if not session.can("rule_admin"):
        raise Forbidden(403, "freezing and lists need the role rule_admin")
    rt = runtime_of(request)
    value = str(form.get("value", "")).strip()
    if action == "freeze":
        kind = str(form.get("kind", "user"))
        reason = str(form.get("reason", "")).strip() or f"case {case_id}"
        await asyncio.to_thread(
            rt.rule_store.freeze, kind, value, "block", reason, created_by=session.who
        )
        detail: dict[str, Any] = {"kind": kind, "value": value}
    else:
        name = str(form.get("list", "")).strip()
        await asyncio.to_thread(rt.rule_store.add_to_list, name, [value], note=f"case {case_id}")
        detail = {"list": name, "value": value}
    await asyncio.to_thread(cases_of(request).record, case_id, action, session.who, detail)


def _after(raw: str | None) -> tuple[float, str] | None:
    if not raw or "|" not in raw:
        return None
    due, _, case_id = raw.partition("|")
    try:
        return float(due), case_id
    except ValueError:
        return None


def _ids(raw: Any) -> list[str]:
    if raw is None:
        return []
    values = raw if isinstance(raw, list) else [raw]
    return [str(v) for v in values][:1000]
