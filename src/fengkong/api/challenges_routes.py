"""The step-up API: answer a challenge, read its state, enrol an authenticator (TOTP).

``POST /v1/challenges/{id}`` takes ``{"code": "123456"}`` (SMS or TOTP methods) or the
field a plugged verifier names (``audio_b64`` for voice). Answers: 200 with the state
(``verified``, ``status``, ``attempts_left``, ``final_decision``); 404 for an unknown
id; 409 for a challenge already passed or failed (a code is never taken twice); 410
once it expired; 422 naming the field for a malformed answer (no attempt used up).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from fengkong.api.auth import require
from fengkong.api.schemas import MessageOut, ValidationErrorOut
from fengkong.events import EventValidationError, FieldError, decode_json
from fengkong.identity.challenges import (
    AnswerInvalid,
    ChallengeClosed,
    ChallengeNotFound,
    ChallengeService,
)

log = logging.getLogger(__name__)


class ChallengeOut(BaseModel):
    challenge_id: str
    event_id: str
    kind: str
    method: Literal["sms", "totp", "voice", "biometric"]
    status: Literal["pending", "passed", "failed", "expired"]
    attempts: int
    attempts_left: int
    expires_at: float
    final_decision: Literal["allow", "block", "review"] | None
    resolved_at: float | None
    verified: bool | None = None


class TotpOut(BaseModel):
    user_id: str
    secret: str
    otpauth_uri: str


class ClosedOut(BaseModel):
    detail: str
    status: str
    final_decision: str | None


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _service(request: Request) -> ChallengeService:
    identity = getattr(request.app.state.runtime, "identity", None)
    if identity is None:
        raise RuntimeError("this runtime has no challenge service")
    service: ChallengeService = identity.service
    return service


def _closed(exc: ChallengeClosed) -> Response:
    status = 410 if exc.row.status == "expired" else 409
    body = {"detail": str(exc), "status": exc.row.status, "final_decision": exc.row.final_decision}
    return _json(body, status)


def challenges_router(max_body_bytes: int) -> APIRouter:
    """The routes; the service is the runtime's (``app.state.runtime.identity``).

    Answering and reading a challenge need an ``ingest`` key (the app relays what its
    user typed); enrolling an authenticator replaces a second factor, so it needs
    ``admin``.
    """
    router = APIRouter(tags=["challenges"])
    errors: dict[int | str, dict[str, Any]] = {
        404: {"model": MessageOut, "description": "no such challenge"},
        409: {"model": ClosedOut, "description": "already passed or failed"},
        410: {"model": ClosedOut, "description": "expired"},
        422: {"model": ValidationErrorOut, "description": "malformed answer, naming the field"},
    }

    @router.post(
        "/v1/challenges/{challenge_id}",
        response_model=ChallengeOut,
        responses=errors,
        summary="Answer a step-up challenge",
        dependencies=[require("ingest")],
    )
    async def answer(request: Request, challenge_id: str) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            return _json({"detail": f"request body exceeds {max_body_bytes} bytes"}, 413)
        body = await request.body()
        if len(body) > max_body_bytes:
            return _json({"detail": f"request body exceeds {max_body_bytes} bytes"}, 413)
        payload = decode_json(body)
        if not isinstance(payload, dict):
            raise EventValidationError([FieldError((), "expected a JSON object", "dict_type")])
        service = _service(request)
        try:
            # Voice verification runs a model: keep it off the event loop.
            state = await asyncio.to_thread(service.answer, challenge_id, payload)
        except ChallengeNotFound as exc:
            return _json({"detail": str(exc)}, 404)
        except ChallengeClosed as exc:
            return _closed(exc)
        except AnswerInvalid as exc:
            raise EventValidationError(
                [FieldError((exc.field,), str(exc).split(": ", 1)[-1], "value_error")]
            ) from None
        return _json(state)

    @router.get(
        "/v1/challenges/{challenge_id}",
        response_model=ChallengeOut,
        responses={404: {"model": MessageOut, "description": "no such challenge"}},
        summary="A challenge's state and, once settled, the held action's final outcome",
        dependencies=[require("ingest", "analyst")],
    )
    async def state(request: Request, challenge_id: str) -> Response:
        try:
            return _json(_service(request).state(challenge_id))
        except ChallengeNotFound as exc:
            return _json({"detail": str(exc)}, 404)

    @router.post(
        "/v1/users/{user_id}/totp",
        status_code=201,
        response_model=TotpOut,
        responses={
            401: {"description": "no key"},
            403: {"description": "enrolment needs an admin key"},
            409: {"description": "already enrolled; replace=true replaces the secret"},
        },
        summary="Enrol an authenticator app for a user (the secret is shown once)",
        dependencies=[require("admin")],
    )
    async def enrol(request: Request, user_id: str, replace: bool = False) -> Response:
        if not 1 <= len(user_id) <= 128:
            raise EventValidationError([FieldError(("user_id",), "1 to 128 characters", "len")])
        service = _service(request)
        if not replace and service.store.totp(user_id) is not None:
            detail = f"user {user_id!r} already has an authenticator; replace=true replaces it"
            return _json({"detail": detail}, 409)
        return _json(service.enrol_totp(user_id), 201)

    return router


def challenge_outcome(request: Request, decision: dict[str, Any]) -> dict[str, Any] | None:
    """The challenge state to show with a stored decision, if it issued one."""
    challenge_id = decision.get("challenge_id")
    if not isinstance(challenge_id, str):
        return None
    try:
        return _service(request).state(challenge_id)
    except (ChallengeNotFound, RuntimeError):
        return None


async def sweep_challenges(request_app: Any, every_s: float) -> None:
    """Settle expired challenges now and then, so expiries count as failures promptly."""
    while True:
        await asyncio.sleep(every_s)
        identity = getattr(request_app.state.runtime, "identity", None)
        if identity is None:
            continue
        try:
            identity.service.sweep()
        except Exception:
            log.exception("challenge sweep failed")
