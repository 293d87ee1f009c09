"""The default pack against facts of the world: crowds behind carriers, popular phones,
travellers, and an honest-only stream; and the device farm it must still see."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import orjson
import pytest

from fengkong.decisions.policy import Policy
from fengkong.decisions.types import Action
from fengkong.events import Event, parse_event
from fengkong.rules import compile_ruleset, default_ruleset
from fengkong.rules.stage import RulesStage, replay_contexts
from fengkong.runtime import default_replay_stages, default_rule_names
from fengkong.sim import SimConfig, simulate
from fengkong.sim.world import WORLDS

T0 = 1_790_000_000  # 2026-09-21
HOUR = 3600
DAY = 86_400


def iso(ts: float) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.fromtimestamp(ts, UTC) + timedelta(hours=8)).strftime(
        "%Y-%m-%dT%H:%M:%S+08:00"
    )


def decide(events: Iterable[Event]) -> list[tuple[Event, Action]]:
    """Every event through the replay stages and the default pack and policy."""
    rules = RulesStage(compile_ruleset(default_ruleset(), default_rule_names(), version="test"))
    policy = Policy()
    return [
        (ctx.event, policy.decide(ctx).action)
        for ctx in replay_contexts(events, [*default_replay_stages(), rules])
    ]


class Stream:
    """Hand-written events in time order."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, ts: float, etype: str, user: str, **fields: Any) -> None:
        ev = {
            "event_id": f"e{len(self.rows)}",
            "type": etype,
            "user_id": user,
            "occurred_at": iso(ts),
        }
        ev.update(fields)
        self.rows.append(ev)

    def events(self) -> list[Event]:
        self.rows.sort(key=lambda e: e["occurred_at"])
        return [parse_event(e) for e in self.rows]


def phone(
    device_id: str, model: str = "Xiaomi 14", canvas: str = "c-xiaomi14-15"
) -> dict[str, Any]:
    fp = {"platform": "android", "model": model, "os_version": "15", "screen": "1200x2670"}
    fp.update(canvas_hash=canvas, webgl_hash="adreno-750")
    return {"device_id": device_id, "fingerprint": fp}


def test_five_hundred_honest_users_behind_one_cgnat_range_are_not_flagged() -> None:
    s = Stream()
    rnd = random.Random(1)
    for i in range(500):
        user = f"u{i:04d}"
        dev = phone(f"dev-{i:05d}")
        for _ in range(3):
            ts = T0 + rnd.randrange(DAY)
            ip = f"223.104.17.{rnd.randrange(1, 9)}"  # a carrier gateway: a few addresses
            if i < 40 and _ == 0:  # new customers sign up through the same gateway
                s.add(ts, "register", user, device=dev, ip=ip, phone=f"1380000{i:04d}")
                continue
            s.add(ts, "login", user, device=dev, ip=ip)
            s.add(
                ts + 30,
                "payment",
                user,
                device=dev,
                ip=ip,
                amount="38.50",
                merchant_id=f"m{rnd.randrange(60)}",
            )
            s.add(
                ts + 90,
                "transfer",
                user,
                device=dev,
                ip=ip,
                amount=120,
                counterparty={"account_id": f"u{rnd.randrange(500):04d}"},
            )
    flagged = [e for e, a in decide(s.events()) if a is not Action.ALLOW]
    assert flagged == []


def _honest_background(s: Stream, rnd: random.Random, users: int, until: float) -> None:
    models = [(f"Model {m}", f"canvas-{m}") for m in range(25)]
    owners = [(f"h{i:04d}", f"hdev-{i:05d}", rnd.choice(models)) for i in range(users)]
    t = T0
    while t < until:
        user, did, (model, canvas) = rnd.choice(owners)
        s.add(
            t, "login", user, device=phone(did, model, canvas), ip=f"116.24.{rnd.randrange(256)}.9"
        )
        t += rnd.expovariate(1 / 120)


def test_rare_fingerprint_behind_twenty_reset_device_ids_in_an_hour_is_flagged() -> None:
    s = Stream()
    rnd = random.Random(2)
    start = T0 + 2 * DAY
    _honest_background(s, rnd, 600, start + HOUR)
    for i in range(20):  # one phone resetting its device id for every account
        ts = start + i * 170
        dev = phone(f"reset-{rnd.getrandbits(48):012x}", "Redmi 9A", "canvas-redmi9a-10")
        s.add(
            ts,
            "register",
            f"farm{i:02d}",
            device=dev,
            ip=f"27.16.{rnd.randrange(256)}.7",
            phone=f"1390000{i:04d}",
        )
    decided = decide(s.events())
    farm = [a for e, a in decided if e.user_id.startswith("farm")]
    honest = [a for e, a in decided if not e.user_id.startswith("farm")]
    assert sum(a is not Action.ALLOW for a in farm) >= 12
    assert all(a is Action.ALLOW for a in honest)


