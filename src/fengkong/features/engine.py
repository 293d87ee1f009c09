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
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from functools import lru_cache
from math import sqrt
from typing import Any, Protocol

from fengkong.events import Event
from fengkong.events.fields import EventLike
from fengkong.features import fields, slots
from fengkong.features.accumulators import (
    Accumulator,
    AmountWindow,
    CountWindow,
    FirstSeenWindow,
    LastWindow,
    PercentileWindow,
    SeenWindow,
)
from fengkong.features.bounded import evict_least_recent, first_item
from fengkong.features.late import LATE_HELPERS, emit_late
from fengkong.features.profiles import HoursProfile, PlacesProfile, TravelProfile
from fengkong.features.slots import Out, cell_of, haversine_km
from fengkong.features.spec import (
    AMOUNT_AGGREGATES,
    DEFAULT_FEATURES,
    ENTITIES,
    EVENT_AGGREGATES,
    SEEN_AGGREGATES,
    FeatureDef,
    feature_names,
    parse_feature,
)
from fengkong.features.state import EntityState, InMemoryState, StateBackend

FeatureValue = float | int | str | bool | None


class Step(Protocol):
    """The compiled per-event function: ``step(event, out, device_key=None)``."""

    def __call__(self, event: EventLike, out: Out, device_key: str | None = None) -> None: ...


