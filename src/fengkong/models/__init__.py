"""Fraud models: point-in-time training sets, LightGBM training, compiled scoring with
reason codes, an anomaly score, a champion/challenger registry and PSI drift."""

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from fengkong.models.train import TrainConfig, TrainResult, train_model


def __getattr__(name: str) -> Any:
    # Training needs LightGBM and scikit-learn; serving (compiled trees) needs neither,
    # so they load on first use and `fengkong serve` / `decide` start faster.
    if name in {"TrainConfig", "TrainResult", "train_model"}:
        from fengkong.models import train

        return getattr(train, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
