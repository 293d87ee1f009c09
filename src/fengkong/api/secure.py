"""Security at the HTTP edge: keys, role checks per route family, audited reads.

``open_security`` runs in the app's lifespan: it opens the key store (creating the
first admin key from ``bootstrap_key`` when none exists), the audit trail and its
checkpoint signer, and starts the periodic checkpoint task.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from fastapi import Depends, FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fengkong.api.auth import ROLES, actor_of, authenticate, bootstrap_admin, holds, require
from fengkong.api.keys import KeyInfo
from fengkong.api.masking import mask, mask_value
from fengkong.api.stores import open_keys
from fengkong.audit.checkpoint import Signer, load_signer
from fengkong.audit.trail import AuditTrail
from fengkong.runtime import audit_db
from fengkong.settings import Settings

log = logging.getLogger(__name__)

ANY_ROLE = ROLES
__all__ = ["ANY_ROLE", "KeyInfo", "actor_of", "analyst_view", "rules_access", "tokenise_guard"]


def audit_key_path(settings: Settings) -> Path:
    return settings.audit_key_path or Path(f"{settings.db_path}.audit-key")


def open_signer(settings: Settings) -> Signer | None:
    if str(settings.db_path) == ":memory:" and settings.audit_key_path is None:
        return None
    return load_signer(audit_key_path(settings), settings.audit_origin)


def open_security(app: FastAPI, settings: Settings) -> None:
    keys = open_keys(settings.shared_db(), cache_s=settings.key_cache_s)
    bootstrap = settings.bootstrap_key.get_secret_value() if settings.bootstrap_key else None
    if bootstrap is not None:
        bootstrap_admin(keys, bootstrap)
    elif keys.empty():
        log.warning("no API key exists: create one with `fengkong keys create` (or serve)")
    app.state.keys = keys
    app.state.open_ingest = settings.open_ingest_on_loopback
    trail = AuditTrail(
        audit_db(settings), open_signer(settings), publish_dir=settings.audit_publish_dir
    )
    app.state.audit = trail
    if trail.signer is not None:
        app.state.checkpointing = asyncio.get_running_loop().create_task(
            _checkpoints(trail, settings.audit_checkpoint_interval_s)
        )


def close_security(app: FastAPI) -> None:
    task = getattr(app.state, "checkpointing", None)
    if task is not None:
        task.cancel()
    trail: AuditTrail = app.state.audit
    if trail.signer is not None:
        trail.checkpoint()
    trail.close()
    app.state.keys.close()


async def _checkpoints(trail: AuditTrail, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(trail.checkpoint)
        except Exception:  # a failed checkpoint must not stop the server; the next retries
            log.exception("signing an audit checkpoint failed")


async def analyst_view(
    request: Request, ref: str, payload: dict[str, Any], who: KeyInfo, *, unmask: bool
) -> Any:
    """``payload`` as an analyst may see it (masked unless unmasking), the read recorded.

    The read is committed (off the event loop) before the data is returned.
    """
    if unmask and not holds(who, "unmask"):
        raise HTTPException(403, "unmask=true needs the role unmask")
    trail: AuditTrail = request.app.state.audit
    data = {"path": request.url.path, "explain": "explain" in payload, "unmask": unmask}

    def record() -> None:
        trail.record_read(ref, user=trail.user_of_event(ref), actor=who.identity, data=data)

    await asyncio.to_thread(record)
    return payload if unmask else mask(payload)


def list_view(request: Request, payload: Any) -> Any:
    """Lists and freezes as a reader may see them: values masked unless the key may change
    them (``rule_admin``) or unmask."""
    info: KeyInfo | None = getattr(request.state, "principal", None)
    if info is not None and (holds(info, "rule_admin") or holds(info, "unmask")):
        return payload
    return [
        item if item.get("kind") == "event_type" else {**item, "value": mask_value(item["value"])}
        for item in payload
    ]


def rules_access() -> Any:
    """Reading rules, lists and freezes: analyst or rule_admin; any change: rule_admin."""
    read, write = require("analyst", "rule_admin"), require("rule_admin")

    async def dependency(request: Request) -> KeyInfo:
        if request.method in ("GET", "HEAD"):
            info = await read.dependency(request)
        else:
            info = await write.dependency(request)
        return info  # type: ignore[no-any-return]

    return Depends(dependency)


class AnalystBodyLimit:
    """ASGI middleware: bodies under ``prefix`` stop at ``limit`` bytes (413), read or not."""

    def __init__(self, app: ASGIApp, limit: int, prefixes: tuple[str, ...]) -> None:
        self.app, self.limit, self.prefixes = app, limit, prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise HTTPException(413, f"request body exceeds {self.limit} bytes")
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, send: Send) -> None:
        body = orjson.dumps({"detail": f"request body exceeds {self.limit} bytes"})
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def limit_bodies(app: FastAPI, settings: Settings) -> None:
    """Cap the analyst API's bodies (the public API caps its own, route by route)."""
    app.add_middleware(
        AnalystBodyLimit,
        limit=settings.analyst_max_body_bytes,
        prefixes=("/v1/rules", "/v1/keys", "/v1/audit", "/v1/cases"),
    )


def tokenise_guard(per_minute: int) -> Callable[[Request, str, int], None]:
    """Tokenising raw values: rate-limited per key (values per minute) and audited."""
    spent: dict[str, deque[tuple[float, int]]] = defaultdict(deque)
    lock = threading.Lock()

    def guard(request: Request, kind: str, n: int) -> None:
        info = authenticate(request, ("rule_admin",))
        now = time.monotonic()
        with lock:
            window = spent[info.key_id]
            while window and window[0][0] <= now - 60:
                window.popleft()
            used = sum(k for _, k in window)
            if used + n > per_minute:
                raise HTTPException(
                    429,
                    f"tokenising is limited to {per_minute} values a minute per key "
                    f"({used} used); send tokens, or wait",
                )
            window.append((now, n))
        trail: AuditTrail = request.app.state.audit
        data = {"path": request.url.path, "kind": kind, "values": n}
        trail.record("tokenise", kind, actor=info.identity, data=data)

    return guard


def mount_security_routes(app: FastAPI) -> None:
    """``/v1/keys`` (admin) and ``/v1/audit`` (auditor)."""
    from fengkong.api.security_routes import audit_router, keys_router

    app.include_router(keys_router())
    app.include_router(audit_router())
