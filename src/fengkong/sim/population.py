"""Honest users: static habits in numpy arrays, behaviour generated one day at a time.

A user's identifiers (phone, ID, cards, devices, payees) are recomputed from hashes of
``(seed, user index)`` whenever needed; only a dozen numbers per user are stored, so a
million users fit in a few tens of megabytes.
"""

from __future__ import annotations

import base64
import bisect
import math
import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from fengkong.sim import identity as ident
from fengkong.sim.world import WORLD_A, World

DAY = 86_400
# Relative activity by local hour: a lunch and an evening peak, quiet nights.
# fmt: off
HOUR_WEIGHTS = (
    1.0, 0.5, 0.3, 0.2, 0.2, 0.4, 1.5, 3.0, 4.0, 4.0, 4.5, 5.0,
    6.0, 5.0, 4.5, 4.5, 4.5, 5.0, 6.0, 7.0, 7.5, 7.0, 5.0, 2.5,
)
# fmt: on
_HOUR_CUM = [sum(HOUR_WEIGHTS[: i + 1]) for i in range(24)]
REPAYMENT_MERCHANT = "m-credit-repayment"
_ID_SPACE = 10**10
PLACEHOLDER_IDS = ("unknown", "9774d56d682e549c", "00000000-0000-0000-0000-000000000000")
# Codes honest users scan: brands' own subdomains, merchants' and people's collection codes.
BRAND_QR = (
    "https://qr.alipay.com/bax0{t}",
    "https://qr.alipay.com/fkx1{t}",
    "wxp://f2f0{t}",
    "https://payapp.weixin.qq.com/qr/{t}",
    "https://qr.95516.com/00010000/{t}",
    "https://u.jd.com/{t}",
    "https://m.tb.cn/h.{t}",
    "https://i.meituan.com/qr/{t}",
)


@dataclass(frozen=True, slots=True)
class Session:
    """Where and how a user is connected for one session."""

    device: dict[str, Any]
    ip: str
    geo: dict[str, float] | None


Rec = tuple[int, int, dict[str, Any]]  # (UTC epoch second, tie-break, event)


def base_event(eid: str, etype: str, ts: int, user_id: str) -> dict[str, Any]:
    return {"event_id": eid, "type": etype, "occurred_at": ident.iso_local(ts), "user_id": user_id}


def money(x: float) -> str:
    """An amount as a decimal string with two places (exact on the wire)."""
    return f"{max(x, 0.01):.2f}"


