"""``EventFields``: the event's values under the same names, copied once."""

from __future__ import annotations

from fengkong.decisions.types import DecisionContext
from fengkong.events import Event, parse_event
from fengkong.events.fields import EventFields

FULL = {
    "event_id": "e1",
    "type": "transfer",
    "user_id": "u1",
    "occurred_at": "2026-11-20T09:15:40+08:00",
    "session_id": "s1",
    "device": {"device_id": "d1", "fingerprint": {"platform": "android", "canvas_hash": "c"}},
    "ip": "223.104.3.17",
    "geo": {"lat": 31.2, "lon": 121.5},
    "phone": "+8613800000000",
    "amount": "1234.50",
    "currency": "cny",
    "counterparty": {"account_id": "a2"},
    "context": {"in_call": True},
    "attributes": {"purpose": "rent"},
}


def test_every_model_field_is_copied_with_its_value() -> None:
    bare = {k: FULL[k] for k in ("event_id", "user_id", "occurred_at")}
    for raw in (FULL, {**bare, "type": "login"}):
        event = parse_event(raw)
        fields = EventFields(event)
        for name in Event.model_fields:
            assert getattr(fields, name) is getattr(event, name), name
        assert fields.ts == event.ts and fields.event is event
        assert fields.amount_float == event.amount_float
        assert fields.amount_cents == event.amount_cents


def test_slotted_and_read_only_by_convention() -> None:
    fields = EventFields(parse_event(FULL))
    assert not hasattr(fields, "__dict__")
    assert set(Event.model_fields) <= set(EventFields.__slots__)


def test_the_context_copies_its_event_once() -> None:
    event = parse_event(FULL)
    ctx = DecisionContext(event)
    assert ctx.fields.event is event and ctx.fields.ip == "223.104.3.17"
