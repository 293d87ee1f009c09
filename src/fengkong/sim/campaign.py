"""The toolkit attack scenarios are written with: accounts, sessions, labelled events."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from fengkong.sim import identity as ident
from fengkong.sim.population import DAY, Population, _EventIds, base_event, doc_image, money

# How each scenario's fraud becomes known: (label source, min delay s, max delay s).
LABEL_TIMING: dict[str, tuple[str, int, int]] = {
    "batch_registration": ("confirmed_case", 7 * DAY, 45 * DAY),
    "account_takeover": ("customer_report", DAY // 2, 5 * DAY),
    "cash_out_ring": ("analyst", 10 * DAY, 40 * DAY),
    "layered_laundering": ("confirmed_case", 5 * DAY, 30 * DAY),
    "fake_customer_service": ("customer_report", 3 * 3600, 3 * DAY),
    "fake_high_credit": ("confirmed_case", 30 * DAY, 60 * DAY),
    "complaint_agents": ("analyst", 5 * DAY, 30 * DAY),
    "phishing_qr": ("customer_report", 3600, 2 * DAY),
}
MAX_ACCOUNTS_PER_CAMPAIGN = 1000


@dataclass(frozen=True, slots=True)
class Sess:
    """An attacker's (or a victim's) connection: device, IP, optional geo."""

    device: dict[str, Any] | None
    ip: str
    geo: dict[str, float] | None


@dataclass(slots=True)
class AttackRec:
    ts: int
    seq: int
    event: dict[str, Any]
    label: dict[str, Any]
    fraud_account: str | None  # the acting account, when the attackers control it


@dataclass
class Campaign:
    """One instance of one scenario: its random source, accounts and events."""

    pop: Population
    datacenter: ident.IpPool
    scenario: str
    cid: int
    start_ts: int
    rnd: random.Random = field(init=False)
    ids: _EventIds = field(init=False)
    recs: list[AttackRec] = field(default_factory=list)
    accounts: dict[str, str] = field(default_factory=dict)  # uid -> scenario
    _next_account: int = 0
    farm_rare: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.rnd = random.Random(self.pop.key("campaign", self.cid))
        # Share of this campaign's farm phones of models honest users rarely own.
        self.farm_rare = self.rnd.uniform(*self.pop.world.farm_rare_model)
        self.ids = _EventIds(self.pop.seed, self.pop.key("campaign-run", self.cid))

    # --- accounts and infrastructure ---------------------------------------------------
    def new_account(self) -> int:
        """Index of a fresh attacker-controlled account (ids look like everyone's)."""
        if self._next_account >= MAX_ACCOUNTS_PER_CAMPAIGN:
            raise ValueError("too many accounts in one campaign")
        idx = self.pop.n + self.cid * MAX_ACCOUNTS_PER_CAMPAIGN + self._next_account
        self._next_account += 1
        self.accounts[self.pop.uid(idx)] = self.scenario
        return idx

    def victim(self) -> int:
        """An established honest user (registered before the simulation starts)."""
        for _ in range(1000):
            u = self.rnd.randrange(self.pop.n)
            if self.pop.reg_day[u] < 0:
                return u
        return self.rnd.randrange(self.pop.n)

    def key(self, *parts: int | str) -> int:
        return self.pop.key("c", self.cid, *parts)

    def farm_device(
        self,
        farm: int,
        i: int,
        emulator_share: float,
        spoof_share: float,
        reset_ids: bool,
        account: int,
    ) -> dict[str, Any]:
        """Device ``i`` of a device farm; emulators may hide that they are emulators."""
        k = self.key("farm", farm, i)
        emulator = (k % 1000) / 1000 < emulator_share
        rare = (k >> 20) % 1000 / 1000 < self.farm_rare
        fp = ident.fingerprint(k, emulator=emulator, rooted=emulator or k % 3 == 0, rare=rare)
        if emulator and ((k >> 10) % 1000) / 1000 < spoof_share:
            fp = {**fp, "is_emulator": False, "is_rooted": False}
        # Farm tools reset the client-side device id for each new account.
        did = ident.device_id(k * 7919 + account) if reset_ids else ident.device_id(k)
        return {"device_id": did, "fingerprint": fp}

    def own_device(self, k: int, emulator: bool = False, model_idx: int = -1) -> dict[str, Any]:
        fp = ident.fingerprint(self.key("dev", k), emulator=emulator, model_idx=model_idx)
        return {"device_id": ident.device_id(self.key("dev", k)), "fingerprint": fp}

    def attacker_ip(self, dc_share: float, city: int | None = None) -> str:
        """A data-centre, residential-proxy or mobile address."""
        r = self.rnd.random()
        bits = self.rnd.getrandbits(48)
        if r < dc_share:
            return self.datacenter.pick(bits)
        if r < dc_share + (1 - dc_share) * 0.7:
            c = city if city is not None else self.rnd.randrange(len(ident.CITIES))
            return ident.residential_ip(c, bits)
        return ident.mobile_ip(bits)

    def geo_near(self, city: int, drop: float = 0.3) -> dict[str, float] | None:
        if self.rnd.random() < drop:
            return None
        return self.pop.geo(city, self.rnd.getrandbits(48))

    def victim_session(self, u: int, ts: int) -> Sess:
        day = (ts - self.pop.start_ts) // DAY
        s = self.pop.session(u, day, (ts - self.pop.start_ts) % DAY // 3600, self.rnd, ts)
        return Sess(s.device, s.ip, s.geo)

    # --- events ----------------------------------------------------------------------------
    def emit(
        self,
        ts: int,
        etype: str,
        user: int,
        sess: Sess | None,
        *,
        actor_fraud: bool = True,
        sid: str | None = None,
        honest: bool = False,
        **fields: Any,
    ) -> dict[str, Any]:
        """Record one attack event (and its fraud label) at ``ts``; ``honest``: an honest
        event the attack brings along (a ring merchant's real customer), without a label."""
        uid = self.pop.uid(user)
        ev = base_event(self.ids.next(), etype, ts, uid)
        ev["session_id"] = sid if sid is not None else self.session_id()
        if sess is not None:
            if sess.device is not None:
                ev["device"] = sess.device
            ev["ip"] = sess.ip
            if sess.geo is not None:
                ev["geo"] = sess.geo
        ev.update({k: v for k, v in fields.items() if v is not None})
        source, lo, hi = LABEL_TIMING[self.scenario]
        label = {
            "event_id": ev["event_id"],
            "label": "fraud",
            "source": source,
            "at": ident.iso_local(ts + self.rnd.randrange(lo, hi)),
            "scenario": self.scenario,
        }
        if honest:
            label = {}
        self.recs.append(AttackRec(ts, self.ids.seq, ev, label, uid if actor_fraud else None))
        return ev

    def session_id(self) -> str:
        return f"s{self.ids.next_hex()[:12]}"

    def register(
        self, acct: int, ts: int, sess: Sess, *, phone: str, id_number: str, card: str, doc_key: int
    ) -> int:
        """Register ``acct`` with KYC upload and a bound card; returns the time after."""
        sid = self.session_id()
        self.emit(ts, "register", acct, sess, sid=sid, phone=phone, id_number=id_number)
        ts += self.rnd.randrange(20, 240)
        self.emit(
            ts,
            "document_upload",
            acct,
            sess,
            sid=sid,
            document={"kind": "id_card", "image_b64": doc_image(doc_key)},
        )
        ts += self.rnd.randrange(15, 180)
        self.emit(ts, "account_change", acct, sess, sid=sid, operation="bind_card", bank_card=card)
        return ts + self.rnd.randrange(10, 120)

    def mimic(self, acct: int, sess: Sess, t0: int, t1: int, n: int) -> None:
        """``n`` honest-looking logins and small purchases between ``t0`` and ``t1``."""
        for _ in range(n):
            ts = self.rnd.randrange(t0, max(t1, t0 + 1))
            sid = self.session_id()
            if self.rnd.random() < 0.6:
                self.emit(ts, "login", acct, sess, sid=sid)
                ts += self.rnd.randrange(5, 120)
            merchant = self.pop.merchant(self.rnd.randrange(self.pop.n_merchants))
            amount = self.rnd.lognormvariate(math.log(50), 0.8)
            self.emit(
                ts, "payment", acct, sess, sid=sid, amount=money(amount), merchant_id=merchant
            )

    def daytime(self, day_ts: int) -> int:
        """A time on the day starting at ``day_ts`` following the honest daily rhythm."""
        return (
            day_ts
            - (day_ts - self.pop.start_ts) % DAY
            + (self.pop.sample_ts(0, self.pop.n, self.rnd) - self.pop.start_ts)
        )
