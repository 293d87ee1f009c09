"""Labels: fraud / legit verdicts on an event or an account, known from ``at`` on."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    ConfigDict,
    StringConstraints,
    field_validator,
    model_validator,
)

from fengkong.events.codec import check_time, validate_object
from fengkong.events.limits import DEFAULT_LIMITS, Limits
from fengkong.events.models import Id, _Strict, rfc3339, to_utc

LabelValue = Literal["fraud", "legit"]
LabelSource = Literal["chargeback", "confirmed_case", "customer_report", "analyst"]


class Label(_Strict):
    """A verdict on one event (``event_id``) or one account (``user_id``), never both.

    ``scenario`` (optional, an extension of the v1 label) names the attack, as the
    simulator writes it, so evaluations can report recall per scenario.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": [n], "properties": {n: {"type": "string"}, m: {"type": "null"}}}
                for n, m in (("event_id", "user_id"), ("user_id", "event_id"))
            ]
        }
    )

    event_id: Id | None = None
    user_id: Id | None = None
    label: LabelValue
    source: LabelSource
    at: AwareDatetime
    scenario: Annotated[str, StringConstraints(max_length=128)] | None = None

    _rfc3339 = field_validator("at", mode="before")(rfc3339)
    _to_utc = field_validator("at")(to_utc)

    @model_validator(mode="after")
    def _one_target(self) -> Label:
        if (self.event_id is None) == (self.user_id is None):
            raise ValueError("give exactly one of `event_id` and `user_id`")
        return self


def parse_label(
    data: bytes | str | dict[str, Any], limits: Limits = DEFAULT_LIMITS, *, live: bool = False
) -> Label:
    """Validate one label; raises :class:`EventValidationError` naming the field.

    ``at`` is never before ``limits.earliest``; ``live`` (a label received now, as on
    the API) also refuses an ``at`` ahead of the clock. Offline label files may say
    when a verdict becomes known in their own future.
    """
    label = validate_object(Label, data, limits)
    check_time(label.at, "at", limits if live else replace(limits, future_skew_s=float("inf")))
    return label
