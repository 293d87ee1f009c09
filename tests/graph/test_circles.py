"""Chains and trading circles in the flows stage: point in time, rebuilt equal, saved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fengkong.decisions import DecisionContext
from fengkong.events import Event
from fengkong.graph.circles import TradeCircles
from fengkong.graph.flow_stage import FlowsStage

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _event(i: int, kind: str, user: str, minutes: float, **fields: Any) -> Event:
    at = T0 + timedelta(minutes=minutes)
    body = {"event_id": f"e{i}", "type": kind, "user_id": user, "occurred_at": at.isoformat()}
    body.update(fields)
    return Event.model_validate(body)


def _stream() -> list[Event]:
    day = 24 * 60
    rows = [
        _event(1, "register", "a", 0),
        _event(2, "register", "b", 5),
        _event(3, "register", "c", 10),
        _event(4, "transfer", "a", day, amount=200, counterparty={"account_id": "b"}),
        _event(5, "transfer", "b", day + 60, amount=150, counterparty={"account_id": "c"}),
        _event(6, "payment", "c", day + 90, amount=80, merchant_id="m-own"),
        _event(7, "payment", "a", day + 95, amount=90, merchant_id="m-own"),
        _event(8, "credit_draw", "a", 5 * day, amount=9000),
        _event(9, "transfer", "a", 5 * day + 10, amount=8800, counterparty={"account_id": "x"}),
        _event(10, "transfer", "x", 5 * day + 30, amount=8700, counterparty={"account_id": "y"}),
    ]
    return rows


def test_circle_facts_are_read_before_the_event() -> None:
    stage = FlowsStage()
    seen: dict[str, dict[str, Any]] = {}
    for event in _stream():
        ctx = DecisionContext(event)
        stage.run(ctx)
        seen[event.event_id] = ctx.features
    assert seen["e4"]["cp_account.paid_user_30d"] is False
    assert seen["e4"]["user.circle_young_30d"] == 0  # nothing traded yet
    # b's payee c shares no partner with b yet; a → b → c is a path, not a triangle.
    assert seen["e5"]["cp_account.shared_partners_30d"] == 0
    # a: partner b, and c through the shop only young accounts pay.
    assert seen["e8"]["user.circle_young_30d"] == 2
    assert seen["e8"]["user.circle_draws_48h"] == 0
    assert seen["e9"]["user.secs_since_passed_on"] is None  # the draw is not a receipt
    # x received 8,800 and passes it on within minutes: a pass-on; y gets relayed money.
    assert seen["e10"]["user.received_amount_24h"] == 8800.0
    assert seen["e10"]["user.relayed_amount_24h"] == 0.0
    probe = DecisionContext(_event(11, "login", "y", 5 * 24 * 60 + 40))
    stage.read(probe)
    assert probe.features["user.relayed_amount_24h"] == 8700.0
    probe = DecisionContext(_event(12, "login", "x", 5 * 24 * 60 + 40))
    stage.read(probe)
    assert probe.features["user.secs_since_passed_on"] == 600.0
    probe = DecisionContext(_event(13, "login", "b", 5 * 24 * 60 + 60))
    stage.read(probe)
    assert probe.features["user.circle_draws_48h"] == 1  # a drew an hour ago
    # x never registered in the stream (an established customer): its circle is not walked.
    probe = DecisionContext(
        _event(14, "payment", "x", 5 * 24 * 60 + 70, amount=20, merchant_id="m-own")
    )
    stage.read(probe)
    assert probe.features["user.circle_young_30d"] is None
    assert probe.features["user.circle_draws_48h"] is None
    # a, 61 days after registering, is no longer young either.
    probe = DecisionContext(
        _event(15, "payment", "a", 61 * 24 * 60, amount=20, merchant_id="m-own")
    )
    stage.read(probe)
    assert probe.features["user.circle_young_30d"] is None


def test_rebuilt_and_restored_stages_read_the_same() -> None:
    online, rebuilt = FlowsStage(), FlowsStage()
    for event in _stream():
        online.run(DecisionContext(event))
        rebuilt.observe(event)
    restored = FlowsStage()
    restored.restore(online.snapshot())
    probe = _event(
        20, "transfer", "c", 5 * 24 * 60 + 90, amount=50, counterparty={"account_id": "a"}
    )
    got = []
    for stage in (online, rebuilt, restored):
        ctx = DecisionContext(probe)
        stage.read(ctx)
        got.append(ctx.features)
    assert got[0] == got[1] == got[2]
    assert got[0]["cp_account.shared_partners_30d"] == 1  # b: c → a closes a triangle
    assert got[0]["user.circle_young_30d"] == 2


def test_a_public_shop_does_not_join_its_customers() -> None:
    c = TradeCircles()
    for i in range(6):
        c.register(f"new{i}", 0.0)
        c.payment(f"new{i}", "m-popular", 100.0 + i)
    for i in range(4):  # established customers: their registration was never seen
        c.payment(f"old{i}", "m-popular", 200.0 + i)
    assert c.circle("new0", 300.0) == (0, 0)  # 6 of 10 payers young: not a group's shop
    c.expire(31 * 86_400.0)
    assert len(c) == 0
