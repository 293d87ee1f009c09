"""Pipeline stages ``enrich`` (device and IP facts) and ``features`` (streaming features).

>>> from fengkong.features import default_engine, load_ip_ranges
>>> enrich = EnrichStage(ip_ranges=None)           # or load_ip_ranges(path)
>>> features = FeaturesStage(default_engine())
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from fengkong.decisions.types import DecisionContext, EventCycle, FeatureValue
from fengkong.events import Event
from fengkong.events.fields import EventLike
from fengkong.features.engine import FeatureEngine
from fengkong.features.ipinfo import IpFactsCache, IpRanges
from fengkong.features.state import apply_and_save
from fengkong.identity.device import DeviceCache, device_facts
from fengkong.rules.names import ENRICH_FACTS


class EnrichStage:
    """Fills ``ctx.facts`` with ``device.*`` and ``ip.*`` facts (docs/features.md).

    ``ip_ranges``: data-centre / hosting ranges (``load_ip_ranges(path)``); without them
    there are no ``ip.is_datacenter`` facts. ``ip_countries``: optional IP -> ISO country
    ranges, which enable ``ip.country`` and ``device.tz_ip_mismatch``.

    IP facts are memoised per address (:class:`IpFactsCache`) and device-only facts per
    fingerprint content (:class:`DeviceCache`), each bounded at ``cache_size`` entries:
    clients repeat their IP and fingerprint from event to event.
    """

    name = "enrich"
    outputs: ClassVar[Mapping[str, str]] = dict(ENRICH_FACTS)
    inputs: tuple[str, ...] = ()

    def __init__(
        self,
        ip_ranges: IpRanges | None = None,
        ip_countries: IpRanges | None = None,
        cache_size: int = 65_536,
    ) -> None:
        self.ip_ranges = ip_ranges
        self.ip_countries = ip_countries
        self.cache_size = cache_size
        self.devices = DeviceCache(cache_size)
        self.ips = IpFactsCache(ip_ranges, ip_countries, cache_size)

    def facts(self, event: EventLike) -> dict[str, FeatureValue]:
        country: str | None = None
        if event.ip is not None:
            out = dict(self.ips.facts(event.ip))
            c = out.get("ip.country")
            country = c if isinstance(c, str) else None
        else:
            out = {}
        lon = event.geo.lon if event.geo is not None else None
        out.update(
            device_facts(
                event.device,
                at=event.occurred_at,
                lon=lon,
                ip_country=country,
                cache=self.devices,
            )
        )
        return out

    def run(self, ctx: DecisionContext) -> None:
        ctx.facts.update(self.facts(ctx.fields))


class FeaturesStage:
    """Fills ``ctx.features`` point-in-time from ``engine``, then adds the event to it.

    The device entity is the ``device.key`` fact of the enrich stage when present, else
    derived here from the event (so :meth:`observe` needs no enrich stage).

    ``expire_budget``: entities :meth:`maintain` visits per call; ``None`` (default)
    sweeps the whole state in every call.
    """

    name = "features"
    inputs = ("device.key",)

    def __init__(self, engine: FeatureEngine, expire_budget: int | None = None) -> None:
        self.engine = engine
        # Declared per instance: the definitions decide the names.
        self.outputs: dict[str, str] = {n: "any" for n in engine.names}
        self.expire_budget = expire_budget
        self.max_entities = 0  # per entity kind; 0: no cap (the runtime sets it)
        self._devices = DeviceCache()
        # A remote state: the event read() added, its device key and its entities.
        self._pending: tuple[Event, str | None, list[tuple[str, str]]] | None = None
        session = getattr(engine.state, "session", None)
        if session is not None:  # a remote state: its entities come with the others'
            session.want(self._wanted)

    @property
    def cycle(self) -> EventCycle | None:
        """The remote state's per-event cycle (``None`` in memory)."""
        return getattr(getattr(self.engine.state, "session", None), "cycle", None)

    def _wanted(self, event: Event) -> list[tuple[str, str]]:
        return self.engine.entity_keys(event, self._devices.key(event.device))

    def read(self, ctx: DecisionContext) -> None:
        """The features of the event, and (folded in) its update.

        The compiled step reads and adds in one pass, twice as cheap as two passes:
        the engine applies reads and updates in the same log order, and a failed
        decision or commit re-derives the state from the log (``Engine``), so the
        fold changes no outcome.
        """
        key = ctx.facts.get("device.key")
        if not isinstance(key, str):
            key = self._devices.key(ctx.event.device)
        shared = getattr(self.engine.state, "shared", False)
        if shared:  # a remote state: fetch this event's entities first
            keys = self.engine.entity_keys(ctx.event, key)
            self.engine.state.load(keys)  # type: ignore[attr-defined]
            self._pending = (ctx.event, key, keys)
        self.engine.process(ctx.fields, ctx.features, key)
        if self.max_entities and not shared:
            self.engine.bound(self.max_entities)

    def update(self, ctx: DecisionContext) -> None:
        """A remote state: write the event's entities back (:meth:`read` added it).

        When another worker moved one of them meanwhile, load them again and add the
        event again, so no update is lost.
        """
        state: Any = self.engine.state
        if not getattr(state, "shared", False) or self._pending is None:
            return
        event, key, keys = self._pending
        self._pending = None
        again = [False]  # the first time, read has added the event already

        def apply() -> None:
            if again[0]:  # after a conflict: on the states just fetched
                state.load(keys, fresh=False)
                self.engine.observe(event, key)
            again[0] = True
            state.stage()

        apply_and_save(state.session, event.event_id, apply, refetch=lambda: keys)

    def run(self, ctx: DecisionContext) -> None:
        self.read(ctx)

    def recount(self, ctx: DecisionContext) -> None:
        """A committed event whose write was lost, added again on the current shared
        states (features/state_repair.py): the path of a decided event, no rule reads."""
        self.read(ctx)
        self.update(ctx)

    def observe(self, event: EventLike) -> None:
        if getattr(self.engine.state, "shared", False):
            return  # a shared state already holds every stored event
        self.engine.observe(event, self._devices.key(event.device))
        if self.max_entities:
            self.engine.bound(self.max_entities)

    def entity_counts(self) -> dict[str, int]:
        return self.engine.entity_counts()

    def snapshot(self) -> bytes:
        return self.engine.snapshot()

    def restore(self, data: bytes) -> None:
        try:
            self.engine.restore(data)
        except Exception as exc:  # SnapshotMismatch, or a damaged pickle
            raise ValueError(f"features: {exc}") from exc

    def horizon_seconds(self) -> float:
        return self.engine.horizon_seconds()

    def maintain(self, now: float) -> int:
        """Drop state that has left every window at ``now``; returns entities dropped.

        Called periodically by the server (hourly by default, see
        ``maintenance_interval_s``). Without ``expire_budget`` one call sweeps every
        entity (a few seconds per million on one core); with it, each call visits at most that
        many entities and the sweep continues at the next call, so call it more often.
        """
        return self.engine.expire(now, budget=self.expire_budget)
