"""Routes for keys (admin) and the audit chain (auditor)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from fengkong.api.auth import check_roles, require
from fengkong.audit.trail import AuditTrail
from fengkong.storage.keys_sqlite import KeyInfo, KeyStore

Admin = Annotated[KeyInfo, require("admin")]


class KeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@:-]+$")
    roles: list[str] = Field(min_length=1, max_length=8)


def keys_router() -> APIRouter:
    r = APIRouter(prefix="/v1/keys", tags=["keys"])

    @r.post("", status_code=201)
    def create(
        request: Request, body: KeyBody, who: Annotated[KeyInfo, require("admin")]
    ) -> dict[str, Any]:
        try:
            roles = check_roles(body.roles)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        keys: KeyStore = request.app.state.keys
        key, info = keys.create(body.name, roles, actor=who.identity)
        return {**info.as_dict(), "key": key, "note": "shown once: only its hash is kept"}

    @r.get("", dependencies=[require("admin")])
    def listing(request: Request) -> list[dict[str, Any]]:
        keys: KeyStore = request.app.state.keys
        return [k.as_dict() for k in keys.listing()]

    @r.delete("/{key_id}")
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

    return r
