"""Names a rule may read besides event paths: features and enrichment facts.

The authoritative lists belong to the features package (``docs/features.md``); this
module only gathers them and gives each a static type where the name makes it certain
(``is_*`` flags are true/false), so publishing catches ``user.is_new_device > 3``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fengkong.rules.schema import Type

# Enrichment facts documented in docs/features.md (EnrichStage); used when the features
# package does not (yet) export them itself.
ENRICH_FACTS: dict[str, Type] = {
    "device.key": "str",
    "device.key_strength": "str",
    "device.is_emulator": "bool",
    "device.is_rooted": "bool",
    "device.is_automation": "bool",
    "device.platform_ua_mismatch": "bool",
    "device.tz_geo_mismatch": "bool",
    "device.tz_ip_mismatch": "bool",
    "ip.version": "num",
    "ip.is_private": "bool",
    "ip.is_reserved": "bool",
    "ip.prefix": "str",
    "ip.is_datacenter": "bool",
    "ip.datacenter": "str",
    "ip.country": "str",
}


def infer_type(name: str) -> Type:
    """A static type from the name alone: ``*.is_*`` flags are booleans, else unknown."""
    last = name.rsplit(".", 1)[-1]
    return "bool" if last.startswith("is_") else "any"


def typed_names(names: Iterable[str] | Mapping[str, Type]) -> dict[str, Type]:
    """Names with their static types (given ones kept, others inferred)."""
    if isinstance(names, Mapping):
        return dict(names)
    return {n: infer_type(n) for n in names}


def default_known_names() -> dict[str, Type]:
    """Default features and facts, from the features package when it is importable."""
    out: dict[str, Type] = dict(ENRICH_FACTS)
    try:
        import fengkong.features as feats
    except ImportError:  # pragma: no cover - the package ships with fengkong
        return out
    fact_fn = getattr(feats, "default_fact_names", None)
    if callable(fact_fn):
        out.update(typed_names(fact_fn()))
    out.update(typed_names(feats.default_feature_names()))
    return out
