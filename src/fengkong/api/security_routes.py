"""Routes for keys (admin) and the audit chain (auditor)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from fengkong.api.auth import check_roles, require
from fengkong.api.keys import KeyInfo, KeyStore
from fengkong.api.schemas import MessageOut, ValidationErrorOut
from fengkong.api.strict import strict_json_route
from fengkong.audit.bundle import bundle_bytes
from fengkong.audit.trail import AuditTrail
from fengkong.audit.verify import verify_database

Admin = Annotated[KeyInfo, require("admin")]
Auditor = Annotated[KeyInfo, require("auditor")]


# The roles of fengkong.api.auth.ROLES, spelled out so the OpenAPI document lists them.
RoleName = Literal[
    "ingest", "labeler", "analyst", "unmask", "rule_admin", "auditor", "consortium", "admin"
]


class KeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@:-]+$")
    roles: list[RoleName] = Field(min_length=1, max_length=8)


def keys_router() -> APIRouter:
    # The analyst API's JSON parser: one set of limits, 422 naming the field.
    r = APIRouter(
        prefix="/v1/keys",
        tags=["keys"],
        route_class=strict_json_route(),
        responses={422: {"model": ValidationErrorOut, "description": "invalid input, by field"}},
    )

    @r.post("", status_code=201)
    def create(
        request: Request, body: KeyBody, who: Annotated[KeyInfo, require("admin")]
    ) -> dict[str, Any]:
        try:
            roles = check_roles(list(body.roles))
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        keys: KeyStore = request.app.state.keys
        key, info = keys.create(body.name, roles, actor=who.identity)
        return {**info.as_dict(), "key": key, "note": "shown once: only its hash is kept"}

    @r.get("", dependencies=[require("admin")])
    def listing(request: Request) -> list[dict[str, Any]]:
        keys: KeyStore = request.app.state.keys
        return [k.as_dict() for k in keys.listing()]

    @r.delete("/{key_id}", responses={404: {"model": MessageOut, "description": "no live key"}})
    def revoke(
        request: Request, key_id: str, who: Annotated[KeyInfo, require("admin")]
    ) -> dict[str, Any]:
        keys: KeyStore = request.app.state.keys
        if not keys.revoke(key_id, actor=who.identity):
            raise HTTPException(404, f"no live key {key_id}")
        return {"key_id": key_id, "revoked": True}

    return r


def audit_router() -> APIRouter:
    r = APIRouter(prefix="/v1/audit", tags=["audit"], dependencies=[require("auditor")])

    @r.get("/checkpoint")
    def checkpoint(request: Request) -> dict[str, Any]:
        trail: AuditTrail = request.app.state.audit
        if trail.signer is None:
            raise HTTPException(404, "this store signs no checkpoints")
        return {"checkpoint": trail.checkpoint(), "public_key": trail.signer.verifier.encode()}

    @r.get("/verify")
    def verify(request: Request) -> dict[str, Any]:
        trail: AuditTrail = request.app.state.audit
        with trail.reader() as conn:
            report = verify_database(conn, trail.signer.verifier if trail.signer else None)
        first = report.first
        return {
            "ok": report.ok,
            "entries": report.entries,
            "checkpoints": report.checkpoints,
            "first_bad_entry": None if first is None else str(first),
            "problems": [str(p) for p in report.problems[:100]],
        }

    @r.get("/export", response_class=Response)
    def export(request: Request, user: str, who: Auditor) -> Response:
        trail: AuditTrail = request.app.state.audit
        if trail.signer is None:
            raise HTTPException(404, "this store signs no checkpoints")
        bundle = trail.export(user)
        if bundle is None:
            raise HTTPException(404, "the chain is empty")
        trail.record(
            "export", user, user=user, actor=who.identity, data={"items": len(bundle["items"])}
        )
        return Response(bundle_bytes(bundle), media_type="application/json")

    return r