def test_thousand_phones_of_one_model_with_one_canvas_hash_are_not_a_farm() -> None:
    s = Stream()
    rnd = random.Random(3)
    for i in range(1000):
        ts = T0 + rnd.randrange(2 * DAY)
        dev = phone(f"pdev-{i:05d}")  # one model, one OS, one canvas hash
        s.add(
            ts,
            "register" if i % 10 == 0 else "login",
            f"p{i:04d}",
            device=dev,
            ip=f"183.{rnd.randrange(256)}.{rnd.randrange(256)}.3",
            phone=f"1360000{i:04d}",
        )
        s.add(
            ts + 60,
            "payment",
            f"p{i:04d}",
            device=dev,
            amount="25",
            merchant_id="m1",
            ip=f"183.{rnd.randrange(256)}.{rnd.randrange(256)}.3",
        )
    decided = decide(s.events())
    assert all(a is Action.ALLOW for _, a in decided)


def test_business_traveller_after_a_flight_is_challenged_at_most_once() -> None:
    s = Stream()
    user, dev = "traveller", phone("my-phone-001")
    beijing, guangzhou = (39.90, 116.40), (23.13, 113.26)
    for day in range(10):  # ten ordinary days at home
        ts = T0 + day * DAY + 9 * HOUR
        geo = {"lat": beijing[0], "lon": beijing[1]}
        s.add(ts, "login", user, device=dev, ip="123.112.4.20", geo=geo)
        s.add(
            ts + 60,
            "payment",
            user,
            device=dev,
            ip="123.112.4.20",
            geo=geo,
            amount="45.00",
            merchant_id="m-coffee",
        )
    depart = T0 + 10 * DAY + 8 * HOUR
    s.add(
        depart - HOUR,
        "payment",
        user,
        device=dev,
        ip="223.104.1.5",
        geo={"lat": beijing[0], "lon": beijing[1]},
        amount="30",
        merchant_id="m-taxi",
    )
    arrive = depart + int(3.5 * HOUR)
    g = {"lat": guangzhou[0], "lon": guangzhou[1]}
    # Mobile data still egresses in Beijing; then the hotel's Wi-Fi.
    s.add(arrive + 900, "login", user, device=dev, ip="223.104.1.77", geo=g)
    s.add(
        arrive + 1000,
        "payment",
        user,
        device=dev,
        ip="223.104.1.77",
        geo=g,
        amount="88",
        merchant_id="m-taxi-gz",
    )
    s.add(arrive + 3 * HOUR, "login", user, device=dev, ip="113.64.9.10", geo=g)
    s.add(
        arrive + 3 * HOUR + 60,
        "payment",
        user,
        device=dev,
        ip="113.64.9.10",
        geo=g,
        amount="460",
        merchant_id="m-hotel",
    )
    s.add(
        arrive + 4 * HOUR,
        "transfer",
        user,
        device=dev,
        ip="113.64.9.10",
        geo=g,
        amount="600",
        counterparty={"account_id": "colleague"},
    )
    after = [a for e, a in decide(s.events()) if e.ts >= depart]
    assert sum(a is not Action.ALLOW for a in after) <= 1


@pytest.mark.parametrize("world", ["A", "B"])
def test_default_pack_on_an_honest_only_stream_stays_under_the_friction_target(
    world: str,
) -> None:
    cfg = SimConfig(users=300, days=14, seed=21, attack_rate=0.0, world=WORLDS[world])
    events = [parse_event(orjson.loads(ev)) for ev, _ in simulate(cfg) if ev]
    decided = decide(events)
    accounts = {e.user_id for e, _ in decided}
    touched = {e.user_id for e, a in decided if a is not Action.ALLOW}
    not_allowed = sum(a is not Action.ALLOW for _, a in decided)
    assert len(accounts) >= 290 and len(decided) > 5000
    assert not_allowed / len(decided) <= 0.003
    assert len(touched) / len(accounts) <= 0.02
