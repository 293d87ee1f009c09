"""Base rates of shared entities: counts compared with the entity's own normal level.

A mobile carrier puts thousands of subscribers behind a few CGNAT gateway /24s, a
company behind one office exit, a family behind one home IP. A fixed "distinct users
per IP" threshold flags all of them; what marks a farm or a script is a count far
above *that entity's* usual level, or a share of its traffic no honest crowd has.
For each shared entity kind — ``ip``, ``ip24`` (the /24 of IPv4, the /64 of IPv6) and
``merchant`` — this module keeps, point in time:

* ``K.users_1h``, ``K.users_24h``: distinct users in the last hour / day;
* ``K.users_per_hour``: the entity's normal level (new users per clock hour, weighted
  towards the last days, empty hours included; ``None`` before one full hour);
* ``K.user_lift_1h``: ``users_1h / max(users_per_hour, 1)``;
* ``K.registrations_1h`` and ``K.registration_share_1h``: registrations in the last hour
  and their share of the users active there (a farm's IP is mostly registrations, a
  carrier gateway's a trickle among thousands).

``ip.is_mobile_carrier`` marks well-known carrier gateway ranges (China Mobile
``223.104.0.0/14``, ``117.136.0.0/13``, ``39.128.0.0/10``; China Unicom ``112.96.0.0/13``;
IPv6 ``2409:8000::/20``, ``2408:8000::/20``, ``240e::/20``; RFC 6598 shared space),
as context for analysts and rules: the base rates above handle crowds whatever the range.
"""

from __future__ import annotations

import ipaddress
import pickle
from collections import deque
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from fengkong.decisions.types import DecisionContext
from fengkong.events import EventType
from fengkong.events.fields import EventLike
from fengkong.features.engine import FeatureValue, ip_prefix
from fengkong.features.ipinfo import ipv4_int
from fengkong.features.lineage import FEATURE_NAMES as LINEAGE_FEATURES
from fengkong.features.lineage import Lineage
from fengkong.features.openings import FEATURE_NAMES as LINK_FEATURES
from fengkong.features.openings import OpeningLinks
from fengkong.features.rates_columns import Parts, RateColumns
from fengkong.features.windows import DistinctWindows, HourlyLevel
from fengkong.identity.device import DeviceCache
from fengkong.identity.fingerprints import FEATURE_NAMES as FINGERPRINT_FEATURES
from fengkong.identity.fingerprints import FingerprintStats, fingerprint_cluster

HOUR = 3600
DAY = 86_400
KINDS = ("ip", "ip24", "merchant")

_CARRIER_NETS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "223.104.0.0/14",
        "117.136.0.0/13",
        "39.128.0.0/10",
        "112.96.0.0/13",
        "100.64.0.0/10",
        "2409:8000::/20",
        "2408:8000::/20",
        "240e::/20",
    )
)


# (version, network address, netmask) as integers: one AND and compare per range
# instead of ``ipaddress``'s membership test (most addresses are seen once or twice).
_CARRIER_RANGES = tuple((n.version, int(n.network_address), int(n.netmask)) for n in _CARRIER_NETS)


@lru_cache(maxsize=65_536)
def is_mobile_carrier(ip: str) -> bool:
    """The address is in a well-known mobile carrier CGNAT gateway range."""
    value = ipv4_int(ip)
    if value is not None:
        version = 4
    else:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        version, value = addr.version, int(addr)
    return any(v == version and value & mask == net for v, net, mask in _CARRIER_RANGES)


def _names(kind: str) -> tuple[str, ...]:
    return tuple(
        f"{kind}.{n}"
        for n in (
            "users_1h",
            "users_24h",
            "users_per_hour",
            "user_lift_1h",
            "registrations_1h",
            "registration_share_1h",
        )
    )


FEATURE_NAMES: dict[str, str] = {
    **{name: "num" for kind in KINDS for name in _names(kind)},
    "ip.is_mobile_carrier": "bool",
    **FINGERPRINT_FEATURES,
    **LINEAGE_FEATURES,
    "qr.code_payee_registered_secs_ago": "num",
    **LINK_FEATURES,
}


_WINDOWS = (HOUR, DAY)


class _Entity:
    __slots__ = ("last_ts", "level", "registrations", "users")

    def __init__(self) -> None:
        self.users = DistinctWindows(_WINDOWS)
        self.level = HourlyLevel()
        self.registrations: deque[float] = deque()
        self.last_ts = 0.0

    def parts(self) -> Parts:
        return self.last_ts, list(self.registrations), self.users.dump(), self.level.dump()

    @classmethod
    def from_parts(cls, parts: Parts) -> _Entity:
        e = cls()
        e.last_ts, registrations, (last, queues, counts), level = parts
        e.registrations.extend(registrations)
        e.users.load(last, queues, counts)
        e.level.load(*level)
        return e


