"""Default-pack rules on how farms open accounts, on crafted streams with the honest
look-alikes: a farm phone resetting its device id for every account (against a popular
model's sign-up rush and a customer who owns the farm's model), and a farm opening
through fresh hosting proxies on rare phones (against an office's cloud exit and a
customer's own VPN)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fengkong.decisions.policy import Policy
from fengkong.rules import compile_ruleset, default_ruleset
from fengkong.rules.stage import RulesStage, replay_contexts
from fengkong.runtime import default_replay_stages, default_rule_names
from tests.rules.test_shared_cards_and_documents import _image
from tests.rules.test_slow_farms_and_hubs import hits
from tests.rules.test_world_facts import DAY, HOUR, T0, Stream, phone

RULE = "reg_fingerprint_mostly_new_accounts"
RULES = {RULE, "opened_on_farm"}
CHEAP = {"model": "OPPO A5", "canvas": "c-oppoa5-81"}


def _open(s: Stream, ts: float, user: str, device: dict[str, Any], i: int) -> None:
    """Register, upload the ID card and bind a card, minutes apart, like any new customer,
    each account through its own address (a farm buys a proxy per account)."""
    ip = f"113.{40 + i % 50}.{i % 250}.21"
    doc = {"kind": "id_card", "image_b64": _image(1000 + i)}
    s.add(ts, "register", user, device=device, ip=ip, phone=f"1370{i:07d}")
    s.add(ts + 90, "document_upload", user, device=device, ip=ip, document=doc)
    card = {"operation": "bind_card", "bank_card": f"62220200{i:011d}"}
    s.add(ts + 200, "account_change", user, device=device, ip=ip, **card)


def _customers(s: Stream) -> None:
    """Two days of 300 established customers on a popular phone and four who own the
    cheap model, logging in now and then."""
    for h in range(0, 48, 3):
        for i in range(h % 2, 300, 2):
            s.add(T0 + h * HOUR + i, "login", f"c{i}", device=phone(f"pop-{i:06d}"), ip="1.2.3.4")
        k = h // 3 % 4
        s.add(T0 + h * HOUR + 900, "login", f"o{k}", device=phone(f"own-{k:06d}", **CHEAP))


def _fired(decided: list[tuple[Any, str, set[str]]], user: str) -> list[tuple[str, str, set[str]]]:
    return [(e.type.value, d, names & RULES) for e, d, names in decided if e.user_id == user]


def test_a_farm_phone_resetting_its_id_is_challenged_from_the_fourth_registration() -> None:
    s = Stream()
    _customers(s)
    t = T0 + 2 * DAY
    # A customer who owns the cheap model opens an account the evening before.
    _open(s, t - 5 * HOUR, "owner", phone("own-000009", **CHEAP), 99)
    for k in range(4):  # the farm phone: a fresh device id and proxy for each account
        _open(s, t + k * 1800, f"farm{k}", phone(f"reset-{k:06d}", **CHEAP), k)
    s.add(t + 6 * HOUR, "login", "owner", device=phone("own-000009", **CHEAP), ip="113.9.9.9")
    s.add(t + 7 * HOUR, "login", "farm3", device=phone("reset-000003", **CHEAP), ip="113.9.9.8")
    decided = hits(s.events())
    # Nothing to see yet while at most two accounts opened on it before (the owner's
    # among them); from the fourth registration on it is the farm's fingerprint.
    for k in range(2):
        assert all(names == set() for _, _, names in _fired(decided, f"farm{k}"))
    for k in range(2, 4):
        opened = _fired(decided, f"farm{k}")
        assert opened[0][:2] == ("register", "challenge")
        assert RULE in opened[0][2]
        # The document and card minutes later carry what the registration met ...
        assert [(d, names) for _, d, names in opened[1:3]] == [("challenge", {RULE})] * 2
    # ... a login hours later does not (other rules judge what the account does).
    assert _fired(decided, "farm3")[-1] == ("login", "allow", set())
    # The customer opened before the burst: neither then nor later judged by it (at six
    # farm accounts within two days of its opening, opened_on_farm's live count of the
    # fingerprint's registrations would reach it: that bound is older than this rule).
    assert all(d == "allow" and not names for _, d, names in _fired(decided, "owner"))


def test_a_popular_models_sign_up_rush_is_not_a_farm() -> None:
    s = Stream()
    _customers(s)
    t = T0 + 2 * DAY
    # A promotion: 30 customers sign up in an afternoon on the popular phone.
    for k in range(30):
        _open(s, t + k * 300, f"new{k}", phone(f"popnew-{k:06d}"), 200 + k)
    decided = hits(s.events())
    for k in range(30):
        assert all(not names for _, _, names in _fired(decided, f"new{k}"))


# Old or cheap models a farm buys by the crate; few customers own one.
RARE = [
    {"model": "Meizu M6", "canvas": "c-meizum6-70"},
    {"model": "Lenovo K5", "canvas": "c-lenovok5-9"},
    {"model": "Redmi 9A", "canvas": "c-redmi9a-10"},
]


def _hits_with_ranges(s: Stream, ranges: str) -> list[tuple[Any, str, set[str]]]:
    """(event, decision, rules fired) with a data-centre list: 47.92.0.0/14 is hosting."""
    rules = RulesStage(compile_ruleset(default_ruleset(), default_rule_names(), version="test"))
    policy = Policy()
    out = []
    for ctx in replay_contexts(s.events(), [*default_replay_stages(ranges), rules]):
        outcome = policy.decide(ctx)
        out.append((ctx.event, outcome.action.label, {r.name for r in outcome.reasons}))
    return out


def _open_at(s: Stream, ts: float, user: str, device: dict[str, Any], ip: str, i: int) -> None:
    doc = {"kind": "id_card", "image_b64": _image(3000 + i)}
    card = {"operation": "bind_card", "bank_card": f"62170000{i:011d}"}
    s.add(ts, "register", user, device=device, ip=ip, phone=f"1380{i:07d}")
    s.add(ts + 100, "document_upload", user, device=device, ip=ip, document=doc)
    s.add(ts + 220, "account_change", user, device=device, ip=ip, **card)


def test_openings_through_fresh_hosting_exits_on_a_rare_phone_are_challenged(
    tmp_path: Path,
) -> None:
    ranges = tmp_path / "dc.csv"
    ranges.write_text("47.92.0.0,47.95.255.255,Alibaba Cloud\n")
    s = Stream()
    _customers(s)  # 300 customers on a popular phone, four on a cheap one
    t = T0 + 2 * DAY
    # Forty colleagues use the office's cloud exit every working day.
    for i in range(40):
        s.add(
            t - 3 * HOUR + i * 60, "login", f"c{i}", device=phone(f"pop-{i:06d}"), ip="47.92.8.10"
        )
    # A farm: one account per hosting proxy, each on its own /24, a rare phone (new ids).
    for k in range(3):
        _open_at(
            s, t + k * 3600, f"farm{k}", phone(f"m6-{k:06d}", **RARE[k]), f"47.9{3 + k}.{k}.9", k
        )
    # Look-alikes: a new colleague with the rare phone signs up at the office; a customer
    # with a popular phone behind his own VPN server; an established owner of the cheap
    # phone changes a setting through his VPN.
    _open_at(s, t + 10 * HOUR, "colleague", phone("m6-colleague", **RARE[0]), "47.92.8.10", 50)
    _open_at(s, t + 11 * HOUR, "vpn", phone("pop-vpn-0001"), "47.94.200.3", 51)
    device = phone("own-000001", **CHEAP)
    s.add(
        t + 12 * HOUR, "account_change", "o1", device=device, ip="47.95.1.1", operation="add_payee"
    )
    decided = _hits_with_ranges(s, str(ranges))
    for k in range(3):
        opened = _fired_any(decided, f"farm{k}")
        assert [d for _, d, _ in opened] == ["challenge"] * 3
        assert all(HOSTING_RULE in names for _, _, names in opened)
    for user in ("colleague", "vpn", "o1"):
        assert all(HOSTING_RULE not in names for _, _, names in _fired_any(decided, user))


HOSTING_RULE = "opening_via_fresh_datacenter_on_rare_phone"


def _fired_any(
    decided: list[tuple[Any, str, set[str]]], user: str
) -> list[tuple[str, str, set[str]]]:
    return [(e.type.value, d, names) for e, d, names in decided if e.user_id == user]
