"""``reg_rooted_datacenter`` and ``opened_rooted_behind_datacenter``: a rooted phone signing
up through a hosting exit is challenged, with its next steps; rooted alone, or a VPN alone,
stays points only."""

from __future__ import annotations

from pathlib import Path

from fengkong.decisions.policy import Policy
from fengkong.rules import compile_ruleset, default_ruleset
from fengkong.rules.stage import RulesStage, replay_contexts
from fengkong.runtime import default_replay_stages, default_rule_names
from tests.rules.test_world_facts import HOUR, T0, Stream, phone

HOSTING = "3.1.2."  # inside the test's data-centre range
RULES = {"reg_rooted_datacenter", "opened_rooted_behind_datacenter"}


def _open(s: Stream, ts: float, user: str, rooted: bool, ip: str, n: int) -> None:
    dev = phone(f"0c0c0c0c0c0c0c{n:02d}")
    dev["fingerprint"]["is_rooted"] = rooted  # type: ignore[index]
    s.add(ts, "register", user, device=dev, ip=ip, phone=f"1370000{n:04d}")
    card = {"operation": "bind_card", "bank_card": f"62220200000{n:05d}"}
    s.add(ts + 120, "account_change", user, device=dev, ip=ip, **card)
    s.add(ts + HOUR, "payment", user, device=dev, ip=ip, amount="42.00", merchant_id=f"m{n}")


def test_a_rooted_phone_behind_a_hosting_exit_is_challenged_with_its_next_steps(
    tmp_path: Path,
) -> None:
    ranges = tmp_path / "dc.csv"
    ranges.write_text("3.0.0.0,3.1.255.255,Hosting\n")
    s = Stream()
    _open(s, T0, "farm1", True, HOSTING + "7", 1)
    _open(s, T0 + 600, "rooted", True, "27.16.3.7", 2)  # a customer who rooted his phone
    _open(s, T0 + 1200, "vpn", False, HOSTING + "8", 3)  # a customer on a VPN
    rules = compile_ruleset(default_ruleset(), default_rule_names(), version="test")
    policy = Policy()
    fired: dict[str, list[set[str]]] = {}
    stages = [*default_replay_stages(str(ranges)), RulesStage(rules)]
    for ctx in replay_contexts(s.events(), stages):
        names = {r.name for r in policy.decide(ctx).reasons}
        fired.setdefault(ctx.event.user_id, []).append(names & RULES)
    assert fired["farm1"] == [
        {"reg_rooted_datacenter"},
        {"opened_rooted_behind_datacenter"},
        {"opened_rooted_behind_datacenter"},
    ]
    assert fired["rooted"] == [set(), set(), set()]
    assert fired["vpn"] == [set(), set(), set()]
