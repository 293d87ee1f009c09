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

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import Response

from fengkong.api.auth import require
from fengkong.audit.trail import AuditTrail
from fengkong.settings import Settings
from fengkong.storage.keys_sqlite import KeyInfo


def sharing_router(settings: Settings) -> APIRouter:
    """The routes, serving ``settings.sharing.bundle_path``."""
    from fengkong.sharing.psi import RateLimiter

    router = APIRouter(prefix="/v1/share", tags=["sharing"])
    limiter = RateLimiter(settings.sharing.psi_per_hour)
    path = settings.sharing.bundle_path

    def bundle_bytes() -> bytes:
        if path is None or not Path(path).exists():
            raise HTTPException(404, "no bundle exported here yet (fengkong share export)")
        return Path(path).read_bytes()

    @router.get("/bundle")
    async def bundle(who: Annotated[KeyInfo, require("consortium")]) -> Response:
        data = await asyncio.to_thread(bundle_bytes)
        return Response(data, media_type="application/vnd.fengkong-share")

    @router.post("/psi")
    async def psi_answer(
        request: Request,
        who: Annotated[KeyInfo, require("consortium")],
        body: Annotated[dict[str, Any], Body()],
    ) -> dict[str, Any]:
        from fengkong.sharing.psi import PsiError, RateLimited, answer

        raw, reveal = body.get("request"), body.get("reveal", True)
        if not isinstance(raw, str) or not isinstance(reveal, bool):
            raise HTTPException(422, [{"field": "request", "msg": "base64 PSI request"}])
        try:
            req = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise HTTPException(422, [{"field": "request", "msg": "not base64"}]) from None
        try:
            limiter.take(who.key_id)
        except RateLimited as exc:
            raise HTTPException(429, str(exc)) from None
        items = [f"{r[0]}:{r[1]}" for r in _entries(await asyncio.to_thread(bundle_bytes))]
        try:
            got = await asyncio.to_thread(answer, items, req, reveal=reveal)
        except PsiError as exc:
            raise HTTPException(422, [{"field": "request", "msg": str(exc)}]) from None
        trail: AuditTrail = request.app.state.audit
        data = {"peer": who.identity, "server_items": len(items), "reveal": reveal}
        await asyncio.to_thread(trail.record, "psi", who.key_id, actor=who.identity, data=data)
        return {
            "setup": base64.b64encode(got.setup).decode(),
            "response": base64.b64encode(got.response).decode(),
        }

    return router


def _entries(blob: bytes) -> list[list[Any]]:
    import orjson

    rows: list[list[Any]] = orjson.loads(blob.split(b"\n", 1)[0])["entries"]
    return rows
