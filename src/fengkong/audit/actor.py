"""Who is acting: set at the edge (the API's key check), read where entries are written."""

from __future__ import annotations

from contextvars import ContextVar

current_actor: ContextVar[str | None] = ContextVar("fengkong_actor", default=None)
