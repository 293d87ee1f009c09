"""Fraud models: point-in-time training sets, LightGBM training, compiled scoring with
reason codes, an anomaly score, a champion/challenger registry and PSI drift."""

from fengkong.models.blocks import LabelRiskBlock, LabelRiskSpec
from fengkong.models.dataset import (
    FEATURE_SETS,
    PAYMENT_FEATURES,
    FeatureSet,
    PointInTime,
    Rows,
    build_rows,
    targets,
)
from fengkong.models.drift import ALERT_AT, WARN_AT, LiveDrift, psi
from fengkong.models.model import Model, ModelLoadError, Scored
from fengkong.models.train import TrainConfig, TrainResult, train_model

__all__ = [
    "ALERT_AT",
    "FEATURE_SETS",
    "PAYMENT_FEATURES",
    "WARN_AT",
    "FeatureSet",
    "LabelRiskBlock",
    "LabelRiskSpec",
    "LiveDrift",
    "Model",
    "ModelLoadError",
    "PointInTime",
    "Rows",
    "Scored",
    "TrainConfig",
    "TrainResult",
    "build_rows",
    "psi",
    "targets",
    "train_model",
]
