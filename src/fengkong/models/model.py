"""A trained model as served: booster, calibration, compiled trees, anomaly forest, drift bins.

An artefact is a directory: ``model.txt`` (LightGBM's own text format) and ``meta.json``
(everything else: features and their definitions, calibration, the isolation forest as
flat arrays, PSI references, training window, hashes, metrics). Loading compiles both
ensembles; nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import lightgbm as lgb

from fengkong.models.compiled import CompiledEnsemble, FlatTree, lightgbm_trees, sigmoid
from fengkong.models.dataset import FeatureSet, Rows, definitions_hash, encode
from fengkong.models.drift import Reference
from fengkong.models.reasons import describe


class ModelLoadError(RuntimeError):
    """The model cannot serve here (missing or changed feature definitions, bad files)."""


@dataclass
class Anomaly:
    """Isolation forest over the feature vector, compiled; missing values get medians."""

    trees: list[FlatTree]
    columns: list[int]
    medians: list[float]
    norm: float
    _ens: CompiledEnsemble | None = field(default=None, repr=False)

    def ensemble(self) -> CompiledEnsemble:
        if self._ens is None:
            self._ens = CompiledEnsemble(self.trees, len(self.columns))
        return self._ens

    def score(self, x: Sequence[float]) -> float:
        """In (0, 1]: ~0.5 ordinary, toward 1 isolated (scikit-learn's ``-score_samples``)."""
        row = []
        for c, med in zip(self.columns, self.medians, strict=True):
            v = x[c]
            row.append(med if v != v else v)
        # scikit-learn compares float32 inputs with its thresholds: round the same way.
        row = np.asarray(row, dtype=np.float32).tolist()
        ens = self.ensemble()
        depth = ens.raw(row) / max(1, ens.n_trees)
        return float(2.0 ** (-depth / self.norm)) if self.norm > 0 else 0.5

    def to_dict(self) -> dict[str, Any]:
        return {
            "trees": [t.__dict__ for t in self.trees],
            "columns": self.columns,
            "medians": self.medians,
            "norm": self.norm,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Anomaly:
        return cls([FlatTree(**t) for t in d["trees"]], d["columns"], d["medians"], d["norm"])


@dataclass
class Scored:
    """One event's scores and its top reasons."""

    score: float
    raw: float
    anomaly: float | None
    reasons: list[tuple[str, str, str, float]]  # (code, detail, feature, contribution)


class Model:
    """A trained fraud model: calibrated probability, reasons, anomaly score."""

    def __init__(
        self, booster: lgb.Booster, meta: dict[str, Any], anomaly: Anomaly | None = None
    ) -> None:
        self.booster = booster
        self.meta = meta
        self.features: list[str] = list(meta["features"])
        self.feature_set = FeatureSet.from_dict(meta["feature_set"])
        self.event_types = frozenset(meta["event_types"])
        self.platt: tuple[float, float] = (float(meta["platt"][0]), float(meta["platt"][1]))
        self.anomaly = anomaly
        self.trees = CompiledEnsemble(lightgbm_trees(booster.dump_model()), len(self.features))
        self.psi_refs = {n: Reference(**r) for n, r in meta.get("psi", {}).items()}
        # Categorical inputs: text -> code as in training; a value not seen there is NaN.
        self.categories: dict[str, list[str]] = dict(meta.get("categories", {}))
        self._codes = {
            n: {v: float(c) for c, v in enumerate(vals)} for n, vals in self.categories.items()
        }

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unsaved"))

    def calibrate(self, raw: float) -> float:
        a, b = self.platt
        return sigmoid(a * raw + b)

    def vector(
        self, values: Mapping[str, Any], more: Mapping[str, Any] | None = None
    ) -> list[float]:
        """The input row: each feature from ``values``, else from ``more``; unknown -> NaN."""
        out = []
        nan = float("nan")
        codes = self._codes
        for n in self.features:
            v = values.get(n)
            if v is None and more is not None:
                v = more.get(n)
            if v is None:
                out.append(nan)
            elif isinstance(v, str):
                table = codes.get(n)
                out.append(nan if table is None else table.get(v, nan))
            else:
                out.append(float(v))
        return out

    def matrix(self, rows: Rows) -> np.ndarray[Any, np.dtype[np.float64]]:
        """The input matrix of training-set rows (categories coded as in training)."""
        return encode(rows, self.features, self.categories)

    def score_vector(self, x: Sequence[float], reasons: int = 3) -> Scored:
        """Score one row with the compiled trees; ``reasons`` top contributions."""
        raw = self.trees.raw(x)
        top = self.reasons(x, reasons) if reasons > 0 else []
        anomaly = self.anomaly.score(x) if self.anomaly is not None else None
        return Scored(self.calibrate(raw), raw, anomaly, top)

    def reasons(self, x: Sequence[float], n: int = 3) -> list[tuple[str, str, str, float]]:
        """The ``n`` largest positive path contributions as (code, detail, feature, value)."""
        contrib = self.trees.contributions(x)
        top: list[tuple[str, str, str, float]] = []
        for i in np.argsort(-contrib)[:n]:
            c = float(contrib[i])
            if c <= 0:
                break
            name = self.features[i]
            code, detail = describe(name, x[i])
            cats = self.categories.get(name)
            if cats is not None:  # say the category, not its code
                v = x[i]
                text = cats[int(v)] if v == v and 0 <= v < len(cats) else "unknown"
                code, detail = "model_signal", f"{name} = {text}"
            top.append((code, detail, name, c))
        return top

    def predict(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Calibrated probabilities of many rows (LightGBM's batch path)."""
        raw = np.asarray(self.booster.predict(x, raw_score=True), dtype=np.float64)
        a, b = self.platt
        return 1.0 / (1.0 + np.exp(-(a * raw + b)))

    def exact_contributions(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """TreeSHAP contributions (LightGBM ``pred_contrib``); last column is the bias."""
        return np.asarray(self.booster.predict(x, pred_contrib=True))

    def check_features(self, defined: Mapping[str, str]) -> None:
        """Refuse to serve when an input is undefined or defined differently than trained.

        ``defined``: feature name -> definition text, of the serving features engine and
        the models' blocks (``FeatureSet.definition_texts()`` of the serving engine).
        """
        trained: dict[str, str] = self.meta["feature_definitions"]
        missing = [n for n in self.features if n not in defined]
        changed = [n for n in self.features if n in defined and defined[n] != trained.get(n)]
        if missing or changed:
            parts = []
            if missing:
                parts.append(f"not defined: {', '.join(missing)}")
            if changed:
                parts.append(f"defined differently: {', '.join(changed)}")
            raise ModelLoadError(f"model {self.version} cannot serve; features " + "; ".join(parts))

    # --- artefacts -------------------------------------------------------------------

    def save(self, directory: Path) -> str:
        """Write the artefact; returns its content digest."""
        directory.mkdir(parents=True, exist_ok=True)
        text = self.booster.model_to_string()
        (directory / "model.txt").write_text(text, encoding="utf-8")
        meta = dict(self.meta)
        if self.anomaly is not None:
            meta["anomaly"] = self.anomaly.to_dict()
        body = json.dumps(meta, sort_keys=True)
        (directory / "meta.json").write_text(body, encoding="utf-8")
        return artefact_digest(directory)

    @classmethod
    def load(cls, directory: Path) -> Model:
        try:
            text = (directory / "model.txt").read_text(encoding="utf-8")
            meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot read model artefact in {directory}: {exc}") from None
        anomaly = Anomaly.from_dict(meta.pop("anomaly")) if meta.get("anomaly") else None
        import lightgbm as lgb  # loaded on first use: serving runs the compiled trees

        return cls(lgb.Booster(model_str=text), meta, anomaly)


def artefact_digest(directory: Path) -> str:
    """Digest of an artefact's files (what the registry checks before loading)."""
    h = hashlib.sha256()
    for name in ("model.txt", "meta.json"):
        h.update((directory / name).read_bytes())
    return h.hexdigest()[:16]


def build_meta(
    *,
    features: list[str],
    feature_set: FeatureSet,
    event_types: list[str],
    platt: tuple[float, float],
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    texts = feature_set.definition_texts()
    return {
        "features": features,
        "feature_set": feature_set.to_dict(),
        "feature_definitions": {n: texts.get(n, "") for n in features},
        "definitions_hash": definitions_hash(texts, features),
        "event_types": event_types,
        "platt": list(platt),
        **extra,
    }


def finite(x: float) -> float | None:
    return None if math.isnan(x) or math.isinf(x) else x
