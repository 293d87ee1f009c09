"""``/v1/share``: what a peer member (a key with the ``consortium`` role) may ask.

``GET /v1/share/bundle`` serves this member's last exported bundle (signed, keyed
hashes only); ``POST /v1/share/psi`` answers one private-set-intersection request
against that list, rate-limited per key (429) and chained (peer, sizes, mode; never
the items).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from fengkong.api.auth import require
from fengkong.api.keys import KeyInfo
from fengkong.api.schemas import MessageOut, ValidationErrorOut
from fengkong.api.strict import strict_json_route
from fengkong.audit.trail import AuditTrail
from fengkong.settings import Settings

BUNDLE_TYPE = "application/vnd.fengkong-share"


_BUNDLE_OK = {
    "content": {BUNDLE_TYPE: {"schema": {"type": "string"}}},
    "description": "the signed bundle (docs/sharing.md)",
}


class PsiBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request: str = Field(min_length=1, max_length=64 << 20, description="base64 PSI request")
    reveal: bool = Field(True, description="false: answer only how many are common")


class PsiOut(BaseModel):
    setup: str
    response: str


def _invalid(msg: str) -> HTTPException:
    error = {"loc": ["body", "request"], "field": "request", "msg": msg, "type": "value_error"}
    return HTTPException(422, [error])


def sharing_router(settings: Settings) -> APIRouter:
    """The routes, serving ``settings.sharing.bundle_path``."""
    from fengkong.sharing.psi import RateLimiter

    router = APIRouter(
        prefix="/v1/share",
        tags=["sharing"],
        route_class=strict_json_route(max_body_bytes=(64 << 20) + 1024),
        responses={404: {"model": MessageOut, "description": "no bundle exported here yet"}},
    )
    limiter = RateLimiter(settings.sharing.psi_per_hour)
    path = settings.sharing.bundle_path

    def bundle_bytes() -> bytes:
        if path is None or not Path(path).exists():
            raise HTTPException(404, "no bundle exported here yet (fengkong share export)")
        return Path(path).read_bytes()

    @router.get(
        "/bundle",
        response_class=Response,
        responses={
            200: {
                "content": {BUNDLE_TYPE: {"schema": {"type": "string"}}},
                "description": "the signed bundle (docs/sharing.md)",
            }
        },
    )
    async def bundle(who: Annotated[KeyInfo, require("consortium")]) -> Response:
        return Response(await asyncio.to_thread(bundle_bytes), media_type=BUNDLE_TYPE)

    @router.post(
        "/psi",
        responses={
            422: {"model": ValidationErrorOut, "description": "a malformed request"},
            429: {"model": MessageOut, "description": "over psi_per_hour for this key"},
        },
    )
    async def psi_answer(
        request: Request, body: PsiBody, who: Annotated[KeyInfo, require("consortium")]
    ) -> PsiOut:
        from fengkong.sharing.psi import PsiError, RateLimited, answer

        try:
            req = base64.b64decode(body.request, validate=True)
        except (binascii.Error, ValueError):
            raise _invalid("not base64") from None
        try:
            limiter.take(who.key_id)
        except RateLimited as exc:
            raise HTTPException(429, str(exc)) from None
        items = [f"{r[0]}:{r[1]}" for r in _entries(await asyncio.to_thread(bundle_bytes))]
        try:
            got = await asyncio.to_thread(answer, items, req, reveal=body.reveal)
        except PsiError as exc:
            raise _invalid(str(exc)) from None
        trail: AuditTrail = request.app.state.audit
        data = {"peer": who.identity, "server_items": len(items), "reveal": body.reveal}
        await asyncio.to_thread(trail.record, "psi", who.key_id, actor=who.identity, data=data)
        return PsiOut(
            setup=base64.b64encode(got.setup).decode(),
            response=base64.b64encode(got.response).decode(),
        )

    return router


def _entries(blob: bytes) -> list[list[Any]]:
    import orjson

    rows: list[list[Any]] = orjson.loads(blob.split(b"\n", 1)[0])["entries"]
    return rows
