"""Response shapes of the public API, for the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class WarningOut(BaseModel):
    code: str
    message: str


class ReasonOut(BaseModel):
    source: Literal["rule", "model", "list", "graph"]
    name: str
    detail: str


class OfferOut(BaseModel):
    """The credit offer of a ``credit_application`` or ``raise_limit`` (docs/credit.md)."""

    decision: Literal["approve", "review", "decline"]
    tier: str | None
    pd: float
    score: float
    limit: float
    annual_rate: float | None
    term_months: int | None
    reasons: list[str]


class DecisionOut(BaseModel):
    """A decision (EVENTS.md): most severe of allow < challenge < review < block."""

    event_id: str
    decision: Literal["allow", "challenge", "review", "block"]
    challenge: Literal["otp", "biometric", "voice"] | None
    score: float
    warnings: list[WarningOut]
    reasons: list[ReasonOut]
    versions: dict[str, str]
    latency_ms: float
    durable: bool | None = None
    challenge_id: str | None = None
    challenge_outcome: dict[str, Any] | None = None
    explain: dict[str, Any] | None = None
    offer: OfferOut | None = None


class FieldErrorOut(BaseModel):
    loc: list[str | int]
    field: str
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    detail: list[FieldErrorOut]


class RulesInvalidOut(ValidationErrorOut):
    """A 422 of the analyst API: the fields, and a rule set's problems when there are."""

    problems: list[dict[str, Any]] | None = None


class MessageOut(BaseModel):
    detail: str


class LabelsStoredOut(BaseModel):
    stored: int


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    reasons: list[str] = []
    version: str
    rebuilt_events: int
