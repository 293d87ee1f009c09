"""What every console page shares: sessions, CSRF, roles, language, rendering, audit.

A session starts when an API key is given on the login page; the browser then holds
only a random session cookie (HttpOnly, SameSite=Strict), the key stays on the server
and is checked again on every request, so a revoked key ends its sessions at once.
Every form carries the session's CSRF token.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException

from fengkong.api.auth import holds
from fengkong.api.console.i18n import LANGS, translate
from fengkong.api.keys import KeyInfo, KeyStore
from fengkong.api.stores import open_cases
from fengkong.audit.trail import AuditTrail
from fengkong.cases.store import CaseStore
from fengkong.runtime import Runtime

COOKIE = "fk_console"
SESSION_S = 8 * 3600.0
PREFIX = "/console"
_HERE = Path(__file__).parent

env = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(slots=True)
class Session:
    key: str
    info: KeyInfo
    csrf: str
    lang: str
    expires: float
    seen: set[str] = field(default_factory=set)

    @property
    def who(self) -> str:
        return self.info.identity

    def can(self, role: str) -> bool:
        return holds(self.info, role)


class Sessions:
    """Live console sessions, in memory (a restart asks analysts to log in again)."""

    def __init__(self) -> None:
        self._by_token: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(self, key: str, info: KeyInfo, lang: str) -> str:
        token = secrets.token_urlsafe(32)
        session = Session(key, info, secrets.token_urlsafe(24), lang, time.time() + SESSION_S)
        with self._lock:
            self._by_token = {t: s for t, s in self._by_token.items() if s.expires > time.time()}
            self._by_token[token] = session
        return token

    def get(self, token: str | None) -> Session | None:
        if token is None:
            return None
        with self._lock:
            session = self._by_token.get(token)
        if session is None or session.expires < time.time():
            return None
        return session

    def end(self, token: str | None) -> None:
        with self._lock:
            self._by_token.pop(token or "", None)


class LoginRequired(Exception):
    """No live session: the page redirects to the login form."""


class Forbidden(HTTPException):
    """A live session whose key lacks the role the page needs."""


def parent_state(request: Request) -> Any:
    return request.app.state.parent.state


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = parent_state(request).runtime
    return rt


def cases_of(request: Request) -> CaseStore:
    state = request.app.state
    if getattr(state, "cases", None) is None:
        rt = runtime_of(request)
        state.cases = open_cases(rt.settings.shared_db())
    store: CaseStore = state.cases
    return store


def audit_of(request: Request) -> AuditTrail:
    trail: AuditTrail = parent_state(request).audit
    return trail


def session_of(request: Request, *roles: str) -> Session:
    """The caller's session, its key still live and holding one of ``roles``."""
    sessions: Sessions = request.app.state.sessions
    session = sessions.get(request.cookies.get(COOKIE))
    if session is None:
        raise LoginRequired()
    keys: KeyStore = parent_state(request).keys
    if keys.check(session.key) is None:
        sessions.end(request.cookies.get(COOKIE))
        raise LoginRequired()
    if roles and not any(session.can(r) for r in roles):
        raise Forbidden(403, translate(session.lang, "forbidden") + " " + " / ".join(roles))
    if (lang := request.query_params.get("lang")) in LANGS:
        session.lang = lang
    return session


async def form_of(request: Request, session: Session) -> dict[str, Any]:
    """The posted form, after checking its CSRF token (403 otherwise)."""
    form = await request.form()
    token = str(form.get("csrf", ""))
    if not hmac.compare_digest(token, session.csrf):
        raise Forbidden(403, "the form's CSRF token does not match this session: reload the page")
    out: dict[str, Any] = {}
    for k in form:
        values = form.getlist(k)
        out[k] = values if len(values) > 1 or k.endswith("[]") else values[0]
    return out


async def audited(
    request: Request,
    session: Session,
    kind: str,
    ref: str,
    *,
    user: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Record a view of customer data or a console action, committed before the answer."""
    trail = audit_of(request)
    payload = {"path": request.url.path, "via": "console", **(data or {})}

    def record() -> None:
        trail.record(kind, ref, user=user, actor=session.who, data=payload)

    await asyncio.to_thread(record)


def render(
    request: Request, session: Session | None, name: str, status: int = 200, **context: Any
) -> HTMLResponse:
    lang = session.lang if session else _accept_lang(request)

    def t(key: str, **kw: Any) -> str:
        return translate(lang, key, **kw)

    html = env.get_template(name).render(
        request=request,
        session=session,
        lang=lang,
        t=t,
        prefix=PREFIX,
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=_SECURITY_HEADERS)


def redirect(to: str) -> Response:
    return RedirectResponse(PREFIX + to, status_code=303)


def _accept_lang(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get("fk_lang")
    if asked in LANGS:
        return str(asked)
    header = request.headers.get("accept-language", "")
    return "zh" if header.lower().startswith("zh") else "en"


# No script or style from anywhere but this server; no framing.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def ago(ts: float | None, now: float | None = None) -> str:
    if ts is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def remaining(due: float, now: float) -> str:
    """``+2h05m`` left, or ``-0h12m`` past due."""
    left = due - now
    sign = "+" if left >= 0 else "-"
    m = int(abs(left) // 60)
    return f"{sign}{m // 60}h{m % 60:02d}m"


env.globals.update(ago=ago, remaining=remaining)
