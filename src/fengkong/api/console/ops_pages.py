"""Dashboards (decision mix, rule precision from labels, scores, latency, drift, queues)
and the emergency page (freeze by entity or list, stricter rules, in one audited action).

Dashboards read the newest ``WINDOW`` stored events and their decisions (the log's
sequence index bounds the cost whatever the store's size).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from fengkong.api.cases_routes import event_store
from fengkong.api.console.svg import bars_svg
from fengkong.api.console.web import (
    audited,
    cases_of,
    form_of,
    redirect,
    render,
    runtime_of,
    session_of,
)
from fengkong.rules import FREEZE_ACTIONS, FREEZE_KINDS, parse_ruleset
from fengkong.runtime import Runtime

WINDOW = 20_000
_MIX = (("allow", "#8fbf8f"), ("challenge", "#f0c05a"), ("review", "#e08a3c"), ("block", "#c0392b"))


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/dashboards")
    async def dashboards(request: Request) -> Response:
        session = session_of(request, "analyst", "rule_admin", "auditor")
        rt = runtime_of(request)
        data = await asyncio.to_thread(_stats, rt)
        counts = await asyncio.to_thread(cases_of(request).counts)
        await audited(request, session, "view", "dashboards", data={"events": data["n"]})
        return render(
            request,
            session,
            "dashboards.html",
            d=data,
            counts=counts,
            mix_svg=bars_svg(data["by_day"], _MIX),
            score_svg=bars_svg(data["scores"], (("events", "#4a78c2"),), height=160),
            drift=_drift(rt),
        )

    @r.get("/emergency")
    async def emergency(request: Request) -> Response:
        session = session_of(request, "rule_admin")
        rt = runtime_of(request)
        return render(
            request,
            session,
            "emergency.html",
            kinds=FREEZE_KINDS,
            actions=FREEZE_ACTIONS,
            lists=rt.rule_store.list_names(),
            freezes=rt.rule_store.freezes(),
            message=request.query_params.get("msg"),
        )

    @r.post("/emergency")
    async def act(request: Request) -> Response:
        session = session_of(request, "rule_admin")
        form = await form_of(request, session)
        done = await asyncio.to_thread(_emergency, runtime_of(request), form, session.who)
        if not done:
            raise ValueError("choose at least one emergency measure")
        await audited(request, session, "emergency", "console", data={"done": done})
        return redirect("/emergency?msg=" + "; ".join(done))

    return r


def _stats(rt: Runtime) -> dict[str, Any]:
    store = event_store(rt)
    conn, plain = store._conn(), store.plain
    start = max(0, rt.store.last_seq() - WINDOW)
    rows = conn.execute(
        "SELECT e.event_id, e.user_id, e.ts, d.outcome, d.score, d.body, d.explain FROM events e"
        " JOIN decisions d ON d.event_id = e.event_id WHERE e.seq > ? ORDER BY e.seq",
        (start,),
    ).fetchall()
    fraud_events: dict[str, bool] = {}
    fraud_users: dict[str, bool] = {}
    for lab in rt.store.labels():
        target = fraud_events if lab.event_id else fraud_users
        target[lab.event_id or lab.user_id or ""] = lab.label == "fraud"
    days: dict[str, Counter[str]] = defaultdict(Counter)
    scores: Counter[int] = Counter()
    latency: list[float] = []
    hits: Counter[str] = Counter()
    labelled: Counter[str] = Counter()
    fraud: Counter[str] = Counter()
    shadow = _ShadowTally()
    for event_id, user_id, ts, outcome, score, stored, stored_explain in rows:
        body, explain = plain(bytes(stored)), plain(bytes(stored_explain))
        days[time.strftime("%Y-%m-%d", time.gmtime(ts))][outcome] += 1
        scores[min(int(score * 10), 9)] += 1
        decision = orjson.loads(body)
        latency.append(float(decision.get("latency_ms", 0.0)))
        verdict = fraud_events.get(event_id, fraud_users.get(user_id))
        shadow.add(outcome, explain, verdict)
        for reason in decision.get("reasons", []):
            if reason.get("source") != "rule":
                continue
            name = reason.get("name", "")
            hits[name] += 1
            if verdict is not None:
                labelled[name] += 1
                fraud[name] += 1 if verdict else 0
    latency.sort()
    n = len(rows)
    return {
        "n": n,
        "by_day": [(day, dict(c)) for day, c in sorted(days.items())],
        "scores": [(f"{i / 10:.1f}", {"events": float(scores[i])}) for i in range(10)],
        "p50": latency[n // 2] if n else None,
        "p99": latency[min(n - 1, int(n * 0.99))] if n else None,
        "rules": [
            {
                "rule": name,
                "hits": k,
                "rate": k / n if n else 0.0,
                "labelled": labelled[name],
                "precision": fraud[name] / labelled[name] if labelled[name] else None,
            }
            for name, k in hits.most_common(40)
        ],
        "shadow": shadow.rows(n),
    }


_STRICTNESS = {"allow": 0, "challenge": 1, "review": 2, "block": 3}


class _ShadowTally:
    """Live hits of the shadow rules (scored and explained, never acting), from the
    decisions' stored explanations: how often each fired, its precision from labels,
    and how many decisions it would have made stricter had it been active."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.labelled: Counter[str] = Counter()
        self.fraud: Counter[str] = Counter()
        self.stricter: Counter[str] = Counter()

    def add(self, outcome: str, explain: bytes | None, verdict: bool | None) -> None:
        if not explain or b'"shadow"' not in explain:
            return
        for entry in orjson.loads(explain).get("shadow", []):
            name = str(entry.get("rule", ""))
            self.hits[name] += 1
            if verdict is not None:
                self.labelled[name] += 1
                self.fraud[name] += 1 if verdict else 0
            action = str(entry.get("action", "")).split(",")[-1].split(":")[0]
            if _STRICTNESS.get(action, 0) > _STRICTNESS.get(outcome, 0):
                self.stricter[name] += 1

    def rows(self, n: int) -> list[dict[str, Any]]:
        return [
            {
                "rule": name,
                "hits": k,
                "rate": k / n if n else 0.0,
                "labelled": self.labelled[name],
                "precision": self.fraud[name] / self.labelled[name]
                if self.labelled[name]
                else None,
                "stricter": self.stricter[name],
            }
            for name, k in self.hits.most_common(40)
        ]


