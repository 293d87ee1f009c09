"""API keys and roles at the HTTP edge.

Every route but ``/healthz`` (and the static API docs) takes a key
(``Authorization: Bearer KEY``) holding one of the roles it names: 401 without a
valid key, 403 with a key that lacks the role. Attach it to a route with
``dependencies=[require("analyst")]``, or take the caller as a parameter:
``who: Annotated[KeyInfo, require("analyst")]``.

Roles: ``ingest`` (events), ``labeler`` (labels), ``analyst`` (read decisions and
explanations, work cases), ``unmask`` (see identifiers unmasked, each read audited),
``rule_admin`` (publish, roll back, freeze, lists, tokenise), ``auditor`` (audit read,
verify, export), ``consortium`` (a peer member: its bundle and PSI, docs/sharing.md),
``admin`` (keys; holds every role).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from fastapi import Depends, Request
from starlette.exceptions import HTTPException

from fengkong.api.keys import KeyInfo, KeyStore
from fengkong.api.stores import principal
from fengkong.audit.actor import current_actor

ROLES: tuple[str, ...] = (
    "ingest",
    "labeler",
    "analyst",
    "unmask",
    "rule_admin",
    "auditor",
    "consortium",
    "admin",
)

LOOPBACK_INGEST = principal("loopback", "loopback", ("ingest",))


class AuthError(HTTPException):
    """401 (no or bad key) or 403 (key without the role), with a JSON ``detail``."""


def check_roles(roles: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}")
    if not roles:
        raise ValueError("give at least one role")
    return tuple(sorted(set(roles)))


def holds(info: KeyInfo, role: str) -> bool:
    return role in info.roles or "admin" in info.roles


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    return key.strip()


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def authenticate(request: Request, roles: tuple[str, ...]) -> KeyInfo:
    """The caller's key if it holds one of ``roles``; raises 401 / 403 otherwise."""
    keys: KeyStore = request.app.state.keys
    key = _bearer(request)
    if key is None:
        open_ingest = roles == ("ingest",) and getattr(request.app.state, "open_ingest", False)
        if open_ingest and _loopback(request):
            return LOOPBACK_INGEST
        raise AuthError(401, "give an API key: Authorization: Bearer KEY", _CHALLENGE)
    info = keys.check(key)
    if info is None:
        raise AuthError(401, "unknown or revoked API key", _CHALLENGE)
    if not any(holds(info, r) for r in roles):
        raise AuthError(403, f"this key lacks the role {' or '.join(roles)}")
    return info


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def require(*roles: str) -> Any:
    """A FastAPI dependency: the caller's :class:`KeyInfo`, holding one of ``roles``."""
    wanted = check_roles(list(roles))

    async def dependency(request: Request) -> KeyInfo:
        return authorise(request, wanted)

    return Depends(dependency)


def authorise(request: Request, roles: tuple[str, ...]) -> KeyInfo:
    """:func:`authenticate`, then the caller recorded as the request's principal and actor."""
    info = authenticate(request, roles)
    request.state.principal = info
    current_actor.set(info.identity)
    return info


def actor_of(request: Request) -> str:
    """The identity of the key behind ``request`` (for ``author`` / ``created_by``)."""
    info: KeyInfo | None = getattr(request.state, "principal", None)
    if info is None:
        raise RuntimeError("actor_of needs a route guarded by require()")
    return info.identity


def bootstrap_admin(keys: KeyStore, bootstrap_key: str | None) -> str | None:
    """At first start (no key yet): create the admin key; returns it when generated here.

    ``bootstrap_key`` (``FENGKONG_BOOTSTRAP_KEY``) becomes that key when given.
    """
    if not keys.empty():
        return None
    try:
        key, _ = keys.create("admin", ("admin",), key=bootstrap_key, actor="bootstrap")
    except ValueError:
        if keys.empty():
            raise
        return None  # another worker on the shared store created it meanwhile
    return None if bootstrap_key is not None else key