class EntityRates:
    """The base-rate state of one entity kind.

    Restored from a snapshot, the entities stay in columns (``rates_columns``) until an
    event touches one: a restart does not rebuild hundreds of thousands of objects.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.names = _names(kind)
        self.entities: dict[str, _Entity] = {}
        self._packed: RateColumns | None = None

    def _get(self, key: str) -> _Entity | None:
        e = self.entities.get(key)
        if e is None and self._packed is not None:
            parts = self._packed.take(key)
            if parts is not None:
                e = self.entities[key] = _Entity.from_parts(parts)
        return e

    def __len__(self) -> int:
        return len(self.entities) + (len(self._packed) if self._packed is not None else 0)

    def __getstate__(self) -> dict[str, Any]:
        touched = ((k, e.parts()) for k, e in self.entities.items())
        columns = RateColumns.pack(len(_WINDOWS), touched)
        if self._packed is not None and len(self._packed):
            columns = RateColumns.concat([self._packed.remaining(), columns])
        return {"kind": self.kind, "columns": columns}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.kind = state["kind"]
        self.names = _names(self.kind)
        if "columns" in state:
            self.entities, self._packed = {}, state["columns"]
        else:  # a snapshot from before the columns: the objects themselves
            self.entities, self._packed = state["entities"], None

    def read(self, key: str | None, now: float, out: dict[str, FeatureValue]) -> None:
        """Write this kind's features for entity ``key`` into ``out`` (state before now)."""
        e = self._get(key) if key is not None else None
        if key is None:
            for n in self.names:
                out[n] = None
            return
        if e is None:
            u1 = u24 = regs = 0
            level = None
        else:
            u1, u24 = e.users.counts(now)
            level = e.level.level(now)
            q = e.registrations
            while q and q[0] <= now - HOUR:
                q.popleft()
            regs = len(q)
        names = self.names
        out[names[0]] = u1
        out[names[1]] = u24
        out[names[2]] = None if level is None else round(level, 3)
        out[names[3]] = None if level is None else round(u1 / max(level, 1.0), 3)
        out[names[4]] = regs
        out[names[5]] = round(regs / max(u1, 1), 3)

    def see(self, key: str | None, user: str, ts: float, registers: bool) -> None:
        if key is None:
            return
        e = self._get(key)
        if e is None:
            e = self.entities[key] = _Entity()
        if e.users.see(user, ts):
            e.level.add(ts)
        if registers:
            e.registrations.append(ts)
        e.last_ts = ts

    def expire(self, now: float) -> int:
        """Drop entities not seen for a week (their normal level has faded by then)."""
        edge = now - 7 * DAY
        old = [k for k, e in self.entities.items() if e.last_ts <= edge]
        for k in old:
            del self.entities[k]
        return len(old) + (self._packed.expire(edge) if self._packed is not None else 0)


def entity_keys(event: EventLike) -> dict[str, str | None]:
    """The shared-entity keys of an event: its IP, IP range and merchant."""
    ip = event.ip
    return {
        "ip": ip,
        "ip24": ip_prefix(ip) if ip is not None else None,
        "merchant": event.merchant_id,
    }


class BaseRates:
    """All kinds together: ``read(event)`` then ``see(event)``."""

    def __init__(self) -> None:
        self.kinds = {k: EntityRates(k) for k in KINDS}

    def read(
        self, event: EventLike, keys: dict[str, str | None] | None = None
    ) -> dict[str, FeatureValue]:
        """The features of ``event`` (``keys``: its :func:`entity_keys`, when known)."""
        out: dict[str, FeatureValue] = {}
        if keys is None:
            keys = entity_keys(event)
        for kind, rates in self.kinds.items():
            rates.read(keys[kind], event.ts, out)
        out["ip.is_mobile_carrier"] = None if event.ip is None else is_mobile_carrier(event.ip)
        return out

    def see(self, event: EventLike, keys: dict[str, str | None] | None = None) -> None:
        if keys is None:
            keys = entity_keys(event)
        registers = event.type is EventType.REGISTER
        for kind, rates in self.kinds.items():
            rates.see(keys[kind], event.user_id, event.ts, registers)

    def expire(self, now: float) -> int:
        return sum(r.expire(now) for r in self.kinds.values())


# An event's device key, fingerprint cluster and shared-entity keys.
_Keys = tuple[str | None, str | None, dict[str, str | None]]


