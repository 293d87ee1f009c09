"""The edge parser on arbitrary JSON: a clear refusal or an event that survives a restart."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fengkong.events import EventValidationError, event_to_json, parse_event, parse_label
from fengkong.events.limits import STORED_LIMITS, Limits, structure_problem

BASE = {
    "event_id": "e1",
    "type": "payment",
    "user_id": "u1",
    "occurred_at": "2026-11-20T12:31:09+08:00",
    "amount": "38.50",
}
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=40,
)
FIELDS = [*BASE, "context", "attributes", "device", "geo", "ip", "qr", "counterparty"]


@st.composite
def events(draw: st.DrawFn) -> Any:
    event: dict[str, Any] = dict(BASE)
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(FIELDS) | st.text(max_size=6))
        event[key] = draw(
            json_values | st.datetimes().map(str) | st.just("9999-12-31T23:59:59-01:00")
        )
    return event


def _deep(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=events() | json_values)
def test_any_json_is_an_event_or_a_refusal_and_accepted_ones_reparse(raw: Any) -> None:
    try:
        text = json.dumps(raw, allow_nan=True)
    except (ValueError, RecursionError):
        return
    try:
        event = parse_event(text)
    except EventValidationError as exc:
        assert exc.errors and all(e.msg for e in exc.errors)
        return
    stored = event_to_json(event)
    # What was accepted parses again from the store, to the same canonical body.
    assert event_to_json(parse_event(stored, STORED_LIMITS)) == stored
    assert event_to_json(parse_event(stored)) == stored


@pytest.mark.parametrize("depth", [29, 30, 31, 250, 900])
def test_one_depth_limit_for_decoded_and_text_input(depth: int) -> None:
    deep = {**BASE, "attributes": {"x": _deep(depth)}}
    limits = Limits()
    too_deep = structure_problem(deep, limits) is not None
    assert too_deep == (depth + 2 > limits.max_depth)
    text = json.dumps(BASE)[:-1] + ', "attributes": {"x": ' + "[" * depth + "0" + "]" * depth + "}}"
    for given_as in (deep, text):
        if too_deep:
            with pytest.raises(EventValidationError, match="nests deeper"):
                parse_event(given_as)
        else:
            assert parse_event(given_as).attributes is not None


def test_long_keys_and_strings_are_refused_but_media_keep_their_limit() -> None:
    with pytest.raises(EventValidationError, match="key longer"):
        parse_event({**BASE, "attributes": {"k" * 200: 1}})
    with pytest.raises(EventValidationError, match="longer than 8192"):
        parse_event({**BASE, "attributes": {"k": "v" * 9000}})
    doc = {"kind": "id_card", "image_b64": "QUJD" * 5000}
    assert parse_event({**BASE, "type": "document_upload", "document": doc}).document


def test_the_time_range_is_configurable() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    ahead = {**BASE, "occurred_at": "2030-01-01T00:10:00Z"}
    with pytest.raises(EventValidationError, match="future"):
        parse_event(ahead, Limits(clock=lambda: now))
    assert parse_event(ahead, Limits(clock=lambda: now, future_skew_s=3600))
    old = {**BASE, "occurred_at": "1995-06-01T00:00:00Z"}
    assert parse_event(old, Limits(earliest=datetime(1990, 1, 1, tzinfo=UTC)))


def test_labels_from_files_may_become_known_later_but_not_on_the_live_api() -> None:
    label = {"user_id": "u1", "label": "fraud", "source": "analyst", "at": "2099-01-01T00:00:00Z"}
    assert parse_label(label).user_id == "u1"
    with pytest.raises(EventValidationError, match="future"):
        parse_label(label, live=True)
