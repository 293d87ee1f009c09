"""Account lineage: where each account was opened, and what that place looks like now.

A farm's accounts are opened in a burst on a few devices, exits or a rare fingerprint;
at the moment the first of them registers nothing looks wrong yet. Days later, when
the account draws its credit line, the registration place has become unmistakable.
So each account remembers the entities it registered on (IP, /24 or /64, device id,
fingerprint cluster), and every later event reads those entities' registration counts
*now* (point in time: the state before the event):

* ``user.registered_secs_ago``: seconds since this account's registration (``None`` if
  it registered before the history began);
Counts are of the registrations within two days of the account's own (its burst).

* ``user.reg_ip_registrations_30d`` / ``user.reg_ip_registration_share_30d``: registrations
  on the registration IP in 30 days, and their share of its distinct users;
* ``user.reg_ip24_registrations_30d`` / ``_share_30d``: the same for the /24 (/64);
* ``user.reg_device_accounts_30d``: accounts registered on the registration device id;
* ``user.reg_device_networks_30d``: the distinct networks (/24, /64) those registrations
  came from: a farm phone opens each account through another proxy, a family opens its
  accounts on the tablet at home;
* ``user.reg_cluster_registrations_30d`` / ``user.reg_cluster_lift_30d``: registrations on
  the registration fingerprint cluster, over its expected share of all registrations.

On a registration itself, ``fingerprint.registrations_48h`` / ``fingerprint.registration_lift_48h``
are the same facts for the cluster the account is being opened on, over the two days
before it: the later accounts of a burst are seen as they open.
``fingerprint.registration_share_48h``: those registrations over the distinct users the
cluster carried in 30 days (``None`` while ``fingerprint.commonness`` is: before the
history holds enough device ids for shares to mean anything). A fingerprint's users are
mostly established customers, however popular or rare it is (a phone model's sign-ups
are a trickle among its owners); a farm phone resetting its device id carries little but
the accounts it opens. The account keeps both as they were when it opened:
``user.reg_fingerprint_registrations_48h`` / ``user.reg_fingerprint_registration_share_48h``
(``None`` if its registration is not in the history), so its document and card minutes
later carry what its registration met, and a customer who opened on the same phone
model before a farm's burst is not judged by the burst. ``device.reg_networks_48h``
counts the networks of the registrations on this device id in the two days before, this
one's included (2: the phone opened another account from elsewhere).

Young payers of large amounts per merchant describe cash-out rings (a ring merchant is
paid hundreds to thousands by accounts opened days ago, even when it also has honest
customers buying small things; a shop's large purchases come from its established
customers): over payments of at least 500, ``merchant.large_payers_7d``,
``merchant.young_large_payers_7d`` (payers registered less than 7 days before paying)
and ``merchant.young_large_payer_share_7d``. ``user.secs_since_ring_shop_payment``: seconds
since this account, opened under 7 days before, paid 500 or more to a shop whose large
payers this week were then mostly such accounts (three or more, half or more; ``None``
after 7 days): a ring account exists to run the cash-out loop, and its logins and small
purchases between the loop's payments are its cover. ``cp_account.repays_purchase``: this
transfer is 89–98 % of a payment of 1,000 or more that the payee, opened under 30 days
ago, made in the last two days (a ring's owner pays each account its purchase back, his
fee shaved; a friend splitting a bill pays a share, an employer the whole sum), and
``user.secs_since_purchase_repaid`` the seconds since this account received such a
transfer (``None`` after 7 days). ``cp_account.registered_secs_ago``
is the payee's registration age (mule and collection accounts are young).
``user.device_age_secs`` is how long this account has used this device id (``None``
without one; 0 the first time): takeovers reconfigure the account minutes after the
first login on their device.
``user.device_sms_entry``: this account first came onto this device id by a login with an
SMS code (``None`` without a device id): a SIM swap or a phished code lets a thief in on
his own phone by SMS, where a family tablet or second phone is usually signed in with the
password; an owner's new phone also enters by SMS, but announces itself with change_device.
``user.reg_on_emulator``: this account registered on an emulator (the app's flag or an
emulator's build, model or GPU; ``None`` if its registration is not in the history).
Customers open accounts on their phones; farms script emulators, and an emulator-opened
account's document, card and first payments follow within minutes, before the burst
it belongs to shows anywhere else.
``user.device_announced``: a change_device was made on this device id by this account
(``None`` without a device id): the owner's new phone announces itself; a change_device
made days before on another phone says nothing of the device the credentials change on.
``user.device_marked_secs_ago``: seconds since a password or phone change made on this
device id within an hour of this account first using it, when the device came a day or
more after the account was first seen and no change_device was made on it (``None``
without such a change in the last two days): the thief locks the owner out from his
own phone, and what he does next from it — the loan, the transfers in pieces, the
return hours or a day later — carries that suspicion; an owner's phone upgrade
announces itself, and a forgotten password reset on a second phone is rarely followed
by money leaving within two days. ``user.secs_since_received_from_marked_device``:
seconds since this account last received a transfer sent from such a marked device
(``None`` after two days): the takeover's collection account, about to cash out.
``cp_account.shares_opening``: the payee was opened on the same device id as this
account, or on the same *rare* fingerprint (under 0.5 % of device ids): a closed group of
farm accounts trading among themselves to build credit. ``user.secs_since_credit_draw``
and ``user.last_credit_draw_amount``: the account's last loan (takeovers and coached
victims borrow, then transfer the cash to a payee they never paid).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from fengkong.events import EventType
from fengkong.events.fields import EventLike
from fengkong.features.engine import FeatureValue, ip_prefix
from fengkong.features.windows import DistinctWindows

DAY = 86_400
WEEK = 7 * DAY
PLACE_S = 30 * DAY  # registration places are kept this long
NEAR_S = 2 * DAY  # an account counts the registrations this close to its own
YOUNG_S = WEEK
LARGE = 500.0  # payments this large count towards a merchant's payer mix
RING_YOUNG = 3  # a shop whose large payers this week hold this many young accounts
RING_SHARE = 0.5  # ... and at least this share of them looks like a cash-out ring's
REPAID = 1000.0  # a young account's purchase this large, paid back to it ...
REPAID_SHARE = (0.89, 0.98)  # ... at this share of it (a ring owner's fee shaved) ...
REPAID_S = 2 * DAY  # ... within two days

FEATURE_NAMES: dict[str, str] = {
    "user.registered_secs_ago": "num",
    "user.reg_on_emulator": "bool",
    "user.reg_ip_registrations_30d": "num",
    "user.reg_ip_registration_share_30d": "num",
    "user.reg_ip24_registrations_30d": "num",
    "user.reg_ip24_registration_share_30d": "num",
    "user.reg_device_accounts_30d": "num",
    "user.reg_device_networks_30d": "num",
    "user.reg_cluster_registrations_30d": "num",
    "user.reg_cluster_lift_30d": "num",
    "merchant.large_payers_7d": "num",
    "merchant.young_large_payers_7d": "num",
    "merchant.young_large_payer_share_7d": "num",
    "user.secs_since_ring_shop_payment": "num",
    "user.secs_since_purchase_repaid": "num",
    "cp_account.repays_purchase": "bool",
    "cp_account.registered_secs_ago": "num",
    "user.device_age_secs": "num",
    "user.device_sms_entry": "bool",
    "user.device_announced": "bool",
    "user.device_marked_secs_ago": "num",
    "user.secs_since_received_from_marked_device": "num",
    "cp_account.shares_opening": "bool",
    "user.secs_since_credit_draw": "num",
    "user.last_credit_draw_amount": "num",
    "fingerprint.registrations_48h": "num",
    "fingerprint.registration_lift_48h": "num",
    "fingerprint.registration_share_48h": "num",
    "user.reg_fingerprint_registrations_48h": "num",
    "user.reg_fingerprint_registration_share_48h": "num",
    "device.reg_networks_48h": "num",
}
MARK_S = 2 * DAY  # a credential change marks its device this long
FRESH_S = 3600  # a device is fresh for an hour after the account first uses it
RARE_SHARE = 0.005  # a fingerprint cluster carrying under 0.5 % of device ids is rare


class _Place:
    __slots__ = ("last_ts", "regs", "users")

    def __init__(self) -> None:
        self.regs: list[float] = []  # registration times, ascending
        self.users = DistinctWindows((PLACE_S,), throttle_s=3600)
        self.last_ts = 0.0

    def registrations(self, now: float, around: float) -> int:
        """Registrations up to ``now`` within :data:`NEAR_S` of ``around`` (an account's
        own registration): the burst it was part of, not strangers months apart."""
        regs = self.regs
        old = bisect_right(regs, now - PLACE_S)
        if old:
            del regs[:old]
        lo = bisect_left(regs, around - NEAR_S)
        hi = bisect_right(regs, min(now, around + NEAR_S))
        return hi - lo


@dataclass(slots=True)
class _Opening:
    ts: float
    ip: str | None
    ip24: str | None
    device: str | None
    cluster: str | None
    rare_cluster: bool = False
    on_emulator: bool = False
    # The cluster's registrations in the two days before, and their share of its users.
    cluster_regs: int | None = None
    cluster_share: float | None = None


class Lineage:
    """Registration places and young payers, point in time."""

    def __init__(self) -> None:
        self.places: dict[tuple[str, str], _Place] = {}
        self.openings: dict[str, _Opening] = {}
        self.everyone = _Place()  # all registrations
        self.payers: dict[str, tuple[DistinctWindows, DistinctWindows]] = {}
        self.device_first: dict[tuple[str, str], float] = {}
        self.sms_entry: set[tuple[str, str]] = set()  # (user, device) first entered by SMS
        self.announced: set[tuple[str, str]] = set()  # (user, device) with a change_device
        self.account_first: dict[str, float] = {}  # first event of each account
        self.last_change: dict[str, str] = {}  # each account's last account_change operation
        self.marks: dict[tuple[str, str], float] = {}  # (user, device) -> credential change
        self.marked_money: dict[str, float] = {}  # payee -> transfer from a marked device
        self.last_draw: dict[str, tuple[float, float]] = {}
        self.ring_payments: dict[str, float] = {}  # account -> last payment to a ring shop
        self.purchases: dict[str, list[tuple[float, float]]] = {}  # young account's large ones
        self.repaid: dict[str, float] = {}  # account -> last transfer repaying a purchase
        # device id -> (registration time, network of its IP), oldest first.
        self.device_nets: dict[str, list[tuple[float, str | None]]] = {}

    def __setstate__(self, state: dict[str, object]) -> None:
        # A snapshot written before ``sms_entry`` existed still loads.
        self.__dict__.update(state)
        self.__dict__.setdefault("sms_entry", set())
        self.__dict__.setdefault("announced", set())
        self.__dict__.setdefault("account_first", {})
        self.__dict__.setdefault("last_change", {})
        self.__dict__.setdefault("marks", {})
        self.__dict__.setdefault("marked_money", {})
        self.__dict__.setdefault("ring_payments", {})
        self.__dict__.setdefault("purchases", {})
        self.__dict__.setdefault("repaid", {})

    def _networks(self, device: str | None, lo: float, hi: float) -> set[str | None]:
        return {n for ts, n in self.device_nets.get(device or "", ()) if lo <= ts <= hi}

    def _place(self, kind: str, key: str | None) -> _Place | None:
        return None if key is None else self.places.get((kind, key))

    def _counts(
        self, kind: str, key: str | None, now: float, around: float
    ) -> tuple[int | None, float | None]:
        p = self._place(kind, key)
        if p is None:
            return (None, None) if key is None else (0, 0.0)
        regs = p.registrations(now, around)
        users = p.users.counts(now)[0]
        return regs, round(regs / max(users, 1), 3)

    def read(
        self,
        event: EventLike,
        device: str | None,
        cluster: str | None,
        commonness: float | None,
        cluster_users: int | None = None,
    ) -> dict[str, FeatureValue]:
        """The features of ``event`` from the state before it; ``cluster_users``: the
        distinct users its fingerprint cluster carried in 30 days (``FingerprintStats``)."""
        now = event.ts
        out: dict[str, FeatureValue] = dict.fromkeys(FEATURE_NAMES)
        o = self.openings.get(event.user_id)
        if o is not None:
            out["user.registered_secs_ago"] = round(now - o.ts, 1)
            out["user.reg_on_emulator"] = getattr(o, "on_emulator", False)  # older snapshots
            out["user.reg_fingerprint_registrations_48h"] = getattr(o, "cluster_regs", None)
            out["user.reg_fingerprint_registration_share_48h"] = getattr(o, "cluster_share", None)
            regs, share = self._counts("ip", o.ip, now, o.ts)
            out["user.reg_ip_registrations_30d"] = regs
            out["user.reg_ip_registration_share_30d"] = share
            regs, share = self._counts("ip24", o.ip24, now, o.ts)
            out["user.reg_ip24_registrations_30d"] = regs
            out["user.reg_ip24_registration_share_30d"] = share
            p = self._place("device", o.device)
            out["user.reg_device_accounts_30d"] = None if p is None else p.registrations(now, o.ts)
            if p is not None:
                nets = self._networks(o.device, o.ts - NEAR_S, min(now, o.ts + NEAR_S))
                out["user.reg_device_networks_30d"] = len(nets)
            p = self._place("cluster", o.cluster)
            if p is not None:
                regs = p.registrations(now, o.ts)
                out["user.reg_cluster_registrations_30d"] = regs
                if commonness is not None and cluster == o.cluster:
                    expected = commonness * self.everyone.registrations(now, o.ts)
                    out["user.reg_cluster_lift_30d"] = round(regs / max(expected, 1.0), 3)
        if event.type is EventType.REGISTER and cluster is not None:
            self._opening_now(out, cluster, commonness, now, cluster_users)
        if event.type is EventType.REGISTER and device is not None:
            here = ip_prefix(event.ip) if event.ip is not None else None
            out["device.reg_networks_48h"] = len(self._networks(device, now - NEAR_S, now) | {here})
        draw = self.last_draw.get(event.user_id)
        if draw is not None:
            out["user.secs_since_credit_draw"] = round(now - draw[0], 1)
            out["user.last_credit_draw_amount"] = draw[1]
        if device is not None:
            first = self.device_first.get((event.user_id, device))
            out["user.device_age_secs"] = 0.0 if first is None else round(now - first, 1)
            out["user.device_sms_entry"] = (event.user_id, device) in self.sms_entry
            out["user.device_announced"] = (event.user_id, device) in self.announced
            marked = self.marks.get((event.user_id, device))
            if marked is not None and now - marked < MARK_S:
                out["user.device_marked_secs_ago"] = round(now - marked, 1)
        ring = self.ring_payments.get(event.user_id)
        if ring is not None and now - ring < WEEK:
            out["user.secs_since_ring_shop_payment"] = round(now - ring, 1)
        repaid = self.repaid.get(event.user_id)
        if repaid is not None and now - repaid < WEEK:
            out["user.secs_since_purchase_repaid"] = round(now - repaid, 1)
        received = self.marked_money.get(event.user_id)
        if received is not None and now - received < MARK_S:
            out["user.secs_since_received_from_marked_device"] = round(now - received, 1)
        cp = event.counterparty
        if cp is not None and cp.account_id is not None:
            payee = self.openings.get(cp.account_id)
            out["cp_account.registered_secs_ago"] = None if payee is None else now - payee.ts
            if event.type is EventType.TRANSFER:
                out["cp_account.repays_purchase"] = self._repays(event, cp.account_id)
            if payee is not None and o is not None:
                out["cp_account.shares_opening"] = (
                    o.device is not None and o.device == payee.device
                ) or (o.rare_cluster and o.cluster == payee.cluster)
        if event.merchant_id is not None:
            pair = self.payers.get(event.merchant_id)
            payers = young = 0
            if pair is not None:
                payers, young = pair[0].counts(now)[0], pair[1].counts(now)[0]
            out["merchant.large_payers_7d"] = payers
            out["merchant.young_large_payers_7d"] = young
            out["merchant.young_large_payer_share_7d"] = round(young / max(payers, 1), 3)
        return out

    def _opening_now(
        self,
        out: dict[str, FeatureValue],
        cluster: str,
        commonness: float | None,
        now: float,
        users: int | None,
    ) -> None:
        regs = self._cluster_regs(cluster, now)
        out["fingerprint.registrations_48h"] = regs
        if users is not None:
            out["fingerprint.registration_share_48h"] = round(regs / max(users, 1), 3)
        if commonness is not None:
            expected = commonness * self.everyone.registrations(now, now)
            out["fingerprint.registration_lift_48h"] = round(regs / max(expected, 1.0), 3)

    def _cluster_regs(self, cluster: str, now: float) -> int:
        """Registrations on ``cluster`` in the two days before ``now``."""
        p = self._place("cluster", cluster)
        return 0 if p is None else p.registrations(now, now)

    def see(
        self,
        event: EventLike,
        device: str | None,
        cluster: str | None,
        commonness: float | None = None,
        emulator: bool = False,
        cluster_users: int | None = None,
    ) -> None:
        """Learn from ``event``; ``emulator``: it came from an emulator (device facts);
        ``cluster_users``: as for :meth:`read`, before the event."""
        now = event.ts
        ip = event.ip
        ip24 = ip_prefix(ip) if ip is not None else None
        keys = (("ip", ip), ("ip24", ip24), ("device", device), ("cluster", cluster))
        registers = event.type is EventType.REGISTER
        opens = registers and event.user_id not in self.openings
        cluster_regs = None
        if opens and cluster is not None:
            cluster_regs = self._cluster_regs(cluster, now)  # before this one is added
        if device is not None:
            on_device = (event.user_id, device)
            if on_device not in self.device_first:
                self.device_first[on_device] = now
                if event.type is EventType.LOGIN and event.phone is not None:
                    self.sms_entry.add(on_device)
            if event.type is EventType.ACCOUNT_CHANGE and event.operation == "change_device":
                self.announced.add(on_device)
            self._mark(event, on_device)
            self._pass_mark_on(event, on_device)
        self.account_first.setdefault(event.user_id, now)
        if event.type is EventType.ACCOUNT_CHANGE and event.operation is not None:
            self.last_change[event.user_id] = event.operation
        if event.type is EventType.CREDIT_DRAW and event.amount is not None:
            self.last_draw[event.user_id] = (now, event.amount_float)
        for kind, key in keys:
            if key is None:
                continue
            p = self.places.get((kind, key))
            if p is None:
                if not registers:
                    continue  # only places where someone registered are tracked
                p = self.places[(kind, key)] = _Place()
            p.users.see(event.user_id, now)
            p.last_ts = now
            if registers:
                p.regs.append(now)
        if registers and device is not None:
            self.device_nets.setdefault(device, []).append((now, ip24))
        if opens:
            rare = commonness is not None and commonness < RARE_SHARE
            opening = _Opening(now, ip, ip24, device, cluster, rare, emulator)
            if cluster_regs is not None and cluster_users is not None:
                opening.cluster_regs = cluster_regs
                opening.cluster_share = round(cluster_regs / max(cluster_users, 1), 3)
            self.openings[event.user_id] = opening
            self.everyone.regs.append(now)
        self._learn_purchase(event)
        large = event.amount is not None and event.amount_float >= LARGE
        if event.type is EventType.PAYMENT and event.merchant_id is not None and large:
            pair = self.payers.get(event.merchant_id)
            if pair is None:
                pair = self.payers[event.merchant_id] = (
                    DistinctWindows((WEEK,), throttle_s=3600),
                    DistinctWindows((WEEK,), throttle_s=3600),
                )
            o = self.openings.get(event.user_id)
            if o is not None and now - o.ts < YOUNG_S:
                # The shop's mix as this payment met it (the state read() saw).
                payers, young = pair[0].counts(now)[0], pair[1].counts(now)[0]
                if young >= RING_YOUNG and young >= RING_SHARE * payers:
                    self.ring_payments[event.user_id] = now
                pair[1].see(event.user_id, now)
            pair[0].see(event.user_id, now)

    def _repays(self, event: EventLike, payee: str) -> bool:
        """This transfer pays ``payee`` back one of its recent large purchases, a fee shaved."""
        if event.amount is None:
            return False
        lo, hi = REPAID_SHARE
        amount = event.amount_float
        return any(
            0 < event.ts - ts <= REPAID_S and lo * paid <= amount <= hi * paid
            for ts, paid in self.purchases.get(payee, ())
        )

    def _learn_purchase(self, event: EventLike) -> None:
        """Remember a young account's large purchases, and mark the account paid one back."""
        now = event.ts
        cp = event.counterparty
        if event.type is EventType.TRANSFER and cp is not None and cp.account_id is not None:
            if self._repays(event, cp.account_id):
                self.repaid[cp.account_id] = now
            return
        if event.type is not EventType.PAYMENT or event.amount is None:
            return
        o = self.openings.get(event.user_id)
        if event.amount_float >= REPAID and o is not None and now - o.ts < 30 * DAY:
            recent = [r for r in self.purchases.get(event.user_id, ()) if now - r[0] <= REPAID_S]
            self.purchases[event.user_id] = [*recent, (now, event.amount_float)]

    def _mark(self, event: EventLike, on_device: tuple[str, str]) -> None:
        """Mark the device when the account's password or phone changes on it while fresh."""
        if event.type is not EventType.ACCOUNT_CHANGE:
            return
        if event.operation not in ("change_password", "change_phone"):
            return
        first = self.device_first[on_device]
        account_first = self.account_first.get(event.user_id, first)
        announced = on_device in self.announced  # the owner's new phone, announced on it
        if event.ts - first < FRESH_S and first - account_first >= DAY and not announced:
            self.marks[on_device] = event.ts

    def _pass_mark_on(self, event: EventLike, on_device: tuple[str, str]) -> None:
        """A transfer from a marked device marks the account that receives it."""
        marked = self.marks.get(on_device)
        cp = event.counterparty
        if event.type is not EventType.TRANSFER or marked is None or event.ts - marked >= MARK_S:
            return
        if cp is not None and cp.account_id is not None:
            self.marked_money[cp.account_id] = event.ts

    def expire(self, now: float) -> int:
        """Drop places idle for 30 days, merchants for a week, openings after 90 days."""
        old = [k for k, p in self.places.items() if p.last_ts <= now - PLACE_S]
        for k in old:
            del self.places[k]
        gone = [u for u, o in self.openings.items() if o.ts <= now - 90 * DAY]
        for u in gone:
            del self.openings[u]
        idle = [m for m, (a, _) in self.payers.items() if not a.counts(now)[0]]
        for m in idle:
            del self.payers[m]
        stale = [k for k, ts in self.device_first.items() if ts <= now - 90 * DAY]
        for k in stale:
            del self.device_first[k]
            self.sms_entry.discard(k)
            self.announced.discard(k)
        for k in [k for k, ts in self.marks.items() if ts <= now - MARK_S]:
            del self.marks[k]
        for u in [u for u, ts in self.marked_money.items() if ts <= now - MARK_S]:
            del self.marked_money[u]
        for u in [u for u, ts in self.ring_payments.items() if ts <= now - WEEK]:
            del self.ring_payments[u]
        for u in [u for u, ts in self.repaid.items() if ts <= now - WEEK]:
            del self.repaid[u]
        for u in [u for u, rows in self.purchases.items() if rows[-1][0] <= now - REPAID_S]:
            del self.purchases[u]
        for u in [u for u, (ts, _) in self.last_draw.items() if ts <= now - 30 * DAY]:
            del self.last_draw[u]
        for device in list(self.device_nets):
            kept = [r for r in self.device_nets[device] if r[0] > now - PLACE_S]
            if kept:
                self.device_nets[device] = kept
            else:
                del self.device_nets[device]
        return len(old) + len(gone) + len(idle) + len(stale)
