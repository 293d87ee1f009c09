"""The analyst API reads JSON with the edge's one parser and limits, like the event API.

FastAPI would decode bodies with the standard library (which accepts ``NaN`` and any
nesting); :class:`StrictJSONRoute` decodes them first with
:func:`fengkong.events.decode_object`, so a bad body is a 422 naming the problem.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from fengkong.events.codec import decode_object
from fengkong.events.limits import DEFAULT_LIMITS, Limits


def strict_json_route(limits: Limits = DEFAULT_LIMITS, max_body_bytes: int = 16 << 20) -> type:
    """An :class:`APIRoute` class whose JSON bodies go through ``limits`` (and a size cap)."""

    class StrictJSONRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def strict(request: Request) -> Response:
                declared = request.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_body_bytes:
                    raise StarletteHTTPException(413, f"body exceeds {max_body_bytes} bytes")
                body = await request.body()
                if len(body) > max_body_bytes:
                    raise StarletteHTTPException(413, f"body exceeds {max_body_bytes} bytes")
                if body:
                    value: Any = decode_object(body, limits)
                    # Starlette caches the decoded body here; FastAPI then reads it back.
                    request._json = value
                return await handler(request)

            return strict

    return StrictJSONRoute
