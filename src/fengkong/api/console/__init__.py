"""The analyst console: server-rendered pages at ``/console`` of ``fengkong serve``.

Pages are Jinja2 templates with a little JavaScript of our own; charts and the graph
are SVG drawn on the server, so nothing is loaded from anywhere else and the console
works offline. It is a sub-application over the same runtime, keys and audit trail as
the API (:func:`mount_console`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from fengkong.api.console.web import (
    COOKIE,
    PREFIX,
    SESSION_S,
    Forbidden,
    LoginRequired,
    Sessions,
    redirect,
    render,
    session_of,
)
from fengkong.api.keys import KeyStore
from fengkong.cases import CaseError

CONSOLE_ROLES = ("analyst", "rule_admin", "auditor", "admin")


def console_app(parent: FastAPI) -> FastAPI:
    """The console as an ASGI app reading ``parent``'s runtime, keys and audit trail."""
    from fengkong.api.console import cases_pages, ops_pages, rules_pages

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.parent = parent
    app.state.sessions = Sessions()
    app.state.cases = None
    static = Path(__file__).parent / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return redirect("/login")

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return render(request, None, "error.html", 403, message=str(exc.detail))

    @app.exception_handler(CaseError)
    async def _case_error(request: Request, exc: CaseError) -> Response:
        return render(request, None, "error.html", 422, message=f"{exc.field}: {exc}")

    @app.exception_handler(ValueError)
    async def _bad_value(request: Request, exc: ValueError) -> Response:
        return render(request, None, "error.html", 422, message=str(exc))

    @app.get("/login")
    async def login_form(request: Request) -> Response:
        return render(request, None, "login.html", error=None)

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        key = str(form.get("key", "")).strip()
        lang = "zh" if form.get("lang") == "zh" else "en"
        keys: KeyStore = parent.state.keys
        info = keys.check(key) if key else None
        if info is None:
            return render(request, None, "login.html", 401, error="bad_key")
        if not any(r in info.roles for r in CONSOLE_ROLES):
            return render(request, None, "login.html", 403, error="no_role")
        token = app.state.sessions.start(key, info, lang)
        parent.state.audit.record(
            "console_login", info.key_id, actor=info.identity, data={"path": PREFIX + "/login"}
        )
        response = redirect("/")
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(SESSION_S),
            httponly=True,
            samesite="strict",
            path=PREFIX,
            secure=request.url.scheme == "https",
        )
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        session_of(request)
        app.state.sessions.end(request.cookies.get(COOKIE))
        response = redirect("/login")
        response.delete_cookie(COOKIE, path=PREFIX)
        return response

    app.include_router(cases_pages.router())
    app.include_router(rules_pages.router())
    app.include_router(ops_pages.router())
    return app


def mount_console(app: FastAPI) -> None:
    """Serve the console under ``/console`` of ``app``."""
    app.mount(PREFIX, console_app(app), name="console")
