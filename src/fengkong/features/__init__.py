"""Streaming features: windowed aggregates, per-user baselines and geo-velocity."""

from fengkong.features.spec import (
    DEFAULT_FEATURES,
    FeatureDef,
    FeatureSpecError,
    default_definitions,
    default_feature_names,
    feature_names,
    parse_feature,
)

__all__ = [
    "DEFAULT_FEATURES",
    "FeatureDef",
    "FeatureSpecError",
    "default_definitions",
    "default_feature_names",
    "feature_names",
    "parse_feature",
]
