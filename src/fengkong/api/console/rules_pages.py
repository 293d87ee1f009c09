"""Rules: versions and diffs, an editor with the validator's errors inline, a backtest
of the edited set beside the live one on stored history, publish and roll back."""

from __future__ import annotations

import asyncio
import difflib
import json
from itertools import islice
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fengkong.api.console.web import (
    Forbidden,
    Session,
    audited,
    form_of,
    redirect,
    render,
    runtime_of,
    session_of,
)
from fengkong.events import EventValidationError, parse_event
from fengkong.rules import CompiledRuleSet, RuleSetInvalid, compile_ruleset, parse_ruleset
from fengkong.rules.backtest import LabelIndex
from fengkong.runtime import Runtime, backtest_events, compose

READERS = ("analyst", "rule_admin", "auditor")
BACKTEST_EVENTS = 5000


def _pretty(rt: Runtime, version: int) -> str:
    body = rt.rule_store.get_version(version).model_dump(mode="json")
    return json.dumps(body, indent=2, ensure_ascii=False)


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/rules")
    async def rules(request: Request) -> Response:
        session = session_of(request, *READERS)
        rt = runtime_of(request)
        versions = rt.rule_store.versions()
        live = rt.rule_store.live_version()
        text = _pretty(rt, live.version) if live else "{}"
        diff = _diff(rt, request.query_params.get("a"), request.query_params.get("b"))
        return _page(request, session, text=text, versions=versions, live=live, diff=diff)

    @r.post("/rules/edit")
    async def edit(request: Request) -> Response:
        session = session_of(request, *READERS)
        form = await form_of(request, session)
        rt = runtime_of(request)
        text = str(form.get("ruleset", ""))
        action = str(form.get("action", "validate"))
        compiled, problems = _compile(rt, text)
        report = None
        if compiled is not None and action == "backtest":
            await audited(request, session, "backtest", "console", data={"events": "stored"})
            report = await asyncio.to_thread(_backtest, rt, compiled)
        elif compiled is not None and action == "publish":
            _need_admin(session)
            info = rt.rule_store.publish(
                parse_ruleset(json.loads(text)),
                author=session.who,
                comment=str(form.get("comment", ""))[:2000] or "from the console",
            )
            return redirect(f"/rules?msg=published {info.label}")
        return _page(
            request,
            session,
            status=200 if compiled is not None else 422,
            text=text,
            versions=rt.rule_store.versions(),
            live=rt.rule_store.live_version(),
            problems=problems,
            valid=compiled is not None,
            warnings=[str(w) for w in compiled.warnings] if compiled is not None else [],
            report=report,
        )

    @r.post("/rules/rollback")
    async def rollback(request: Request) -> Response:
        session = session_of(request, "rule_admin")
        form = await form_of(request, session)
        to = int(form["to"]) if str(form.get("to", "")).isdigit() else None
        try:
            info = rt_rollback(runtime_of(request), to, session.who)
        except (KeyError, LookupError, RuleSetInvalid) as exc:
            raise ValueError(f"rollback: {exc}") from None
        return redirect(f"/rules?msg=live {info}")

    return r


def rt_rollback(rt: Runtime, to: int | None, who: str) -> str:
    return rt.rule_store.rollback(to, author=who).label


def _need_admin(session: Session) -> None:
    if not session.can("rule_admin"):
        raise Forbidden(403, "publishing needs the role rule_admin")


def _page(request: Request, session: Session, status: int = 200, **context: Any) -> Response:
    context.setdefault("problems", [])
    context.setdefault("warnings", [])
    context.setdefault("valid", None)
    context.setdefault("report", None)
    context.setdefault("diff", None)
    message = request.query_params.get("msg")
    return render(request, session, "rules.html", status, message=message, **context)


def _compile(rt: Runtime, text: str) -> tuple[CompiledRuleSet | None, list[dict[str, Any]]]:
    """The compiled candidate, or the problems to show beside the editor."""
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        return None, [{"rule": None, "message": f"JSON: {exc.msg} ({where})", "suggestions": []}]
    if not isinstance(body, dict):
        return None, [{"rule": None, "message": "a rule set is a JSON object", "suggestions": []}]
    try:
        return compile_ruleset(
            parse_ruleset(body), rt.rule_store.known_names, version="candidate"
        ), []
    except RuleSetInvalid as exc:
        return None, [p.as_dict() for p in exc.problems] or [
            {"rule": None, "message": str(exc), "suggestions": []}
        ]


def _backtest(rt: Runtime, candidate: CompiledRuleSet) -> dict[str, Any]:
    """The candidate beside the live set on the newest stored events and their labels."""
    snap = rt.rule_store.snapshot()
    sets = {"candidate": candidate}
    if snap.ruleset is not None:
        sets["live"] = snap.ruleset
    start = max(0, rt.store.last_seq() - BACKTEST_EVENTS)
    events = []
    for _, body in islice(rt.store.events_after(start), BACKTEST_EVENTS):
        try:
            events.append(parse_event(body))
        except EventValidationError:
            continue
    events.sort(key=lambda e: e.occurred_at)
    labels = LabelIndex.from_labels(rt.store.labels())
    stages = compose(rt.settings, "backtest")
    report = backtest_events(events, sets, labels, lists=snap.lists, stages=stages).as_dict()
    legit = report["events"] - report.get("fraud_events", 0)
    for item in report["sets"].values():
        fraud_acted = (item.get("precision") or 0.0) * item["acted"]
        item["friction"] = (item["acted"] - fraud_acted) / legit if legit else None
    return report


def _diff(rt: Runtime, a: str | None, b: str | None) -> str | None:
    if not (a and b and a.isdigit() and b.isdigit()):
        return None
    try:
        left, right = _pretty(rt, int(a)), _pretty(rt, int(b))
    except KeyError:
        return None
    lines = difflib.unified_diff(
        left.splitlines(), right.splitlines(), f"r{a}", f"r{b}", lineterm="", n=2
    )
    return "\n".join(lines) or "(no difference)"