class BaseRatesStage:
    """Pipeline stage ``baserates``: shared-entity base rates and fingerprint commonness.

    Adds the features of :data:`FEATURE_NAMES` to ``ctx.features`` from the state before
    the event, then adds the event. Stateful like the features stage: rebuilt from the
    stored events after a restart (:meth:`observe`), expired by :meth:`maintain`.
    """

    name = "baserates"
    outputs = FEATURE_NAMES
    inputs: tuple[str, ...] = ("qr.code_payee",)

    def __init__(self) -> None:
        self.rates = BaseRates()
        self.fingerprints = FingerprintStats()
        self.lineage = Lineage()
        self.links = OpeningLinks()
        self._devices = DeviceCache()
        # The keys of the event last read, for its update: each is derived once per
        # event (the fingerprint cluster is a BLAKE2b of five fields).
        self._keyed: tuple[EventLike, _Keys] | None = None

    def _device(
        self, event: EventLike, facts: Mapping[str, FeatureValue] | None = None
    ) -> str | None:
        """The device key when it is the app's own id (fingerprint keys are shared):
        :func:`~fengkong.identity.fingerprints.event_device_id` of the event.

        ``facts``: the enrich stage's, which hold the same device-only facts (saves
        deriving them again); without them they come from this stage's own memo.
        """
        if event.device is None:
            return None
        if facts is None or "device.key_strength" not in facts:
            facts = self._devices.static_facts(event.device)
        key = facts["device.key"]
        return key if facts["device.key_strength"] == "client_id" and isinstance(key, str) else None

    def _keys(self, event: EventLike, facts: Mapping[str, FeatureValue] | None) -> _Keys:
        """Device key, fingerprint cluster and entity keys of ``event``, derived once:
        :meth:`values` then :meth:`observe` of the same event share them."""
        keyed = self._keyed
        if keyed is not None and keyed[0] is event:
            return keyed[1]
        keys = (self._device(event, facts), fingerprint_cluster(event.device), entity_keys(event))
        self._keyed = (event, keys)
        return keys

    def values(
        self, event: EventLike, facts: Mapping[str, FeatureValue] | None = None
    ) -> dict[str, FeatureValue]:
        """The features for ``event`` from the state before it."""
        device, cluster, keys = self._keys(event, facts)
        out = self.rates.read(event, keys)
        out.update(self.fingerprints.read(cluster, device, event.ts))
        common = out.get("fingerprint.commonness")
        commonness = float(common) if isinstance(common, int | float) else None
        # A cluster's share of registrations means something once its commonness does.
        users = out.get("fingerprint.users_30d") if commonness is not None else None
        cluster_users = users if isinstance(users, int) else None
        out.update(self.lineage.read(event, device, cluster, commonness, cluster_users))
        out.update(self.links.read(event, device))
        return out

    def read(self, ctx: DecisionContext) -> None:
        ctx.features.update(self.values(ctx.fields, ctx.facts))
        payee = ctx.features.get("qr.code_payee")
        if isinstance(payee, str):
            # The account a scanned code paid before (links stage): a lure's is fresh.
            opened = self.lineage.openings.get(payee)
            age = None if opened is None else ctx.fields.ts - opened.ts
            ctx.features["qr.code_payee_registered_secs_ago"] = age

    def update(self, ctx: DecisionContext) -> None:
        self.observe(ctx.fields, ctx.facts)

    def run(self, ctx: DecisionContext) -> None:
        self.read(ctx)
        self.update(ctx)

    def observe(self, event: EventLike, facts: Mapping[str, FeatureValue] | None = None) -> None:
        device, cluster, keys = self._keys(event, facts)
        self._keyed = None
        commonness = None
        users: int | None = None
        if event.type is EventType.REGISTER:
            common = self.fingerprints.read(cluster, None, event.ts)["fingerprint.commonness"]
            commonness = float(common) if isinstance(common, int | float) else None
            if commonness is not None:
                users = self.fingerprints.users_30d(cluster, event.ts)
        self.rates.see(event, keys)
        self.fingerprints.see(cluster, device, event.user_id, event.ts)
        emulator = False
        if event.type is EventType.REGISTER and event.device is not None:
            if facts is None or "device.is_emulator" not in facts:
                facts = self._devices.static_facts(event.device)
            emulator = facts.get("device.is_emulator") is True
        self.lineage.see(event, device, cluster, commonness, emulator, users)
        self.links.see(event, device)

    def horizon_seconds(self) -> float:
        return 30.0 * DAY

    def maintain(self, now: float) -> int:
        expired = self.rates.expire(now) + self.fingerprints.expire(now)
        return expired + self.lineage.expire(now) + self.links.expire(now)

    def snapshot(self) -> bytes:
        # A restart aid read back only by this installation (see decisions.state).
        state = (self.name, self.rates, self.fingerprints, self.lineage, self.links)
        return pickle.dumps(state, pickle.HIGHEST_PROTOCOL)

    def restore(self, data: bytes) -> None:
        try:
            name, rates, fingerprints, lineage, links = pickle.loads(data)
        except Exception as exc:
            raise ValueError(f"unreadable baserates state: {exc}") from exc
        if name != self.name:
            raise ValueError(f"a {name!r} state is not a baserates state")
        if not hasattr(lineage, "device_nets"):
            raise ValueError("a baserates state of an older layout (no device networks)")
        self.rates, self.fingerprints, self.lineage = rates, fingerprints, lineage
        self.links = links
