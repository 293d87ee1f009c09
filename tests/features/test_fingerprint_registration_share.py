"""A fingerprint's registrations against the users it carries
(``fingerprint.registration_share_48h``) and the opening that keeps them
(``user.reg_fingerprint_registration_*``), point in time."""

from __future__ import annotations

import pickle
from typing import Any

from fengkong.events import Event, parse_event
from fengkong.features.baserates import BaseRatesStage
from fengkong.features.lineage import _Opening
from tests.rules.test_world_facts import DAY, HOUR, T0, iso, phone

OPPO = {"model": "OPPO A5", "canvas": "c-oppoa5-81"}  # a cheap model few customers own


def _ev(n: int, ts: float, etype: str, user: str, device: dict[str, Any]) -> Event:
    row = {"event_id": f"e{n}", "type": etype, "user_id": user, "occurred_at": iso(ts)}
    if etype == "account_change":
        row["operation"] = "bind_card"
    return parse_event({**row, "device": device, "ip": f"113.{40 + n % 50}.{n % 200}.7"})


class _Run:
    """Events through one stage: the features before each event, then the event added."""

    def __init__(self) -> None:
        self.stage = BaseRatesStage()
        self.n = 0

    def step(self, ts: float, etype: str, user: str, device: dict[str, Any]) -> dict[str, Any]:
        self.n += 1
        event = _ev(self.n, ts, etype, user, device)
        out = self.stage.values(event)
        self.stage.observe(event)
        return out


def _world(run: _Run) -> None:
    """Three days of 200 established customers on a popular phone and six on the cheap
    one, logging in every few hours; a trickle of sign-ups on the popular one."""
    for h in range(72):
        t = T0 + h * HOUR
        for i in range(h % 4, 200, 4):
            run.step(t + i, "login", f"c{i}", phone(f"pop-{i:06d}"))
        if h % 2 == 0:
            k = h // 2 % 6
            run.step(t + 900, "login", f"o{k}", phone(f"old-{k:06d}", **OPPO))
        if h % 12 == 0:
            run.step(t + 1200, "register", f"new{h}", phone(f"popnew-{h:06d}"))


def test_a_farm_phone_resetting_its_id_is_seen_and_a_popular_models_sign_ups_are_not() -> None:
    run = _Run()
    _world(run)
    t = T0 + 3 * DAY
    # A customer with the cheap phone opens an account: nothing around it yet.
    first = run.step(t, "register", "owner", phone("owner-000001", **OPPO))
    assert first["fingerprint.registrations_48h"] == 0
    assert first["fingerprint.registration_share_48h"] == 0.0
    # A farm phone of the same model resets its device id for every account it opens.
    seen = [
        run.step(t + HOUR + k * 600, "register", f"farm{k}", phone(f"reset-{k:06d}", **OPPO))
        for k in range(5)
    ]
    assert [s["fingerprint.registrations_48h"] for s in seen] == [1, 2, 3, 4, 5]
    # Over the users the fingerprint carried: six owners, the customer, the farm's own.
    shares = [s["fingerprint.registration_share_48h"] for s in seen]
    assert shares == [round(k / (6 + k), 3) for k in range(1, 6)]
    # The popular model's sign-ups are a trickle among its 200 owners.
    popular = run.step(t + 2 * HOUR, "register", "newpop", phone("popnew-999999"))
    assert popular["fingerprint.registrations_48h"] >= 3
    assert popular["fingerprint.registration_share_48h"] < 0.05
    # Each account keeps what its registration met: the third farm account's card
    # binding reads its own opening, the customer's opening stays clean.
    card = run.step(t + 3 * HOUR, "account_change", "farm2", phone("reset-000002", **OPPO))
    assert card["user.reg_fingerprint_registrations_48h"] == 3
    assert card["user.reg_fingerprint_registration_share_48h"] == shares[2]
    later = run.step(t + 4 * HOUR, "login", "owner", phone("owner-000001", **OPPO))
    assert later["user.reg_fingerprint_registrations_48h"] == 0
    assert later["user.reg_fingerprint_registration_share_48h"] == 0.0
    # Accounts opened before the history began, and events without a fingerprint: unknown.
    assert later["fingerprint.registration_share_48h"] is None
    old = run.step(t + 5 * HOUR, "login", "c3", phone("pop-000003"))
    assert old["user.reg_fingerprint_registrations_48h"] is None


def test_the_openings_survive_a_snapshot_and_an_older_layout_reads_as_unknown() -> None:
    run = _Run()
    _world(run)
    t = T0 + 3 * DAY
    for k in range(4):
        run.step(t + k * 600, "register", f"farm{k}", phone(f"reset-{k:06d}", **OPPO))
    restored = BaseRatesStage()
    restored.restore(run.stage.snapshot())
    event = _ev(999, t + HOUR, "login", "farm3", phone("reset-000003", **OPPO))
    before = run.stage.values(event)
    after = restored.values(event)
    assert after["user.reg_fingerprint_registrations_48h"] == 3
    assert {k: after[k] for k in before} == before
    # An opening pickled before the fields existed has no such attributes.
    o = restored.lineage.openings["farm3"]
    new = ("cluster_regs", "cluster_share")
    state = {k: getattr(o, k) for k in _Opening.__slots__ if k not in new}
    old = _Opening.__new__(_Opening)
    for k, v in state.items():
        object.__setattr__(old, k, v)
    restored.lineage.openings["farm3"] = pickle.loads(pickle.dumps(old))
    assert restored.values(event)["user.reg_fingerprint_registrations_48h"] is None
