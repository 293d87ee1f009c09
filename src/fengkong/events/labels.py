"""Labels: fraud / legit verdicts on an event or an account, known from ``at`` on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from fengkong.events.codec import _from_pydantic
from fengkong.events.models import Id, _Strict

LabelValue = Literal["fraud", "legit"]
LabelSource = Literal["chargeback", "confirmed_case", "customer_report", "analyst"]


class Label(_Strict):
    """A verdict on one event (``event_id``) or one account (``user_id``), never both.

    ``scenario`` (optional, an extension of the v1 label) names the attack, as the
    simulator writes it, so evaluations can report recall per scenario.
    """

    event_id: Id | None = None
    user_id: Id | None = None
    label: LabelValue
    source: LabelSource
    at: AwareDatetime
    scenario: Annotated[str, StringConstraints(max_length=128)] | None = None

    @field_validator("at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _one_target(self) -> Label:
        if (self.event_id is None) == (self.user_id is None):
            raise ValueError("give exactly one of `event_id` and `user_id`")
        return self


def parse_label(data: bytes | str | dict[str, Any]) -> Label:
    """Validate one label; raises :class:`EventValidationError` naming the field."""
    try:
        if isinstance(data, dict):
            return Label.model_validate(data)
        return Label.model_validate_json(data)
    except ValidationError as exc:
        raise _from_pydantic(exc) from None