class Population:
    """The honest population and everything derived from its seed."""

    def __init__(
        self,
        users: int,
        days: int,
        seed: int,
        start_ts: int,
        new_user_share: float = 0.25,
        world: World = WORLD_A,
        datacenter: ident.IpPool | None = None,
    ) -> None:
        self.world = world
        self.datacenter = datacenter or ident.IpPool.from_cidrs(ident.FALLBACK_DATACENTER_BLOCKS)
        self.n = users
        self.days = days
        self.seed = seed
        self.start_ts = start_ts
        rng = np.random.default_rng([seed, 1])
        n = users
        weights = np.array(ident.CITY_WEIGHTS, dtype=float)
        self.home_city = rng.choice(len(ident.CITIES), size=n, p=weights / weights.sum()).astype(
            np.int16
        )
        self.activity = np.clip(rng.lognormal(math.log(1.1), 0.6, n), 0.05, 8.0).astype(np.float32)
        self.chrono = rng.normal(0.0, 1.5, n).astype(np.float32)
        self.amt_mu = rng.normal(math.log(60.0), 0.6, n).astype(np.float32)
        self.amt_sigma = rng.uniform(0.5, 1.0, n).astype(np.float32)
        self.n_devices = rng.choice([1, 2, 3], size=n, p=[0.6, 0.3, 0.1]).astype(np.int8)
        self.credit_limit = rng.choice(
            [2000, 5000, 8000, 10000, 20000, 30000, 50000],
            size=n,
            p=[0.15, 0.25, 0.2, 0.18, 0.12, 0.06, 0.04],
        ).astype(np.float32)
        self.draw_rate = rng.beta(1.2, 40.0, n).astype(np.float32)  # credit draws per day
        self.transfer_rate = rng.beta(1.5, 12.0, n).astype(np.float32)
        self.n_payees = rng.integers(1, 6, n).astype(np.int8)
        self.repay_dom = rng.integers(1, 29, n).astype(np.int8)
        is_new = rng.random(n) < new_user_share
        self.reg_day = np.where(is_new, rng.integers(0, max(days, 1), n), -1).astype(np.int16)
        w = world
        # Families of up to four share the home (city, broadband) and a tablet.
        self.family = rng.random(n) < w.family_share
        head = (np.arange(n) // 4) * 4
        self.home_city = np.where(
            self.family & self.family[head], self.home_city[head], self.home_city
        )
        n_offices = max(1, int(n * w.office_cloud_share / max(sum(w.office_size) / 2, 1)))
        self.office = np.where(
            rng.random(n) < w.office_cloud_share, rng.integers(0, n_offices, n), -1
        ).astype(np.int32)
        self.vpn = rng.random(n) < w.vpn_share
        self.no_geo = rng.random(n) < w.missing_geo_users
        self.rent = np.where(rng.random(n) < w.rent_share, rng.uniform(1200, 6500, n), 0.0)
        self.rent_dom = rng.integers(0, 30, n).astype(np.int8)
        # Dynamic state, changed as days pass.
        self.dev_gen = np.zeros(n, dtype=np.int16)
        self.os_gen = np.zeros(n, dtype=np.int16)
        self.trip_city = np.full(n, -1, dtype=np.int16)
        self.trip_until = np.full(n, -1, dtype=np.int16)
        self.depart_ts = np.zeros(n, dtype=np.int64)  # trip's departure and arrival
        self.arrive_ts = np.zeros(n, dtype=np.int64)
        self.outstanding = (rng.random(n) * 0.3 * self.credit_limit * (~is_new)).astype(np.float32)
        mult = 1 + 2 * (h := ident.h64(seed, "uid-perm")) % (_ID_SPACE // 2)
        self._perm = (mult if mult % 5 else mult + 2, h >> 20)
        self.n_merchants = max(300, users // 15)

    # --- identifiers -----------------------------------------------------------------
    def uid(self, idx: int) -> str:
        """User id of index ``idx``: an affine permutation, so ids are unique and
        attackers (indices past the honest range) look like everyone else."""
        a, b = self._perm
        return f"u{(idx * a + b) % _ID_SPACE:010d}"

    def merchant(self, idx: int) -> str:
        a, b = self._perm
        return f"m{(idx * a + 7 * b) % 10**8:08d}"

    def key(self, *parts: int | str) -> int:
        return ident.h64(self.seed, *parts)

    def city(self, u: int) -> int:
        return int(self.home_city[u]) if u < self.n else self.key("city", u) % len(ident.CITIES)

    def phone(self, u: int) -> str:
        return ident.phone_number(self.key("phone", u))

    def id_number(self, u: int) -> str:
        k = self.key("id", u)
        return ident.id_number(self.city(u), k, 1960 + k % 45)

    def card(self, u: int, i: int = 0) -> str:
        return ident.bank_card(self.key("card", u, i))

    def name(self, u: int) -> str:
        return ident.person_name(self.key("name", u))

    def device_key(self, u: int, slot: int) -> int:
        gen = int(self.dev_gen[u]) if slot == 0 and u < self.n else 0
        return self.key("dev", u, slot, gen)

    def device(self, u: int, slot: int) -> dict[str, Any]:
        """Device ``slot`` of user ``u``; slot -1 is the family's shared tablet."""
        w = self.world
        if slot < 0:
            k = self.key("tablet", u // 4)
            gen = 0
        else:
            k = self.device_key(u, slot)
            gen = int(self.os_gen[u]) if u < self.n and slot == 0 else 0
        rooted = k % 50 == 0
        fp = ident.fingerprint(
            k,
            rooted=rooted,
            os_gen=gen,
            per_model_canvas=w.canvas_per_model,
            harmonyos=w.harmonyos,
        )
        share = (k >> 4) % 1000 / 1000
        if fp["platform"] == "web" and share < w.web_without_cookie:
            return {"fingerprint": fp}
        if share >= 1 - w.placeholder_device_id:
            return {"device_id": PLACEHOLDER_IDS[k % 3], "fingerprint": fp}
        return {"device_id": ident.device_id(k), "fingerprint": fp}

    def payee(self, u: int, k: int) -> int:
        return self.key("payee", u, k) % self.n

    def home_ip(self, u: int, day: int) -> str:
        """The home broadband address: re-assigned inside the ISP block every few days,
        shared by the family."""
        home = u // 4 if u < self.n and self.family[u] else u + 10**9
        lease = 3 + self.key("lease", home) % 12
        return ident.residential_ip(self.city(u), self.key("homeip", home, day // lease))

    def mobile_ip(self, city: int, rnd: random.Random) -> str:
        w = self.world
        return ident.mobile_ip(
            rnd.getrandbits(40), city, w.cgnat_gateways, rnd.random() < w.mobile_ipv6_share
        )

    def geo(self, city: int, key: int) -> dict[str, float]:
        c = ident.CITIES[city]
        dlat = ((key & 0xFFFF) / 0xFFFF - 0.5) * 0.2
        dlon = (((key >> 16) & 0xFFFF) / 0xFFFF - 0.5) * 0.2
        acc = float(10 + (key >> 32) % 60)
        return {"lat": round(c.lat + dlat, 4), "lon": round(c.lon + dlon, 4), "accuracy_m": acc}

    def session(
        self, u: int, day: int, hour: int, rnd: random.Random, ts: int | None = None
    ) -> Session:
        """Device, IP and place of one session of honest user ``u`` (at ``ts`` if known)."""
        w = self.world
        honest = u < self.n
        n_dev = int(self.n_devices[u]) if honest else 1
        slot = 0 if n_dev == 1 or rnd.random() < 0.8 else rnd.randrange(1, n_dev)
        if honest and self.family[u] and rnd.random() < w.family_tablet_use:
            slot = -1
        away = honest and self.trip_until[u] >= day
        if away and ts is not None and ts < int(self.arrive_ts[u]):
            away = False  # not left yet (or still in the air: callers avoid that)
        home = self.city(u)
        city = int(self.trip_city[u]) if away else home
        at_home = not away and (hour >= 19 or hour < 8 or rnd.random() < 0.25)
        weekday_office = 9 <= hour < 18 and (day + self.start_ts // DAY) % 7 not in (2, 3)
        if honest and self.vpn[u] and rnd.random() < w.vpn_session_share:
            ip = self.datacenter.pick(self.key("vpn", u))  # personal VPN on a hosting IP
        elif honest and not away and self.office[u] >= 0 and weekday_office and not at_home:
            ip = self.datacenter.pick(self.key("office", int(self.office[u])))
        elif at_home and rnd.random() < 0.8:
            ip = self.home_ip(u, day)
        elif away and rnd.random() < 0.4:
            ip = ident.residential_ip(city, rnd.getrandbits(40))  # hotel or friend's Wi-Fi
        else:
            roam = away and rnd.random() < w.roaming_home_egress
            ip = self.mobile_ip(home if roam else city, rnd)
        geo_key = self.key("home-geo", u) if at_home else rnd.getrandbits(48)
        no_geo = (self.no_geo[u] if honest else False) or rnd.random() < w.missing_geo_events
        geo = None if no_geo else self.geo(city, geo_key)
        return Session(self.device(u, slot), ip, geo)

    def _start_trip(self, u: int, day: int, rnd: random.Random) -> None:
        """A business trip: departure some time today, arrival after the flight or train."""
        other = rnd.randrange(len(ident.CITIES) - 1)
        dest = other if other < self.city(u) else other + 1
        a, b = ident.CITIES[self.city(u)], ident.CITIES[dest]
        km = 111.0 * math.hypot(a.lat - b.lat, (a.lon - b.lon) * math.cos(math.radians(a.lat)))
        if rnd.random() < self.world.flight_share:
            hours = km / 750 + rnd.uniform(0.5, 1.5)  # gate to gate
        else:
            hours = km / 280 + rnd.uniform(0.2, 0.6)
        depart = self.start_ts + day * DAY + rnd.randrange(7 * 3600, 19 * 3600)
        self.trip_city[u] = dest
        self.trip_until[u] = day + rnd.randrange(1, 6)
        self.depart_ts[u] = depart
        self.arrive_ts[u] = depart + int(hours * 3600)

    # --- behaviour ---------------------------------------------------------------------
    def sample_ts(self, day: int, u: int, rnd: random.Random) -> int:
        """A time on ``day`` following the daily rhythm shifted by the user's chronotype."""
        hour = bisect.bisect_left(_HOUR_CUM, rnd.random() * _HOUR_CUM[-1])
        shift = float(self.chrono[u]) if u < self.n else 0.0
        hour = int(hour + shift + 0.5) % 24
        local = hour * 3600 + rnd.randrange(3600)
        return self.start_ts + day * DAY + local

    def purchase_amount(self, u: int, rnd: random.Random) -> float:
        return min(rnd.lognormvariate(float(self.amt_mu[u]), float(self.amt_sigma[u])), 20000.0)

    def day_events(self, day: int, lo: int, hi: int, run_key: int) -> list[Rec]:
        """All honest events of users ``lo..hi-1`` on ``day``, sorted by time."""
        rng = np.random.default_rng([self.seed, 2, day, lo])
        rnd = random.Random(self.key("run", day, lo))
        sessions = rng.poisson(self.activity[lo:hi])
        out: list[Rec] = []
        gen = _EventIds(self.seed, run_key)
        for i in range(hi - lo):
            u = lo + i
            reg = int(self.reg_day[u])
            if reg > day:
                continue
            self._user_day(u, day, int(sessions[i]), reg == day, rnd, gen, out)
        out.sort(key=lambda r: (r[0], r[1]))
        return out

    def _user_day(
        self,
        u: int,
        day: int,
        n_sessions: int,
        registers: bool,
        rnd: random.Random,
        ids: _EventIds,
        out: list[Rec],
    ) -> None:
        uid = self.uid(u)
        w = self.world
        trip_starts = self.trip_until[u] < day and rnd.random() < w.trip_per_day
        if trip_starts:
            self._start_trip(u, day, rnd)
            n_sessions = max(n_sessions, 1)
        if rnd.random() < w.os_update_per_day:
            self.os_gen[u] += 1
        changes_device = rnd.random() < w.phone_upgrade_per_day
        if registers:
            self._registration(u, uid, day, rnd, ids, out)
        if changes_device:
            self.dev_gen[u] += 1
            n_sessions = max(n_sessions, 1)
        if day % 30 == int(self.repay_dom[u]) - 1 and self.outstanding[u] > 0:
            n_sessions = max(n_sessions, 1)
            repay_today = True
        else:
            repay_today = False
        depart, arrive = int(self.depart_ts[u]), int(self.arrive_ts[u])
        for s in range(n_sessions):
            ts = self.sample_ts(day, u, rnd)
            if trip_starts and s == 0:
                ts = arrive + rnd.randrange(5 * 60, 60 * 60)  # a login soon after arrival
            elif depart <= ts < arrive:
                ts = arrive + rnd.randrange(10 * 60, 4 * 3600)  # nothing while travelling
            hour = (ts - self.start_ts) % DAY // 3600
            sess = self.session(u, day, hour, rnd, ts)
            sid = f"s{ids.next_hex()[:12]}"
            in_call = rnd.random() < w.call_rate
            ctx: dict[str, Any] | None = None
            if in_call:
                ctx = {"in_call": True, "caller_in_contacts": rnd.random() >= w.stranger_call_share}
            if s == 0 and changes_device:
                ev = self._ev(ids, "account_change", ts, uid, sess, sid)
                ev["operation"] = "change_device"
                out.append((ts, ids.seq, ev))
                ts += rnd.randrange(5, 60)
            if rnd.random() < 0.55 or (s == 0 and (changes_device or trip_starts)):
                login = self._ev(ids, "login", ts, uid, sess, sid)
                if rnd.random() < 0.15 or (s == 0 and changes_device):
                    login["phone"] = self.phone(u)  # logged in by SMS code
                out.append((ts, ids.seq, login))
                ts += rnd.randrange(3, 90)
            if repay_today and s == 0:
                ev = self._ev(ids, "payment", ts, uid, sess, sid)
                amount = float(self.outstanding[u]) * (1.0 if rnd.random() < 0.7 else 0.1)
                self.outstanding[u] -= amount
                ev.update(
                    amount=money(amount),
                    merchant_id=REPAYMENT_MERCHANT,
                    bank_card=self.card(u),
                    attributes={"purpose": "repayment"},
                )
                out.append((ts, ids.seq, ev))
                ts += rnd.randrange(10, 120)
            if s == 0:
                ts = self._life_events(u, uid, day, ts, sess, sid, ctx, rnd, ids, out)
            for _ in range(1 + (rnd.random() < 0.3) + (rnd.random() < 0.1)):
                act = self._action(u, uid, day, ts, sess, sid, ctx, rnd, ids)
                if act is None:
                    continue
                ts = self._emit_action(act, u, uid, ts, sess, sid, rnd, ids, out)

    def _emit_action(
        self,
        ev: dict[str, Any],
        u: int,
        uid: str,
        ts: int,
        sess: Session,
        sid: str,
        rnd: random.Random,
        ids: _EventIds,
        out: list[Rec],
    ) -> int:
        """Emit an action (after the QR scan that started it, if any) and what follows it."""
        ev["occurred_at"] = ident.iso_local(ts)
        if ev.get("context", {}).get("entry") == "qr" and rnd.random() < self.world.brand_qr_share:
            # The scan of the merchant's (or friend's) code comes first.
            scan = self._ev(ids, "qr_scan", ts, uid, sess, sid)
            target = ev.get("merchant_id") or ev["counterparty"]["account_id"]
            code = BRAND_QR[ident.h64(target) % len(BRAND_QR)]
            scan["qr"] = {"payload": code.format(t=ident.hexid("qr", target, n=12))}
            out.append((ts, ids.seq, scan))
            ts += rnd.randrange(3, 30)
            ev["occurred_at"] = ident.iso_local(ts)
        out.append((ts, ids.seq, ev))
        ts += rnd.randrange(20, 600)
        if ev["type"] == "credit_draw" and rnd.random() < self.world.draw_withdraw_share:
            # The loan goes to the user's own card.
            ts += rnd.randrange(30, 3600)
            wd = self._ev(ids, "withdrawal", ts, uid, sess, sid)
            card = self.card(u)
            wd.update(amount=ev["amount"], bank_card=card, counterparty={"bank_card": card})
            out.append((ts, ids.seq, wd))
            ts += rnd.randrange(20, 300)
        return ts

    def _life_events(
        self,
        u: int,
        uid: str,
        day: int,
        ts: int,
        sess: Session,
        sid: str,
        ctx: dict[str, Any] | None,
        rnd: random.Random,
        ids: _EventIds,
        out: list[Rec],
    ) -> int:
        """Rent on its day, an occasional large purchase, a street vendor's code."""
        w = self.world
        acts: list[dict[str, Any]] = []
        if self.rent[u] > 0 and day % 30 == int(self.rent_dom[u]):
            ev = self._ev(ids, "transfer", ts, uid, sess, sid)
            landlord = self.key("landlord", u) % _ID_SPACE
            ev.update(
                amount=money(float(self.rent[u])),
                counterparty={"account_id": f"u{landlord:010d}", "name": self.name(-u - 1)},
            )
            acts.append(ev)
        if rnd.random() < w.large_purchase_per_day:
            ev = self._ev(ids, "payment", ts, uid, sess, sid)
            shop = self.merchant(self.key("bigshop", u, day) % self.n_merchants)
            ev.update(amount=money(rnd.uniform(2500, 30000)), merchant_id=shop)
            if rnd.random() < 0.3:
                ev["context"] = {"entry": "qr"}
            acts.append(ev)
        if rnd.random() < w.vendor_transfer_rate:
            ev = self._ev(ids, "transfer", ts, uid, sess, sid)
            vendor = self.key("vendor", rnd.getrandbits(16), self.city(u)) % _ID_SPACE
            ev.update(
                amount=money(rnd.uniform(3, 60)),
                counterparty={"account_id": f"u{vendor:010d}"},
                context={"entry": "qr"},
            )
            acts.append(ev)
        for ev in acts:
            if ctx is not None:
                ev["context"] = {**ev.get("context", {}), **ctx}
            ts = self._emit_action(ev, u, uid, ts, sess, sid, rnd, ids, out)
        return ts

    def _ev(
        self, ids: _EventIds, etype: str, ts: int, uid: str, sess: Session, sid: str
    ) -> dict[str, Any]:
        ev = base_event(ids.next(), etype, ts, uid)
        ev.update(session_id=sid, device=sess.device, ip=sess.ip)
        if sess.geo is not None:
            ev["geo"] = sess.geo
        return ev

    def _registration(
        self, u: int, uid: str, day: int, rnd: random.Random, ids: _EventIds, out: list[Rec]
    ) -> None:
        ts = self.sample_ts(day, u, rnd)
        sess = self.session(u, day, (ts - self.start_ts) % DAY // 3600, rnd)
        sid = f"s{ids.next_hex()[:12]}"
        ev = self._ev(ids, "register", ts, uid, sess, sid)
        ev.update(phone=self.phone(u), id_number=self.id_number(u))
        out.append((ts, ids.seq, ev))
        ts += rnd.randrange(30, 300)
        ev = self._ev(ids, "document_upload", ts, uid, sess, sid)
        ev["document"] = {"kind": "id_card", "image_b64": doc_image(self.key("idimg", u))}
        out.append((ts, ids.seq, ev))
        ts += rnd.randrange(20, 200)
        ev = self._ev(ids, "account_change", ts, uid, sess, sid)
        ev.update(operation="bind_card", bank_card=self.card(u))
        out.append((ts, ids.seq, ev))

    def _action(
        self,
        u: int,
        uid: str,
        day: int,
        ts: int,
        sess: Session,
        sid: str,
        ctx: dict[str, Any] | None,
        rnd: random.Random,
        ids: _EventIds,
    ) -> dict[str, Any] | None:
        r = rnd.random()
        draw_p = float(self.draw_rate[u]) * 0.5
        transfer_p = float(self.transfer_rate[u])
        limit = float(self.credit_limit[u])
        if r < draw_p:
            available = limit - float(self.outstanding[u])
            if available < 100:
                return None
            amount = min(available, round(rnd.uniform(0.05, 0.6) * limit, -2) or 100.0)
            self.outstanding[u] += amount
            ev = self._ev(ids, "credit_draw", ts, uid, sess, sid)
            ev.update(amount=money(amount), bank_card=self.card(u))
        elif r < draw_p + transfer_p:
            k = rnd.randrange(int(self.n_payees[u]))
            v = self.payee(u, k)
            ev = self._ev(ids, "transfer", ts, uid, sess, sid)
            amount = rnd.lognormvariate(math.log(300), 1.0)
            ev.update(
                amount=money(round(amount, -1) if rnd.random() < 0.6 else amount),
                counterparty={"account_id": self.uid(v), "name": self.name(v)},
            )
            if rnd.random() < 0.1:
                ev["context"] = {"entry": "qr"}  # friend's personal collection code
        elif r < draw_p + transfer_p + 0.03:
            ev = self._ev(ids, "withdrawal", ts, uid, sess, sid)
            card = self.card(u)
            ev.update(
                amount=money(rnd.lognormvariate(math.log(800), 0.8)),
                bank_card=card,
                counterparty={"bank_card": card},
            )
        elif r < draw_p + transfer_p + 0.05:
            ev = self._ev(ids, "account_change", ts, uid, sess, sid)
            op = rnd.choices(
                [
                    "change_password",
                    "add_payee",
                    "bind_card",
                    "raise_limit",
                    "other",
                    "unbind_card",
                    "change_phone",
                    "close_credit_line",
                ],
                weights=[30, 25, 10, 20, 8, 4, 2, 1],
            )[0]
            ev["operation"] = op
            if op == "change_phone":
                ev["phone"] = ident.phone_number(rnd.getrandbits(48))
            elif op == "bind_card":
                ev["bank_card"] = self.card(u, 1)
        elif r < draw_p + transfer_p + 0.053:
            ev = self._ev(ids, "voice_check", ts, uid, sess, sid)
            ev["voice"] = {"audio_b64": voice_clip(self.key("voice", u)), "claimed_user_id": uid}
        else:
            ev = self._ev(ids, "payment", ts, uid, sess, sid)
            merchant = self.merchant(
                self.key("merch", u, min(int(rnd.expovariate(0.4)), 11)) % self.n_merchants
            )
            ev.update(amount=money(self.purchase_amount(u, rnd)), merchant_id=merchant)
            if rnd.random() < 0.35:
                ev["context"] = {"entry": "qr"}
        if ctx is not None:
            ev["context"] = {**ev.get("context", {}), **ctx}
        return ev


class _EventIds:
    """Event ids of one run: random-looking, unique, and reproducible from the seed."""

    def __init__(self, seed: int, run_key: int) -> None:
        self.prefix = f"{seed}\x1f{run_key}\x1f"
        self.seq = 0

    def next_hex(self) -> str:
        self.seq += 1
        return ident.hexid(self.prefix, self.seq)

    def next(self) -> str:
        return "e" + self.next_hex()


def doc_image(key: int) -> str:
    """A small stand-in for an uploaded image: a PNG header and bytes unique to ``key``.

    Recycled images (complaint agents) reuse the key, so equal images are equal strings.
    """
    body = b"\x89PNG\r\n\x1a\n" + key.to_bytes(8, "big") * 6
    return base64.b64encode(body).decode()


def voice_clip(key: int) -> str:
    return base64.b64encode(b"RIFF\x24\x00\x00\x00WAVEfmt " + key.to_bytes(8, "big")).decode()