def _drift(rt: Runtime) -> dict[str, float]:
    for stage in rt.engine.pipeline.stages:
        gauges = getattr(stage, "drift_gauges", None)
        if callable(gauges):
            return dict(sorted(gauges().items(), key=lambda kv: -kv[1])[:20])
    return {}


def _emergency(rt: Runtime, form: dict[str, Any], who: str) -> list[str]:
    """Each measure asked for; the rule changes go out as one new version."""
    done: list[str] = []
    reason = str(form.get("reason", "")).strip() or "emergency"
    action = str(form.get("action", "block"))
    value = str(form.get("value", "")).strip()
    if value:
        kind = str(form.get("kind", "user"))
        rt.rule_store.freeze(kind, value, action, reason, created_by=who)
        done.append(f"froze {kind}")
    if name := str(form.get("list", "")).strip():
        kind = str(form.get("list_kind", "user"))
        entries = rt.rule_store.list_entries(name)
        for entry in entries:
            rt.rule_store.freeze(kind, entry.value, action, reason, created_by=who)
        done.append(f"froze {len(entries)} of list {name} as {kind}")
    boost = float(form.get("boost") or 0)
    stricter = form.get("stricter") == "1"
    if boost or stricter:
        live = rt.rule_store.live_version()
        if live is None:
            raise ValueError("nothing is live to make stricter")
        body = rt.rule_store.get_version(live.version).model_dump(mode="json")
        for rule in body["rules"]:
            if boost:
                rule["score"] = max(-100.0, min(100.0, rule["score"] * (1 + boost / 100)))
            if stricter:
                rule["action"] = _stricter(rule["action"])
        info = rt.rule_store.publish(
            parse_ruleset(body), author=who, comment=f"emergency from {live.label}: {reason}"
        )
        done.append(f"published {info.label} (roll back to {live.label} to undo)")
    return done


def _stricter(action: str | list[str]) -> str | list[str]:
    """``review`` becomes ``block``; warnings and other actions stay."""
    if isinstance(action, list):
        return ["block" if a == "review" else a for a in action]
    return "block" if action == "review" else action
