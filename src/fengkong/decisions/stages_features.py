"""Pipeline stages ``enrich`` (device and IP facts) and ``features`` (streaming features).

>>> from fengkong.features import default_engine, load_ip_ranges
>>> enrich = EnrichStage(ip_ranges=None)           # or load_ip_ranges(path)
>>> features = FeaturesStage(default_engine())
"""

from __future__ import annotations

from fengkong.decisions.types import DecisionContext, FeatureValue
from fengkong.events import Event
from fengkong.features.engine import FeatureEngine
from fengkong.features.ipinfo import IpRanges, ip_facts
from fengkong.identity.device import device_facts, device_key


class EnrichStage:
    """Fills ``ctx.facts`` with ``device.*`` and ``ip.*`` facts (docs/features.md).

    ``ip_ranges``: data-centre / hosting ranges (``load_ip_ranges(path)``); without them
    there are no ``ip.is_datacenter`` facts. ``ip_countries``: optional IP -> ISO country
    ranges, which enable ``ip.country`` and ``device.tz_ip_mismatch``.
    """

    name = "enrich"

    def __init__(
        self, ip_ranges: IpRanges | None = None, ip_countries: IpRanges | None = None
    ) -> None:
        self.ip_ranges = ip_ranges
        self.ip_countries = ip_countries

    def facts(self, event: Event) -> dict[str, FeatureValue]:
        out: dict[str, FeatureValue] = {}
        country: str | None = None
        if event.ip is not None:
            out.update(ip_facts(event.ip, self.ip_ranges, self.ip_countries))
            c = out.get("ip.country")
            country = c if isinstance(c, str) else None
        lon = event.geo.lon if event.geo is not None else None
        out.update(device_facts(event.device, at=event.occurred_at, lon=lon, ip_country=country))
        return out

    def run(self, ctx: DecisionContext) -> None:
        ctx.facts.update(self.facts(ctx.event))


class FeaturesStage:
    """Fills ``ctx.features`` point-in-time from ``engine``, then adds the event to it.

    The device entity is the ``device.key`` fact of the enrich stage when present, else
    derived here from the event (so :meth:`observe` needs no enrich stage).
    """

    name = "features"

    def __init__(self, engine: FeatureEngine) -> None:
        self.engine = engine

    def run(self, ctx: DecisionContext) -> None:
        key = ctx.facts.get("device.key")
        if not isinstance(key, str):
            key = device_key(ctx.event.device)[0]
        self.engine.process(ctx.event, ctx.features, key)

    def observe(self, event: Event) -> None:
        self.engine.observe(event, device_key(event.device)[0])

    def horizon_seconds(self) -> float:
        return self.engine.horizon_seconds()
