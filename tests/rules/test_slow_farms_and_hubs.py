"""Default-pack rules for slow device farms, ring hubs paying fresh accounts, and money
after failed challenges: each on a crafted stream, with the honest look-alike."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fengkong.decisions.policy import Policy
from fengkong.events import Event
from fengkong.rules import compile_ruleset, default_ruleset
from fengkong.rules.stage import RulesStage, replay_contexts
from fengkong.runtime import default_replay_stages, default_rule_names
from tests.rules.helpers import frame, make_event
from tests.rules.test_world_facts import DAY, HOUR, T0, Stream, phone


def hits(events: Iterable[Event]) -> list[tuple[Event, str, set[str]]]:
    """(event, decision, names of the rules that fired) for every event."""
    rules = RulesStage(compile_ruleset(default_ruleset(), default_rule_names(), version="test"))
    policy = Policy()
    out = []
    for ctx in replay_contexts(events, [*default_replay_stages(), rules]):
        outcome = policy.decide(ctx)
        out.append((ctx.event, outcome.action.label, {r.name for r in outcome.reasons}))
    return out


def _register(
    s: Stream, ts: float, user: str, device_id: str, i: int, ip: str | None = None
) -> None:
    s.add(
        ts,
        "register",
        user,
        device=phone(device_id),
        ip=ip or f"113.{40 + i}.{i * 7 % 256}.21",
        phone=f"1370000{i:04d}",
    )


def test_a_phone_opening_its_third_account_in_a_week_is_challenged() -> None:
    s = Stream()
    for i, ts in enumerate((T0, T0 + 36 * HOUR, T0 + 3 * DAY)):  # over days: no burst
        _register(s, ts, f"farm{i}", "slow-farm-phone-01", i)
    for i, ts in enumerate((T0 + HOUR, T0 + 5 * DAY)):  # a family tablet: two sign-ups
        _register(s, ts, f"family{i}", "family-tablet-0001", 10 + i)
    decided = {e.user_id: (d, names) for e, d, names in hits(s.events())}
    assert decided["farm2"][0] == "challenge" and "reg_device_week" in decided["farm2"][1]
    assert decided["farm0"][0] == "allow"
    # The second account, a day and a half later through another network, is seen too
    # (reg_device_second_network: each account of the farm phone has its own exit).
    assert decided["farm1"][0] == "challenge" and "reg_device_week" not in decided["farm1"][1]
    assert decided["family0"][0] == decided["family1"][0] == "allow"


def _transfer(s: Stream, ts: float, user: str, payee: str, amount: int) -> None:
    s.add(
        ts,
        "transfer",
        user,
        device=phone(f"dev-{user}"),
        ip="120.229.14.8",
        amount=str(amount),
        counterparty={"account_id": payee},
    )


def test_a_hub_paying_many_fresh_accounts_is_reviewed_and_a_generous_friend_is_not() -> None:
    s = Stream()
    for i in range(8):
        _register(s, T0 + i * 600, f"fresh{i}", f"fresh-phone-{i:04d}", i)
    for i in range(2):  # a nephew and a niece open accounts
        _register(s, T0 + 2 * HOUR + i * 600, f"nephew{i}", f"nephew-phone-{i:04d}", 20 + i)
    for i in range(8):  # the hub pays its recruits, two a day
        _transfer(s, T0 + DAY + i * 12 * HOUR, "hub", f"fresh{i}", 3000 + 100 * i)
    # Six established friends (opened before the history) this week,
    # then the two fresh accounts of the family: few of the week's payees are fresh.
    for i, payee in enumerate([*(f"friend{k}" for k in range(6)), "nephew0", "nephew1"]):
        _transfer(s, T0 + DAY + i * 12 * HOUR + 60, "generous", payee, 3000)
    decided = [(e.user_id, d, names) for e, d, names in hits(s.events())]
    hub = [(d, names) for u, d, names in decided if u == "hub"]
    assert all("fan_out_to_young_payees" not in names for _, names in hub[:6])
    assert all(d == "review" and "fan_out_to_young_payees" in names for d, names in hub[6:])
    generous = [names for u, _, names in decided if u == "generous"]
    assert len(generous) == 8
    assert all("fan_out_to_young_payees" not in names for names in generous)


def _failed_challenge_rule_fires(features: dict[str, Any]) -> bool:
    ruleset = compile_ruleset(default_ruleset(), default_rule_names(), version="test")
    event = make_event(type="payment", amount="120", merchant_id="m1")
    fired = ruleset.evaluate(frame(event, features))
    return "money_after_failed_challenges" in {r.name for r in fired}


def test_an_agents_failed_challenges_do_not_freeze_the_customers_own_phone() -> None:
    # An agent failed two challenges on the customer's account from the agent's phone.
    own_phone = {"challenge.failed_user_24h": 2, "challenge.failed_device_24h": 0}
    assert not _failed_challenge_rule_fires({**own_phone, "user.device_age_secs": 5 * DAY})
    # The device that failed, a device the account met minutes ago, or none: reviewed.
    assert _failed_challenge_rule_fires({**own_phone, "challenge.failed_device_24h": 1})
    assert _failed_challenge_rule_fires({**own_phone, "user.device_age_secs": 600})
    assert _failed_challenge_rule_fires({**own_phone, "user.device_age_secs": None})
    # A device that failed three times, whoever is on it.
    assert _failed_challenge_rule_fires(
        {"challenge.failed_user_24h": 0, "challenge.failed_device_24h": 3}
    )


def _background(s: Stream, users: int, span: float) -> None:
    """Honest users on 25 popular models over ``span``: logins, and one in 15 signs up."""
    for i in range(users):
        s.add(
            T0 + span * i / users,
            "register" if (i // 25) % 15 == 0 else "login",
            f"h{i:04d}",
            device=phone(f"hdev-{i:05d}", f"Model {i % 25}", f"canvas-{i % 25}"),
            ip=f"183.{i % 200}.{i * 7 % 256}.5",
            phone=f"1350000{i:04d}",
        )


def test_a_farm_opening_accounts_over_days_on_one_rare_fingerprint_is_challenged() -> None:
    s = Stream()
    _background(s, 3000, 3 * DAY)
    for i in range(10):  # one rare phone, a fresh device id per account, every 5 hours
        s.add(
            T0 + 6 * HOUR + i * 5 * HOUR,
            "register",
            f"farm{i}",
            device=phone(f"reset-{i:04d}", "Lenovo K5", "canvas-lenovo-k5"),
            ip=f"39.144.{i * 11}.{i + 9}",
            phone=f"1390000{i:04d}",
        )
    decided = {e.user_id: (d, names) for e, d, names in hits(s.events())}
    farm = [decided[f"farm{i}"] for i in range(10)]
    assert all(d == "allow" for d, _ in farm[:3])  # under an hourly burst, nothing yet
    # From the fourth, the fingerprint carries little but the accounts opened on it ...
    mostly_new = "reg_fingerprint_mostly_new_accounts"
    assert all(d == "challenge" and mostly_new in n for d, n in farm[3:])
    # ... and from the seventh, its registrations stand out against its share too.
    assert all("reg_fingerprint_burst_days" in n for _, n in farm[6:])
    assert all(d == "allow" for u, (d, _) in decided.items() if u.startswith("h"))


def test_an_account_opened_beside_two_others_on_one_phone_is_challenged_when_it_acts() -> None:
    s = Stream()
    _register(s, T0, "pair0", "shared-phone-0001", 1)
    _register(s, T0 + DAY, "pair1", "shared-phone-0001", 2)
    _register(s, T0 + 30 * HOUR, "pair2", "shared-phone-0001", 4)
    _register(s, T0 + 2 * HOUR, "alone", "own-phone-0001", 3)
    # A couple signs up on one tablet, at home (one home line).
    _register(s, T0 + 3 * HOUR, "wife", "family-tablet-0009", 5, ip="114.93.12.77")
    _register(s, T0 + 4 * HOUR, "husband", "family-tablet-0009", 6, ip="114.93.12.77")
    devices = {"pair0": "shared-phone-0001", "alone": "own-phone-0001"}
    for user in ("pair0", "alone", "wife"):
        s.add(
            T0 + 3 * DAY,
            "payment",
            user,
            device=phone(devices.get(user, "family-tablet-0009")),
            ip="113.1.2.3",
            amount="80",
            merchant_id="m7",
        )
    decided = [(e.user_id, e.type, d, n) for e, d, n in hits(s.events())]
    paid = {u: (d, n) for u, t, d, n in decided if t == "payment"}
    assert paid["pair0"][0] == "challenge" and "opened_on_farm" in paid["pair0"][1]
    assert paid["alone"][0] == "allow"
    assert paid["wife"][0] == "allow"


def test_a_device_serving_many_accounts_taking_on_one_more_is_challenged_at_login() -> None:
    s = Stream()
    for i in range(6):  # customers with their own phones; then an agency's phone, over days
        s.add(T0 + i * HOUR, "login", f"cust{i}", device=phone(f"own-{i:03d}"), ip="113.5.6.7")
        s.add(
            T0 + 2 * DAY + i * 20 * HOUR,
            "login",
            f"cust{i}",
            device=phone("agency-phone-01"),
            ip="171.9.1.2",
        )
    for i in range(3):  # a family tablet: three relatives, each back again the next day
        for day in (0, 1):
            s.add(
                T0 + day * DAY + i * HOUR,
                "login",
                f"kin{i}",
                device=phone("family-tablet-02"),
                ip="116.2.3.4",
            )
    decided = [(e.user_id, d, n) for e, d, n in hits(s.events())]
    agency = [(d, n) for u, d, n in decided if u.startswith("cust")][6:]  # the agency's logins
    assert all("agent_device_new_customer_login" not in n for _, n in agency[:4])
    assert all(d == "challenge" and "agent_device_new_customer_login" in n for d, n in agency[4:])
    assert all(d == "allow" for u, d, _ in decided if u.startswith("kin"))
