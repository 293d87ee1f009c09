from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from fengkong.decisions import DecisionContext
from fengkong.events import Event
from fengkong.graph.flow_stage import FlowsStage
from fengkong.graph.flows import InflowWindow


def _read_restored(stage: FlowsStage, event: Event) -> dict[str, Any]:
    """The features a stage restored from ``stage``'s snapshot reads for ``event``."""
    restored = FlowsStage()
    restored.restore(stage.snapshot())
    ctx = DecisionContext(event)
    restored.read(ctx)
    return ctx.features


def test_inflow_window_equals_brute_force_on_a_random_stream() -> None:
    rng = random.Random(4)
    window = InflowWindow(window_s=6 * 3600)
    seen: list[tuple[float, str, str, float]] = []
    ts = 0.0
    for _ in range(3000):
        ts += rng.expovariate(1 / 60)
        account, sender = f"a{rng.randrange(20)}", f"s{rng.randrange(40)}"
        got = window.read(account, ts)
        # Hourly buckets: everything from the start of the hour 6 h back counts.
        edge = ts - 6 * 3600
        past = [x for x in seen if x[1] == account and x[0] - x[0] % 3600 + 3600 > edge]
        expected_total = sum(x[3] for x in past)
        assert abs(got[0] - expected_total) < 1e-6
        assert got[1] == len(past)
        assert got[2] == len({x[2] for x in past})
        last = max((x[0] for x in seen if x[1] == account), default=None)
        assert got[3] == (None if not past else ts - last)
        amount = round(rng.uniform(1, 5000), 2)
        window.add(account, sender, amount, ts)
        seen.append((ts, account, sender, amount))


def _transfer(i: int, sender: str, to: str, amount: float, minute: int) -> Event:
    at = datetime(2026, 11, 20, 10, minute, tzinfo=UTC)
    return Event.model_validate(
        {
            "event_id": f"t{i}",
            "type": "transfer",
            "user_id": sender,
            "occurred_at": at.isoformat(),
            "amount": amount,
            "counterparty": {"account_id": to},
        }
    )


def test_stage_shows_a_mule_what_it_received_and_rebuilds() -> None:
    online, rebuilt = FlowsStage(), FlowsStage()
    stream = [
        _transfer(1, "victim-1", "mule", 800, 0),
        _transfer(2, "victim-2", "mule", 900, 5),
        _transfer(3, "victim-3", "mule", 700, 9),
    ]
    for event in stream:
        online.run(DecisionContext(event))
        rebuilt.observe(event)
    out_a = DecisionContext(_transfer(4, "mule", "next-hop", 2300, 20))
    out_b = DecisionContext(_transfer(4, "mule", "next-hop", 2300, 20))
    online.run(out_a)
    rebuilt.run(out_b)
    assert out_a.features == out_b.features
    assert out_a.features["user.received_amount_24h"] == 2400.0
    assert out_a.features["user.received_senders_24h"] == 3
    assert out_a.features["user.secs_since_received"] == 11 * 60
    online.maintain(out_a.event.ts + 2 * 86_400)
    assert len(online.inflows) == 0


def _transfer_at(i: int, sender: str, to: str, amount: float, at: datetime) -> Event:
    return Event.model_validate(
        {
            "event_id": f"w{i}",
            "type": "transfer",
            "user_id": sender,
            "occurred_at": at.isoformat(),
            "amount": amount,
            "counterparty": {"account_id": to},
        }
    )


def test_a_collection_account_gathering_over_days_shows_its_week() -> None:
    """Lure victims pay a collector over days: the day's window sees one, the week all."""
    stage = FlowsStage()
    t0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
    for i in range(4):
        stage.run(
            DecisionContext(
                _transfer_at(i, f"victim-{i}", "collector", 600, t0 + timedelta(days=i))
            )
        )
    out = _transfer_at(9, "collector", "own-account", 2400, t0 + timedelta(days=3, hours=2))
    ctx = DecisionContext(out)
    stage.run(ctx)
    assert ctx.features["user.received_senders_24h"] == 1
    assert ctx.features["user.received_senders_7d"] == 4
    assert ctx.features["user.received_amount_7d"] == 2400.0
    again = _read_restored(
        stage, _transfer_at(10, "collector", "own-account", 1, t0 + timedelta(days=8))
    )
    assert again["user.received_senders_24h"] == 0
    assert again["user.received_senders_7d"] == 3  # the first day has left the week


def test_only_transfers_started_by_scanning_a_code_count_as_code_payments() -> None:
    """Two lure victims pay the collector by scanning its code, a friend by its payee
    list: the week's code payments are the two scans', and they survive a snapshot."""
    stage = FlowsStage()
    t0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
    for i, entry in enumerate(("qr", "qr", "home")):
        event = _transfer_at(i, f"payer-{i}", "collector", 900, t0 + timedelta(hours=i))
        row = {**event.model_dump(mode="json", exclude_none=True), "context": {"entry": entry}}
        stage.run(DecisionContext(Event.model_validate(row)))
    out = DecisionContext(_transfer_at(9, "collector", "own", 2700, t0 + timedelta(hours=5)))
    stage.run(out)
    assert out.features["user.received_senders_7d"] == 3
    assert out.features["user.qr_received_senders_7d"] == 2
    assert out.features["user.qr_received_amount_7d"] == 1800.0
    late = _read_restored(stage, _transfer_at(10, "collector", "own", 1, t0 + timedelta(days=8)))
    assert late["user.qr_received_senders_7d"] == 0  # the week has passed
