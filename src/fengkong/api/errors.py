"""Failure answers: what the API says when it, not the client, cannot go on.

- The store cannot commit or read (disk full, locked, I/O error, a damaged page):
  503 with ``Retry-After``, and ``/healthz`` says ``degraded`` with the reason until a
  later commit succeeds. Nothing is half-stored: each commit is one transaction.
- A body that is not JSON (``text/plain``, forms: what a cross-site page can send
  without a preflight): 415.
- Starlette's own errors keep their headers (a 405 names the allowed methods in
  ``Allow``); anything unexpected is a JSON 500 without a stack trace, logged.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import threading
import time
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

_JSON = "application/json"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class Health:
    """Reasons the server is degraded, by component; thread-safe.

    >>> h = Health()
    >>> h.degrade("store", "database or disk is full"); h.status()
    ('degraded', ['store: database or disk is full'])
    >>> h.recover("store"); h.status()
    ('ok', [])
    """

    def __init__(self) -> None:
        self._reasons: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def degrade(self, component: str, reason: str) -> None:
        with self._lock:
            self._reasons[component] = (reason, time.time())

    def recover(self, component: str) -> None:
        if component in self._reasons:
            with self._lock:
                self._reasons.pop(component, None)

    def degraded(self, component: str) -> bool:
        return component in self._reasons

    def status(self) -> tuple[str, list[str]]:
        with self._lock:
            reasons = [f"{name}: {why}" for name, (why, _) in sorted(self._reasons.items())]
        return ("degraded" if reasons else "ok"), reasons


def json_response(payload: Any, status: int, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=_JSON, headers=headers)


def store_failure(exc: BaseException) -> str | None:
    """The reason when ``exc`` means the store cannot commit or read, else ``None``."""
    if isinstance(exc, sqlite3.Error):
        return str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EIO, errno.EDQUOT):
        return exc.strerror or str(exc)
    return None


def unavailable(detail: str, retry_after_s: int) -> Response:
    """A 503 the client should retry after ``retry_after_s`` seconds."""
    return json_response({"detail": detail}, 503, {"Retry-After": str(retry_after_s)})


def install(app: FastAPI, health: Health, retry_after_s: int, count: Any) -> None:
    """Register the failure handlers; ``count(status)`` counts each rejected request."""

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": _allowed(request)}
        return json_response({"detail": exc.detail}, exc.status_code, headers)

    @app.exception_handler(sqlite3.Error)
    async def _store(request: Request, exc: sqlite3.Error) -> Response:
        return _store_unavailable(exc)

    @app.exception_handler(OSError)
    async def _os(request: Request, exc: OSError) -> Response:
        if store_failure(exc) is None:
            return _internal(request, exc)
        return _store_unavailable(exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        if store_failure(exc) is not None:
            return _store_unavailable(exc)
        return _internal(request, exc)

    def _store_unavailable(exc: BaseException) -> Response:
        reason = store_failure(exc) or str(exc)
        health.degrade("store", reason)
        log.error("store unavailable: %s", reason)
        count("503")
        return unavailable(f"the store cannot commit right now ({reason}); retry", retry_after_s)

    def _internal(request: Request, exc: BaseException) -> Response:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        count("500")
        return json_response({"detail": "internal error; it was logged"}, 500)


def _allowed(request: Request) -> str:
    """Every method some route serves on this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


_FAILURES = {
    "503": "the store cannot commit, or the server is saturated: retry after Retry-After",
}
_BODY_FAILURES = {
    "413": "body too large",
    "415": "the body is not application/json",
}


def declare_failures(schema: dict[str, Any], message_ref: str) -> None:
    """Add the answers every operation can give (503; 413 and 415 with a body) to the spec."""
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            answers = operation.setdefault("responses", {})
            extra = dict(_FAILURES)
            if "requestBody" in operation:
                extra.update(_BODY_FAILURES)
            if path != "/healthz":
                extra["401"] = "no API key, or one that is unknown or revoked"
                extra["403"] = "the key does not hold a role this operation needs"
            for status, description in extra.items():
                answers.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {_JSON: {"schema": {"$ref": message_ref}}},
                    },
                )


class JSONOnly:
    """ASGI middleware: a request body must be JSON (or carry no content type): else 415."""

    def __init__(self, app: ASGIApp, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.exempt = exempt  # path prefixes that take forms (the console)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exempt = self.exempt and scope.get("path", "").startswith(self.exempt)
        if scope["type"] == "http" and scope["method"] in _BODY_METHODS and not exempt:
            response = not_json(scope)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def not_json(scope: Scope) -> Response | None:
    """The 415 for a request whose body is declared as something other than JSON."""
    kind = _content_type(scope)
    if kind is not None and not _is_json(kind):
        return json_response({"detail": f"send the body as application/json, not {kind[:64]}"}, 415)
    return None


def _content_type(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return str(value.decode("latin-1").split(";", 1)[0].strip().lower())
    return None


def _is_json(kind: str) -> bool:
    return kind == _JSON or (kind.startswith("application/") and kind.endswith("+json"))
