"""The feature engine: definitions compiled into per-entity plans over a state store.

>>> from fengkong.events import parse_event
>>> engine = FeatureEngine(["count(event) by user over 1h", "sum(amount) by user over 24h"])
>>> e = parse_event({"event_id": "e1", "type": "payment", "user_id": "u1", "amount": "12.5",
...                  "occurred_at": "2026-11-20T09:15:40+08:00"})
>>> engine.compute(e)  # point-in-time: nothing before the first event
{'user.events_1h': 0, 'user.amount_sum_24h': 0.0}
>>> engine.compute(e.model_copy(update={"event_id": "e2"}))
{'user.events_1h': 1, 'user.amount_sum_24h': 12.5}
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

from fengkong.events import Event
from fengkong.features.accumulators import (
    Accumulator,
    AmountWindow,
    CountWindow,
    FirstSeenWindow,
    HoursProfile,
    LastWindow,
    Out,
    PercentileWindow,
    PlacesProfile,
    Rec,
    SeenWindow,
    TravelProfile,
    cell_of,
)
from fengkong.features.spec import (
    AMOUNT_AGGREGATES,
    DEFAULT_FEATURES,
    ENTITIES,
    SEEN_AGGREGATES,
    FeatureDef,
    feature_names,
    parse_feature,
)
from fengkong.features.state import EntityState, InMemoryState

FeatureValue = float | int | str | bool | None


def ip_prefix(ip: str) -> str:
    """The /24 network of an IPv4 address, the /64 of an IPv6 one (canonical text).

    >>> ip_prefix("223.104.3.17"), ip_prefix("2408:8456:3a1:5e::7")
    ('223.104.3.0/24', '2408:8456:3a1:5e::/64')
    """
    if ":" not in ip:
        return ip[: ip.rfind(".")] + ".0/24"
    return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))


def _accumulator(defs: list[FeatureDef], max_distinct: int, percentile_size: int) -> Accumulator:
    d = defs[0]
    if d.agg == "count":
        return CountWindow(d)
    if d.agg == "percentile":
        return PercentileWindow(d, size=percentile_size)
    if d.agg in AMOUNT_AGGREGATES:
        return AmountWindow(defs)
    if d.agg in SEEN_AGGREGATES:
        return SeenWindow(defs, cap=max_distinct)
    if d.agg == "first_seen":
        return FirstSeenWindow(d)
    if d.agg in ("since", "last"):
        return LastWindow(d)
    if d.field == "hours":
        return HoursProfile(d)
    if d.field == "places":
        return PlacesProfile(d)
    return TravelProfile(d)


class _Plan:
    """Everything computed for one entity kind: one dict lookup per event."""

    __slots__ = ("accs", "entity", "missing", "steps", "table")

    def __init__(self, entity: str, accs: list[Accumulator], table: dict[str, EntityState]):
        self.entity = entity
        self.accs = tuple(enumerate(accs, start=1))
        # Bound methods looked up once, not per event.
        self.steps = tuple((i, a.step) for i, a in self.accs)
        self.table = table
        self.missing: dict[str, FeatureValue] = {n: None for a in accs for n in a.outputs()}

    def new_state(self, ts: float) -> EntityState:
        return [ts, *(a.new_slot() for _, a in self.accs)]


class FeatureEngine:
    """Computes feature values point-in-time and keeps the state they need.

    ``definitions``: strings of the definition language or parsed :class:`FeatureDef`.
    Definitions over the same entity, field, filter and window share one accumulator
    (``mean``, ``std`` and ``zscore`` of amounts over 30 days are one state slot).
    ``local_utc_offset_hours`` sets the local time for usual-hour profiles.
    """

    def __init__(
        self,
        definitions: Sequence[str | FeatureDef] | None = None,
        *,
        max_distinct: int = 1000,
        percentile_size: int = 200,
        local_utc_offset_hours: float = 8.0,
        state: InMemoryState | None = None,
    ) -> None:
        texts = DEFAULT_FEATURES if definitions is None else definitions
        self.definitions = [d if isinstance(d, FeatureDef) else parse_feature(d) for d in texts]
        self.names = feature_names(self.definitions)
        self.max_distinct = max_distinct
        self._offset = local_utc_offset_hours * 3600.0
        self.state = state if state is not None else InMemoryState()
        groups: dict[tuple[object, ...], list[FeatureDef]] = {}
        for d in self.definitions:
            groups.setdefault(d.group_key, []).append(d)
        by_entity: dict[str, list[Accumulator]] = {}
        for defs in groups.values():
            acc = _accumulator(defs, max_distinct, percentile_size)
            by_entity.setdefault(defs[0].entity, []).append(acc)
        self._plans = tuple(
            _Plan(e, by_entity[e], self.state.table(e)) for e in ENTITIES if e in by_entity
        )
        self._uses_ip24 = "ip24" in by_entity or any(d.field == "ip24" for d in self.definitions)
        self._uses_geo = any(d.agg == "profile" for d in self.definitions) or any(
            d.field == "cell" for d in self.definitions
        )
        self._rec = Rec()
        self._scratch: Out = {}
        self._horizon = float(max(d.window_s for d in self.definitions))
        self._fingerprint = "\n".join(d.text for d in self.definitions)

    def horizon_seconds(self) -> float:
        """The longest window: how far back events matter to the state."""
        return self._horizon

    def _load(self, event: Event, device_key: str | None) -> Rec:
        r = self._rec
        ts = event.ts
        r.ts = ts
        r.type = event.type.value
        amount = event.amount
        r.cents = None if amount is None else int((amount * 100).to_integral_value())
        r.hour = int((ts + self._offset) // 3600) % 24
        r.user = event.user_id
        r.device = device_key
        ip = event.ip
        r.ip = ip
        r.ip24 = None if ip is None or not self._uses_ip24 else ip_prefix(ip)
        r.phone = event.phone
        r.id_number = event.id_number
        r.bank_card = event.bank_card
        r.merchant = event.merchant_id
        r.operation = event.operation
        cp = event.counterparty
        if cp is None:
            r.cp_account = r.cp_card = r.payee = None
        else:
            r.cp_account = cp.account_id
            r.cp_card = cp.bank_card
            r.payee = (
                f"a:{cp.account_id}"
                if cp.account_id is not None
                else (None if cp.bank_card is None else f"c:{cp.bank_card}")
            )
        geo = event.geo
        if geo is None or not self._uses_geo:
            r.lat = r.lon = r.cell = None
        else:
            r.lat = geo.lat
            r.lon = geo.lon
            r.cell = cell_of(geo.lat, geo.lon)
        return r

    def process(self, event: Event, out: Out, device_key: str | None = None) -> None:
        """Write the features of ``event`` (state before it) into ``out``, then add it.

        ``device_key`` is the derived device key (fact ``device.key`` of the enrich
        stage); device features are ``None`` without it.
        """
        r = self._load(event, device_key)
        ts = r.ts
        for plan in self._plans:
            key = getattr(r, plan.entity)
            if key is None:
                out.update(plan.missing)
                continue
            st = plan.table.get(key)
            if st is None:
                st = plan.table[key] = plan.new_state(ts)
            elif ts > st[0]:
                st[0] = ts
            for i, step in plan.steps:
                step(st[i], r, out)

    def compute(self, event: Event, device_key: str | None = None) -> dict[str, FeatureValue]:
        """:meth:`process` into a new dict, in definition order."""
        out: Out = dict.fromkeys(self.names)
        self.process(event, out, device_key)
        return out

    def observe(self, event: Event, device_key: str | None = None) -> None:
        """Add ``event`` to the state without keeping any value (rebuild after restart)."""
        self.process(event, self._scratch, device_key)

    def observe_all(self, events: Iterable[tuple[Event, str | None]]) -> int:
        """Observe ``(event, device_key)`` pairs; returns how many."""
        n = 0
        for event, key in events:
            self.process(event, self._scratch, key)
            n += 1
        return n

    def expire(self, now: float) -> int:
        """Drop everything that has left its window at ``now``; returns entities dropped.

        Reads expire lazily, so this is only needed to bound memory: call it from time
        to time (e.g. hourly). It sweeps every entity, so it costs ~1 s per million.
        """
        dropped = 0
        for plan in self._plans:
            table = plan.table
            stale = []
            for key, st in table.items():
                empty = True
                for i, acc in plan.accs:
                    if not acc.prune(st[i], now):
                        empty = False
                if empty:
                    stale.append(key)
            for key in stale:
                del table[key]
            dropped += len(stale)
        return dropped

    def snapshot(self) -> bytes:
        """The whole state as bytes (see :meth:`InMemoryState.dumps`)."""
        return self.state.dumps(self._fingerprint)

    def restore(self, data: bytes) -> None:
        """Replace the state by a snapshot taken with the same definitions."""
        self.state.loads(data, self._fingerprint)
        for plan in self._plans:
            plan.table = self.state.table(plan.entity)

    def entity_count(self) -> int:
        return sum(len(p.table) for p in self._plans)


def default_engine(**options: Any) -> FeatureEngine:
    """A :class:`FeatureEngine` with the default feature set (docs/features.md)."""
    return FeatureEngine(None, **options)
