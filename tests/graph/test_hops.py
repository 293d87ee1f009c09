"""Hop facts of the flows stage: the latest receipt, a loan's split, a shop's payers.

Each is read before the event is added (point in time): an event never sees itself or
anything after it, and a stage rebuilt from the log reads the same values.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.servers import redis_session, redis_url

from fengkong.decisions import DecisionContext
from fengkong.events import Event
from fengkong.features.state_redis import RedisSession
from fengkong.graph.flow_stage import FlowsStage

__all__ = ["redis_session", "redis_url"]

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
HOP_FEATURES = (
    "user.last_received_amount",
    "user.moved_out_since_draw_24h",
    "user.young_payees_since_draw_24h",
    "merchant.payers_30d",
    "merchant.young_payers_30d",
    "cp_account.circle_young_30d",
    "user.young_payees_7d",
)


def _event(i: int, kind: str, user: str, minutes: float, **fields: Any) -> Event:
    at = T0 + timedelta(minutes=minutes)
    body = {"event_id": f"e{i}", "type": kind, "user_id": user, "occurred_at": at.isoformat()}
    body.update(fields)
    return Event.model_validate(body)


def _transfer(i: int, user: str, to: str, amount: float, minutes: float) -> Event:
    return _event(i, "transfer", user, minutes, amount=amount, counterparty={"account_id": to})


def _features(stage: FlowsStage, event: Event) -> dict[str, Any]:
    ctx = DecisionContext(event)
    stage.run(ctx)
    return {name: ctx.features[name] for name in HOP_FEATURES}


def test_latest_receipt_is_the_last_transfer_in_not_the_sum() -> None:
    stage = FlowsStage()
    for event in (_transfer(1, "a", "mule", 500, 0), _transfer(2, "b", "mule", 700, 10)):
        stage.run(DecisionContext(event))
    out = _features(stage, _transfer(3, "mule", "next", 690, 20))
    assert out["user.last_received_amount"] == 700.0
    # The payee of that transfer has received it only after the event was decided.
    onward = _features(stage, _transfer(4, "next", "end", 680, 30))
    assert onward["user.last_received_amount"] == 690.0
    # A day later nothing counts any more.
    late = _features(stage, _transfer(5, "mule", "x", 10, 24 * 60 + 25))
    assert late["user.last_received_amount"] is None


def test_a_loan_split_counts_young_payees_after_the_draw_only() -> None:
    stage = FlowsStage()
    day = 24 * 60
    for i, who in enumerate(("hub", "m1", "m2", "m3")):
        stage.run(DecisionContext(_event(i, "register", who, i)))
    before = _features(stage, _transfer(10, "hub", "m1", 50, day))
    assert before["user.moved_out_since_draw_24h"] is None  # no draw yet
    stage.run(DecisionContext(_event(11, "credit_draw", "hub", day + 10, amount=3000)))
    first = _features(stage, _transfer(12, "hub", "m1", 900, day + 20))
    assert first["user.moved_out_since_draw_24h"] == 0.0
    assert first["user.young_payees_since_draw_24h"] == 0
    # An established payee (no registration seen) is paid but is not a fresh account.
    stage.run(DecisionContext(_transfer(13, "hub", "landlord", 400, day + 30)))
    third = _features(stage, _transfer(14, "hub", "m2", 800, day + 40))
    assert third["user.moved_out_since_draw_24h"] == 1300.0
    assert third["user.young_payees_since_draw_24h"] == 1
    fourth = _features(stage, _transfer(15, "hub", "m3", 700, day + 50))
    assert fourth["user.young_payees_since_draw_24h"] == 2
    # A withdrawal is money gone too (to the customer's own card: nothing left to split).
    stage.run(DecisionContext(_event(19, "withdrawal", "hub", day + 55, amount=100)))
    after = _features(stage, _transfer(20, "hub", "m3", 10, day + 56))
    assert after["user.moved_out_since_draw_24h"] == 2900.0
    # A new draw starts a new split; a day after it the split is gone.
    stage.run(DecisionContext(_event(16, "credit_draw", "hub", day + 60, amount=500)))
    again = _features(stage, _transfer(17, "hub", "m1", 100, day + 70))
    assert again["user.moved_out_since_draw_24h"] == 0.0
    assert again["user.young_payees_since_draw_24h"] == 0
    gone = _features(stage, _transfer(18, "hub", "m1", 100, 2 * day + 61))
    assert gone["user.moved_out_since_draw_24h"] is None


def test_a_shop_counts_its_other_payers_and_the_young_ones() -> None:
    stage = FlowsStage()
    for i, who in enumerate(("g1", "g2", "g3")):
        stage.run(DecisionContext(_event(i, "register", who, i)))
    for i, who in enumerate(("g1", "g2", "g3", "g1")):
        pay = _event(10 + i, "payment", who, 60 + i, amount=80, merchant_id="m-own")
        out = _features(stage, pay)
    # g1's second payment: g2 and g3 paid before; g1 itself is not counted.
    assert (out["merchant.payers_30d"], out["merchant.young_payers_30d"]) == (2, 2)
    stage.run(DecisionContext(_event(20, "payment", "old", 70, amount=30, merchant_id="m-own")))
    mixed = _features(stage, _event(21, "payment", "g2", 80, amount=80, merchant_id="m-own"))
    assert (mixed["merchant.payers_30d"], mixed["merchant.young_payers_30d"]) == (3, 2)
    login = _features(stage, _event(22, "login", "g2", 90))
    assert login["merchant.payers_30d"] is None


def test_money_sent_into_a_closed_group_counts_the_payees_other_young_members() -> None:
    stage = FlowsStage()
    for i, who in enumerate(("g0", "g1", "g2", "g3", "newcomer")):
        stage.run(DecisionContext(_event(i, "register", who, i)))
    for i, who in enumerate(("g1", "g2", "g3")):  # the group trades with g0 first
        stage.run(DecisionContext(_transfer(10 + i, who, "g0", 100, 60 + i)))
    stage.run(DecisionContext(_transfer(13, "established", "g0", 100, 70)))
    into = _features(stage, _transfer(20, "newcomer", "g0", 50, 80))
    assert into["cp_account.circle_young_30d"] == 3  # g1-g3; not the newcomer, not the old one
    # Read before the event: the newcomer's own transfer is not yet in g0's circle.
    back = _features(stage, _transfer(21, "g1", "g0", 10, 90))
    assert back["cp_account.circle_young_30d"] == 3  # g2, g3 and now the newcomer
    assert _features(stage, _event(22, "login", "g0", 95))["cp_account.circle_young_30d"] is None


def test_a_payer_counts_the_fresh_accounts_it_paid_this_week() -> None:
    stage = FlowsStage()
    day = 24 * 60
    stage.run(DecisionContext(_event(0, "register", "old", 0)))  # opened 31 days before paid
    stage.run(DecisionContext(_event(1, "register", "mid", 5 * day)))
    for i, who in enumerate(("f1", "f2", "f3")):
        stage.run(DecisionContext(_event(2 + i, "register", who, 30 * day + i)))
    for i, who in enumerate(("f1", "old", "landlord")):  # landlord: opened before the log
        stage.run(DecisionContext(_transfer(10 + i, "hub", who, 1000, 31 * day + i)))
    first = _features(stage, _transfer(20, "hub", "f2", 1000, 31 * day + 10))
    assert first["user.young_payees_7d"] == 1  # f1; f2 is this transfer's, not yet paid
    # "mid" is 29 days old when paid: fresh then, whatever its age when read later.
    stage.run(DecisionContext(_transfer(21, "hub", "mid", 1000, 34 * day)))
    later = _features(stage, _transfer(22, "hub", "f3", 1000, 36 * day))
    assert later["user.young_payees_7d"] == 3  # f1, f2, mid
    # A week after f1 was paid it no longer counts; f2 (paid 10 minutes later) still does.
    week = _features(stage, _transfer(23, "hub", "f3", 1000, 38 * day + 5))
    assert week["user.young_payees_7d"] == 3  # f2, mid, f3
    own = _features(stage, _transfer(24, "f1", "f2", 10, 38 * day + 6))
    assert own["user.young_payees_7d"] == 0  # the sender's own payees: f1 paid no one
    # A transfer to an established account reads none: no fan-out to fresh accounts.
    to_old = _features(stage, _transfer(26, "hub", "landlord", 1000, 38 * day + 8))
    assert to_old["user.young_payees_7d"] is None
    login = _features(stage, _event(25, "login", "hub", 38 * day + 7))
    assert login["user.young_payees_7d"] is None


def _random_stream(seed: int) -> list[Event]:
    rng = random.Random(seed)
    users = [f"u{k}" for k in range(12)]
    shops = ["s1", "s2"]
    events: list[Event] = []
    minutes = 0.0
    for i in range(600):
        minutes += rng.expovariate(1 / 20)
        user = rng.choice(users)
        roll = rng.random()
        if roll < 0.05:
            events.append(_event(i, "register", user, minutes))
        elif roll < 0.15:
            events.append(_event(i, "credit_draw", user, minutes, amount=rng.randint(500, 5000)))
        elif roll < 0.6:
            to = rng.choice([u for u in users if u != user])
            events.append(_transfer(i, user, to, rng.randint(10, 3000), minutes))
        elif roll < 0.9:
            shop = rng.choice(shops)
            events.append(_event(i, "payment", user, minutes, amount=50, merchant_id=shop))
        else:
            events.append(_event(i, "login", user, minutes))
    return events


def test_no_future_leakage_and_a_rebuild_reads_the_same() -> None:
    stream = _random_stream(7)
    online = FlowsStage()
    seen = [_features(online, event) for event in stream]
    for cut in (50, 200, 417, 599):
        rebuilt = FlowsStage()
        for event in stream[:cut]:
            rebuilt.observe(event)
        # The prefix alone gives the online value: nothing after the event was used.
        assert _features(rebuilt, stream[cut]) == seen[cut]


def test_snapshot_keeps_the_hop_states() -> None:
    stream = _random_stream(3)
    stage = FlowsStage()
    for event in stream[:300]:
        stage.run(DecisionContext(event))
    restored = FlowsStage()
    restored.restore(stage.snapshot())
    for event in stream[300:320]:
        assert _features(restored, event) == _features(stage, event)


def test_on_redis_the_hop_facts_are_those_of_memory(redis_url: str) -> None:
    stream = _random_stream(11)[:250]
    session = RedisSession.from_url(redis_url, b"h" * 32, namespace="fk:test:hops")
    shared, memory = FlowsStage(session=session), FlowsStage()
    for event in stream:
        assert _features(shared, event) == _features(memory, event)


def test_a_late_transfer_or_draw_does_not_rewrite_the_loan_split() -> None:
    """A late event (older than the account's newest, as a repaired one is) neither counts
    money that left before the draw nor replaces a newer draw."""
    from fengkong.graph.hops import DrawSplits

    splits = DrawSplits()
    splits.draw("hub", ts=1_000.0)
    splits.moved_out("hub", "m1", 400.0, ts=1_060.0)
    splits.moved_out("hub", "m0", 900.0, ts=900.0)  # late: before the draw
    splits.draw("hub", ts=500.0)  # late: an older draw
    assert splits.read("hub", ts=1_100.0) == (400.0, ("m1",))
