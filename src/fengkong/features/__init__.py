"""Streaming features: windowed aggregates, per-user baselines, geo-velocity, IP facts.

>>> engine = default_engine()
>>> "user.amount_zscore_30d" in engine.names
True
"""

from fengkong.features.engine import FeatureEngine, FeatureValue, default_engine, ip_prefix
from fengkong.features.ipinfo import IpRanges, ip_facts, load_ip_ranges
from fengkong.features.spec import (
    DEFAULT_FEATURES,
    FeatureDef,
    FeatureSpecError,
    default_definitions,
    default_feature_names,
    feature_names,
    parse_feature,
)
from fengkong.features.state import FeatureState, InMemoryState, SnapshotMismatch, StateBackend

__all__ = [
    "DEFAULT_FEATURES",
    "FeatureDef",
    "FeatureEngine",
    "FeatureSpecError",
    "FeatureState",
    "FeatureValue",
    "InMemoryState",
    "IpRanges",
    "SnapshotMismatch",
    "StateBackend",
    "default_definitions",
    "default_engine",
    "default_feature_names",
    "feature_names",
    "ip_facts",
    "ip_prefix",
    "load_ip_ranges",
    "parse_feature",
]
