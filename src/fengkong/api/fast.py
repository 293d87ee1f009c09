"""The hot route answered without the framework's routing and middleware machinery.

``POST /v1/events`` is most of a server's traffic. Routed through FastAPI it pays for
the router's match, the dependency solver, the exit stack and the exception wrappers on
every request, which costs more CPU than most of the decision itself. :class:`HotRoute`
answers that one method and path directly with the same handler, and turns an error
into the response the application's own exception handlers give, so the answers are
those of the routed endpoint (which stays declared, for the OpenAPI document).

:func:`put_first` places it in front of the whole middleware stack (error, telemetry
and body-limit wrappers, the JSON-only check), not inside it: each of those layers is
an awaited call per request that does nothing for this route, whose handler reads its
own body within its limit and whose errors all have handlers. The JSON-only check is
the one the route needs, so :class:`HotRoute` makes it itself (``refuse``).

A handler may answer with the bytes of a JSON body: they are sent with a fixed header
set (the same ``content-length`` and ``content-type`` a :class:`Response` sends), without
building a response object per request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response | bytes]]
_JSON_TYPE = (b"content-type", b"application/json")
Refusal = Callable[[Scope], Response | None]


def handler_for(
    handlers: Mapping[Any, Callable[..., Any]], exc: Exception
) -> Callable[..., Any] | None:
    """The exception handler registered for ``exc``'s class or its nearest base."""
    for cls in type(exc).__mro__:
        found = handlers.get(cls)
        if found is not None:
            return found
    return None


class HotRoute:
    """ASGI middleware answering ``method path`` with ``handler``; the rest passes on.

    ``refuse``: a check run first, whose response (if any) answers instead.
    """

    def __init__(
        self,
        app: ASGIApp,
        method: str,
        path: str,
        handler: Handler,
        refuse: Refusal | None = None,
    ) -> None:
        self.app = app
        self.method = method
        self.path = path
        self.handler = handler
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != self.method:
            await self.app(scope, receive, send)
            return
        refused = self.refuse(scope) if self.refuse is not None else None
        if refused is not None:
            await refused(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.handler(request)
        except Exception as exc:
            handle = handler_for(scope["app"].exception_handlers, exc)
            if handle is None:
                raise
            response = await handle(request, exc)
        if isinstance(response, bytes):
            headers = [(b"content-length", b"%d" % len(response)), _JSON_TYPE]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": response})
            return
        await response(scope, receive, send)


def put_first(app: Starlette, wrap: Callable[[ASGIApp], ASGIApp]) -> None:
    """Make ``wrap(stack)`` the app's middleware stack: in front of every middleware,
    whenever the stack is built (Starlette builds it on the first request)."""
    build = app.build_middleware_stack

    def build_behind() -> ASGIApp:
        return wrap(build())

    app.build_middleware_stack = build_behind  # type: ignore[method-assign]