@lru_cache(maxsize=65_536)
def ip_prefix(ip: str) -> str:
    """The /24 network of an IPv4 address, the /64 of an IPv6 one (canonical text).

    Several stages ask for the prefix of each event's address, and parsing an IPv6
    network costs microseconds: the answers of recent addresses are kept.

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
    """Everything computed for one entity kind: its accumulators and state table."""

    __slots__ = ("accs", "entity", "missing", "table")

    def __init__(
        self, entity: str, accs: list[Accumulator], table: MutableMapping[str, EntityState]
    ):
        self.entity = entity
        self.accs = tuple(enumerate(accs, start=1))  # slot 0 is the entity's last ts
        self.table = table
        self.missing: dict[str, FeatureValue] = {n: None for a in accs for n in a.outputs()}


# How the compiled step reads each event value it may need (``_loads`` keeps the order).
_LOADS: dict[str, tuple[str, ...]] = {
    "type": ("v_type = typ",),
    "operation": ("v_operation = op",),
    "cents": (
        "x = event.amount",
        "if x is not None:",
        "    x = int((x * 100).to_integral_value())",
    ),
    "hour": ("h = int((ts + OFFSET) // 3600) % 24",),
    "user": ("v_user = event.user_id",),
    "ip": ("v_ip = event.ip",),
    "ip24": (
        "v_ip24 = event.ip",
        "if v_ip24 is not None:",  # ip_prefix inlined for IPv4, the common case
        "    v_ip24 = (v_ip24[: v_ip24.rfind('.')] + '.0/24') if ':' not in v_ip24"
        " else ip_prefix(v_ip24)",
    ),
    "phone": ("v_phone = event.phone",),
    "id_number": ("v_id_number = event.id_number",),
    "bank_card": ("v_bank_card = event.bank_card",),
    "merchant": ("v_merchant = event.merchant_id",),
    "event": ("v_event = 'event'",),
}
_CP = ("cp_account", "cp_card", "payee")
_CP_LOAD = (
    "cp = event.counterparty",
    "if cp is None:",
    "    v_cp_account = v_cp_card = v_payee = None",
    "else:",
    "    v_cp_account = cp.account_id",
    "    v_cp_card = cp.bank_card",
    "    v_payee = (",
    "        'a:' + v_cp_account if v_cp_account is not None",
    "        else (None if v_cp_card is None else 'c:' + v_cp_card)",
    "    )",
)
_GEO_LOAD = (
    "g = event.geo",
    "if g is None:",
    "    lat = lon = v_cell = None",
    "else:",
    "    lat = g.lat",
    "    lon = g.lon",
    "    v_cell = cell_of(lat, lon)",
)


def _compile(plans: tuple[_Plan, ...], offset_s: float, values: Sequence[FeatureDef] = ()) -> Step:
    """One specialised function for the whole definition set: no per-accumulator calls.

    The source is generated from the accumulators' :meth:`Accumulator.emit` pieces with
    every constant (windows, names, filters) written in, and compiled once per engine.
    """
    env: dict[str, Any] = {
        name: getattr(slots, name)
        for name in (
            "count_expire",
            "amount_expire",
            "pairs_expire",
            "percentile_expire",
            "hours_expire",
            "seen_step",
            "seen_dict",
            "places_step",
        )
    }
    env.update(LATE_HELPERS)
    env.update(
        sqrt=sqrt,
        bisect_left=bisect_left,
        bisect_right=bisect_right,
        insort=insort,
        haversine_km=haversine_km,
        cell_of=cell_of,
        ip_prefix=ip_prefix,
        num=fields.num,
        cat=fields.cat,
        INF=float("inf"),
        OFFSET=offset_s,
        # Builtins as globals of the step: found in the first dict it looks in.
        type=type,
        len=len,
        max=max,
        min=min,
        int=int,
    )
    accs = [a for p in plans for _, a in p.accs]
    needed = {f for a in accs for f in a.fields()} | {p.entity for p in plans}
    filters: dict[tuple[object, ...], str] = {}
    for a in accs:
        if a.types is not None:
            filters.setdefault((a.types, a.ops), f"f{len(filters)}")
    body = ["v_device = device_key", "ts = event.ts"]
    if filters or "type" in needed:
        body.append("typ = event.type._value_")  # the plain str: no enum lookups after
    if any(ops is not None for _, ops in filters) or "operation" in needed:
        body.append("op = event.operation")
    for name, lines in _LOADS.items():
        if name in needed:
            body += lines
    if needed & set(_CP):
        body += _CP_LOAD
    if "cell" in needed:
        body += _GEO_LOAD
    # Event fields read as they are (value / category) and attributes aggregated.
    body += fields.load_lines(list(values), fields.numeric_attributes(needed))
    body += [f"out[{d.name!r}] = {fields.local(d)}" for d in values]
    for width in sorted({a.width for a in accs}):
        body.append(f"c{width} = int(ts // {width})")
    for (types, ops), flag in filters.items():
        env[f"TY_{flag}"] = types
        test = f"typ in TY_{flag}"
        if ops is not None:
            env[f"OP_{flag}"] = ops
            test += f" and op in OP_{flag}"
        body.append(f"{flag} = {test}")
    for j, plan in enumerate(plans):
        env[f"T{j}"] = plan.table
        env[f"M{j}"] = plan.missing
        body += [
            f"if v_{plan.entity} is None:",
            f"    out.update(M{j})",
            "else:",
            f"    st = T{j}.get(v_{plan.entity})",
            "    if st is None:",
            f"        st = T{j}[v_{plan.entity}] = [ts{', None' * len(plan.accs)}]",
            "    if ts >= st[0]:",
            "        st[0] = ts",
        ]
        flags = ["True" if a.types is None else filters[(a.types, a.ops)] for _, a in plan.accs]
        for (i, acc), flag in zip(plan.accs, flags, strict=True):
            body += ["        " + line for line in acc.emit(i, flag)]
        # Older than the entity's newest event: into its own bucket (features/late.py).
        body.append("    else:")
        for (i, acc), flag in zip(plan.accs, flags, strict=True):
            body += ["        " + line for line in emit_late(acc, i, flag)]
    source = "def process(event, out, device_key=None):\n" + "".join(f"    {x}\n" for x in body)
    # Only our own emitted source runs here: definitions are parsed into fixed
    # templates, and names and sets enter the code as repr() literals or env values.
    exec(compile(source, "<fengkong features>", "exec"), env)
    step: Step = env["process"]
    step.__doc__ = source  # readable when debugging: engine.process.__doc__
    return step


EntityKeys = Callable[[Event, "str | None"], list[tuple[str, str]]]


def _compile_keys(plans: tuple[_Plan, ...]) -> EntityKeys:
    """``keys(event, device_key)``: the ``(kind, key)`` of each entity an event touches.

    What a remote state backend fetches before the step runs (the step's own loads).
    """
    needed = {p.entity for p in plans}
    body = ["v_device = device_key"]
    for name, lines in _LOADS.items():
        if name in needed:
            body += lines
    if needed & set(_CP):
        body += _CP_LOAD
    pairs = "".join(f"({p.entity!r}, v_{p.entity}), " for p in plans)
    body.append(f"return [(k, v) for k, v in ({pairs}) if v is not None]")
    source = "def keys(event, device_key=None):\n" + "".join(f"    {x}\n" for x in body)
    env: dict[str, Any] = {"ip_prefix": ip_prefix, "int": int}
    exec(compile(source, "<fengkong feature keys>", "exec"), env)
    keys: EntityKeys = env["keys"]
    return keys


class FeatureEngine:
    """Computes feature values point-in-time and keeps the state they need.

    ``definitions``: strings of the definition language or parsed :class:`FeatureDef`.
    Definitions over the same entity, field, filter and window share one accumulator
    (``mean``, ``std`` and ``zscore`` of amounts over 30 days are one state slot).
    ``local_utc_offset_hours`` sets the local time for usual-hour profiles.

    ``engine.process(event, out, device_key=None)`` writes the features of ``event`` (the
    state before it) into ``out``, then adds it to the state.
    """

    def __init__(
        self,
        definitions: Sequence[str | FeatureDef] | None = None,
        *,
        max_distinct: int = 1000,
        percentile_size: int = 200,
        local_utc_offset_hours: float = 8.0,
        state: StateBackend | None = None,
    ) -> None:
        texts = DEFAULT_FEATURES if definitions is None else definitions
        self.definitions = [d if isinstance(d, FeatureDef) else parse_feature(d) for d in texts]
        self.names = feature_names(self.definitions)
        self.max_distinct = max_distinct
        self._offset = local_utc_offset_hours * 3600.0
        self.state: StateBackend = state if state is not None else InMemoryState()
        # value / category read the event itself: no accumulator, no state.
        self._values = [d for d in self.definitions if d.agg in EVENT_AGGREGATES]
        groups: dict[tuple[object, ...], list[FeatureDef]] = {}
        for d in self.definitions:
            if d.agg not in EVENT_AGGREGATES:
                groups.setdefault(d.group_key, []).append(d)
        by_entity: dict[str, list[Accumulator]] = {}
        for defs in groups.values():
            acc = _accumulator(defs, max_distinct, percentile_size)
            by_entity.setdefault(defs[0].entity, []).append(acc)
        self._plans = tuple(
            _Plan(e, by_entity[e], self.state.table(e)) for e in ENTITIES if e in by_entity
        )
        # process(event, out, device_key=None): write the features of ``event`` (the state
        # before it) into ``out``, then add it. ``device_key`` is the derived device key
        # (fact ``device.key`` of the enrich stage); device features are ``None`` without
        # it. The compiled function itself, not a method, so a call costs one frame.
        self.process: Step = _compile(self._plans, self._offset, self._values)
        self.entity_keys: EntityKeys = _compile_keys(self._plans)
        self._scratch: Out = {}
        self._horizon = float(max((d.window_s for d in self.definitions), default=0))
        self._fingerprint = "\n".join(d.text for d in self.definitions)
        # Incremental expiry: the keys still to visit in the current sweep, per plan.
        self._sweep: list[tuple[_Plan, list[str]]] = []

    def horizon_seconds(self) -> float:
        """The longest window: how far back events matter to the state."""
        return self._horizon

    def entity_horizons(self) -> dict[str, float]:
        """The longest window of each entity kind (how long its state matters)."""
        out: dict[str, float] = {}
        for d in self.definitions:
            if d.agg not in EVENT_AGGREGATES:
                out[d.entity] = max(out.get(d.entity, 0.0), float(d.window_s))
        return out

    def categorical_names(self) -> list[str]:
        """Outputs that are categories (text), fed to models as categorical inputs."""
        return [d.name for d in self._values if d.agg == "category"]

    def compute(self, event: EventLike, device_key: str | None = None) -> dict[str, FeatureValue]:
        """``process`` into a new dict, in definition order."""
        out: Out = dict.fromkeys(self.names)
        self.process(event, out, device_key)
        return out

    def observe(self, event: EventLike, device_key: str | None = None) -> None:
        """Add ``event`` to the state without keeping any value (rebuild after restart)."""
        self.process(event, self._scratch, device_key)

    def observe_all(self, events: Iterable[tuple[Event, str | None]]) -> int:
        """Observe ``(event, device_key)`` pairs; returns how many."""
        n = 0
        step, scratch = self.process, self._scratch
        for event, key in events:
            step(event, scratch, key)
            n += 1
        return n

    def _prune_keys(self, plan: _Plan, keys: Iterable[str], now: float) -> int:
        table = plan.table
        accs = [(i, a, a.limit(now)) for i, a in plan.accs]
        # Every bucket an entity keeps is at most its last event's bucket, so an entity
        # whose last event is older than ``cut`` has nothing left in any window.
        cut = min((lim + 1) * a.width for _, a, lim in accs)
        stale = []
        for key in keys:
            st = table.get(key)
            if st is None:  # dropped since the sweep began
                continue
            if st[0] < cut:
                stale.append(key)
                continue
            empty = True
            for i, acc, lim in accs:
                if st[i] is not None and not acc.prune(st, i, lim):
                    empty = False
            if empty:
                stale.append(key)
        self.state.delete_many(plan.entity, stale)
        return len(stale)

    def expire(self, now: float, budget: int | None = None) -> int:
        """Drop everything that has left its window at ``now``; returns entities dropped.

        Reads expire lazily, so this is only needed to bound memory: call it from time
        to time (e.g. hourly). Without ``budget`` it sweeps every entity (a few seconds
        per million on one core). With ``budget`` it visits at most that many entities
        per call and carries on where it stopped at the next call, so a sweep is spread
        over calls and no call blocks for long; a new sweep starts when one is finished.
        """
        if budget is None:
            self._sweep = []
            return sum(self._prune_keys(p, self.state.keys(p.entity), now) for p in self._plans)
        if not self._sweep:
            self._sweep = [(p, self.state.keys(p.entity)) for p in reversed(self._plans)]
        dropped = 0
        while self._sweep and budget > 0:
            plan, keys = self._sweep[-1]
            chunk = keys[-budget:]
            del keys[-budget:]
            budget -= len(chunk)
            dropped += self._prune_keys(plan, chunk, now)
            if not keys:
                self._sweep.pop()
        return dropped

    def snapshot(self) -> bytes:
        """The whole state as bytes (see :meth:`InMemoryState.dumps`)."""
        return self.state.dumps(self._fingerprint)

    def restore(self, data: bytes) -> None:
        """Replace the state by a snapshot taken with the same definitions."""
        self.state.loads(data, self._fingerprint)
        for plan in self._plans:
            plan.table = self.state.table(plan.entity)
        self.process = _compile(self._plans, self._offset, self._values)  # it holds the tables
        self._sweep = []

    def bound(self, cap: int) -> int:
        """Keep at most ``cap`` entities per kind (least recently seen dropped first)."""
        dropped = 0
        for plan in self._plans:
            if len(plan.table) > cap > 0:
                dropped += evict_least_recent(plan.table, cap, first_item)
        return dropped

    def entity_counts(self) -> dict[str, int]:
        return {p.entity: len(p.table) for p in self._plans}

    def entity_count(self) -> int:
        return sum(len(p.table) for p in self._plans)


def default_engine(**options: Any) -> FeatureEngine:
    """A :class:`FeatureEngine` with the default feature set (docs/features.md)."""
    return FeatureEngine(None, **options)
