"""Training sets: point-in-time feature vectors joined with labels known at a cut-off.

Events are replayed in time order through the streaming features engine (the same
``FeatureEngine`` the ``features`` stage serves with) and the models' own blocks; labels
are applied to the label-aware block only once their ``at`` time has passed, so a row
never sees a label from its future. Targets are the event labels known at ``as_of``.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from fengkong.decisions.types import DecisionContext, Stage
from fengkong.events import Event, Label, parse_event, parse_label
from fengkong.features import DEFAULT_FEATURES, FeatureEngine, feature_names, parse_feature
from fengkong.identity.device import device_key
from fengkong.models.blocks import (
    DERIVED_DEFINITIONS,
    FeatureValue,
    LabelRiskBlock,
    LabelRiskSpec,
    derived_features,
    derived_names,
)

# General payment-fraud signals: the customer's spending habit and velocity over several
# windows, the merchant's (terminal's) activity; rates of known fraud come from the block.
PAYMENT_FEATURES: tuple[str, ...] = (
    "count(event) by user over 1d",
    "count(event) by user over 7d",
    "count(event) by user over 30d",
    "mean(amount) by user over 1d",
    "mean(amount) by user over 7d",
    "mean(amount) by user over 30d",
    "zscore(amount) by user over 30d",
    "percentile(amount) by user over 30d",
    "count(event) by user over 1h",
    "count(event) by merchant over 1d",
    "count(event) by merchant over 7d",
    "mean(amount) by merchant over 7d",
)

FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "payments": PAYMENT_FEATURES,
    "default": DEFAULT_FEATURES,
}


# The definition text of an input another stage computes (graph, flows, links,
# documents): served by that stage, trained on the same stage (``build_rows(stages=)``).
CONTEXT_DEFINITION = "stage output"
# The context features a model may read: what the graph, flows, links and documents
# stages write, as serving composes them.
CONTEXT_FEATURES: tuple[str, ...] = (
    "graph.cluster_size",
    "graph.cluster_growth_24h",
    "graph.accounts_per_device",
    "graph.fraud_share_2hop",
    "user.received_amount_24h",
    "user.received_transfers_24h",
    "user.received_senders_24h",
    "user.secs_since_received",
    "user.secs_since_risky_qr",
    "document.other_accounts_30d",
)


@dataclass(frozen=True)
class FeatureSet:
    """What a model reads: streaming-feature definitions, the models' own blocks, and
    ``context`` features other stages compute (``CONTEXT_FEATURES``)."""

    definitions: tuple[str, ...]
    label_risk: LabelRiskSpec | None = field(default_factory=LabelRiskSpec)
    context: tuple[str, ...] = ()

    def engine(self) -> FeatureEngine:
        return FeatureEngine(list(self.definitions))

    def definition_texts(self) -> dict[str, str]:
        """Every output name with the text that defines it."""
        out: dict[str, str] = {}
        for text in self.definitions:
            d = parse_feature(text)
            for name in feature_names([d]):
                out[name] = d.text
        names = list(out)
        for name in derived_names(names):
            key = "event.amount" if name == "event.amount" else "user.amount_ratio_"
            out[name] = DERIVED_DEFINITIONS[key]
        if self.label_risk is not None:
            out.update(self.label_risk.definitions())
        for name in self.context:
            out.setdefault(name, CONTEXT_DEFINITION)
        return out

    def names(self) -> list[str]:
        return list(self.definition_texts())

    def categorical(self) -> list[str]:
        """Outputs that are categories (``category(...)``): coded, fed as categorical."""
        return [d.name for d in (parse_feature(t) for t in self.definitions) if d.agg == "category"]

    def own_names(self) -> list[str]:
        """Outputs of the models' own blocks (computed by the stage, not the engine)."""
        engine_names = feature_names([parse_feature(t) for t in self.definitions])
        out = derived_names(engine_names)
        if self.label_risk is not None:
            out += self.label_risk.names()
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "definitions": list(self.definitions),
            "label_risk": None if self.label_risk is None else self.label_risk.to_dict(),
        }
        if self.context:
            out["context"] = list(self.context)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSet:
        lr = data.get("label_risk")
        return cls(
            tuple(data["definitions"]),
            None if lr is None else LabelRiskSpec.from_dict(lr),
            tuple(data.get("context", ())),
        )


def definitions_hash(texts: Mapping[str, str], names: Sequence[str]) -> str:
    """A digest of the definitions of ``names`` (what a model's inputs mean)."""
    h = hashlib.sha256()
    for n in names:
        h.update(f"{n}\t{texts.get(n, '')}\n".encode())
    return h.hexdigest()[:16]


def to_float(value: FeatureValue) -> float:
    """A feature value as a model input: unknown (None) and text become NaN."""
    if value is None or isinstance(value, str):
        return float("nan")
    return float(value)


@dataclass
class Rows:
    """Feature rows of events in time order, with what identifies each event.

    Categorical columns are NaN in ``x``; their text is in ``text`` (see :func:`encode`).
    """

    names: list[str]
    x: np.ndarray[Any, np.dtype[np.float64]]
    ts: np.ndarray[Any, np.dtype[np.float64]]
    event_ids: list[str]
    user_ids: list[str]
    types: list[str]
    digest: str
    text: dict[str, list[str | None]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.event_ids)

    def take(self, mask: np.ndarray[Any, np.dtype[np.bool_]]) -> Rows:
        idx = np.flatnonzero(mask)
        return Rows(
            self.names,
            self.x[idx],
            self.ts[idx],
            [self.event_ids[i] for i in idx],
            [self.user_ids[i] for i in idx],
            [self.types[i] for i in idx],
            self.digest,
            {n: [col[i] for i in idx] for n, col in self.text.items()},
        )


# At most this many categories per input keep a code; rarer ones read as unknown.
MAX_CATEGORIES = 1000


def fit_categories(rows: Rows, mask: np.ndarray[Any, np.dtype[np.bool_]]) -> dict[str, list[str]]:
    """Each categorical input's categories seen in the ``mask`` rows, most frequent first
    (code = position). Values never seen there are unknown (NaN) wherever they appear."""
    out: dict[str, list[str]] = {}
    idx = np.flatnonzero(mask)
    for name, col in rows.text.items():
        counts: dict[str, int] = {}
        for i in idx:
            v = col[i]
            if v is not None:
                counts[v] = counts.get(v, 0) + 1
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        out[name] = [v for v, _ in ranked[:MAX_CATEGORIES]]
    return out


def encode(
    rows: Rows, names: Sequence[str], categories: Mapping[str, Sequence[str]]
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The matrix of ``names`` (in that order) with categories as codes; absent: NaN."""
    x = np.full((len(rows), len(names)), np.nan)
    for j, n in enumerate(names):
        if n in categories and n in rows.text:
            codes = {v: float(c) for c, v in enumerate(categories[n])}
            x[:, j] = [codes.get(v, np.nan) if v is not None else np.nan for v in rows.text[n]]
        elif n in rows.names:
            x[:, j] = rows.x[:, rows.names.index(n)]
    return x


class PointInTime:
    """Features of one event from state before it; the models' online and offline path."""

    def __init__(self, fs: FeatureSet, engine: FeatureEngine | None = None) -> None:
        self.fs = fs
        self.engine = engine
        self.block = None if fs.label_risk is None else LabelRiskBlock(fs.label_risk)

    def add_label(self, label: Label) -> None:
        if self.block is not None:
            self.block.add_label(label.event_id, label.label)

    def model_features(
        self, event: Event, features: Mapping[str, FeatureValue], out: dict[str, FeatureValue]
    ) -> None:
        """The models' own features, given the streaming features already computed."""
        self.read_features(event, features, out)
        if self.block is not None:
            self.block.observe(event)

    def read_features(
        self, event: Event, features: Mapping[str, FeatureValue], out: dict[str, FeatureValue]
    ) -> None:
        """:meth:`model_features` without adding the event to the block (a read)."""
        derived_features(event, features, out)
        if self.block is not None:
            self.block.compute(event, out)

    def row(self, event: Event) -> dict[str, FeatureValue]:
        """Everything for ``event`` (offline: runs the features engine too)."""
        assert self.engine is not None, "offline rows need a features engine"
        out: dict[str, FeatureValue] = self.engine.compute(event, device_key(event.device)[0])
        self.model_features(event, out, out)
        return out


def merge_in_time(
    events: Iterable[Event], labels: Iterable[Label]
) -> Iterator[tuple[Event | None, Label | None]]:
    """Events with the labels known before each, in time order (labels first on ties)."""
    pending = sorted(labels, key=lambda lb: lb.at)
    i = 0
    for event in events:
        ts = event.ts
        while i < len(pending) and pending[i].at.timestamp() <= ts:
            yield None, pending[i]
            i += 1
        yield event, None


def build_rows(
    events: Iterable[Event],
    labels: Iterable[Label],
    fs: FeatureSet,
    *,
    start: float | None = None,
    types: frozenset[str] | None = None,
    stages: Sequence[Stage] | None = None,
) -> Rows:
    """Replay ``events`` (time order) and keep the rows of those at or after ``start``.

    Events before ``start`` only warm the state up; ``types`` keeps only those event types.
    ``stages``: the context stages as serving composes them (``compose(settings,
    "training")``), run on every event before its row, so ``fs.context`` features are
    what serving computes; required when ``fs.context`` is not empty.
    """
    if fs.context and stages is None:
        raise ValueError("a feature set with context features needs the context stages")
    pit = PointInTime(fs, fs.engine())
    names = fs.names()
    text: dict[str, list[str | None]] = {n: [] for n in fs.categorical()}
    rows: list[list[float]] = []
    ts: list[float] = []
    ids: list[str] = []
    users: list[str] = []
    kinds: list[str] = []
    h = hashlib.sha256()
    for event, label in merge_in_time(events, labels):
        if label is not None:
            pit.add_label(label)
            continue
        assert event is not None
        values = pit.row(event)
        if stages is not None:
            ctx = DecisionContext(event)
            for stage in stages:
                stage.run(ctx)  # read, then update: the state before the next event
            for name in fs.context:
                values[name] = ctx.features.get(name)
        if (start is not None and event.ts < start) or (
            types is not None and event.type.value not in types
        ):
            continue
        rows.append([to_float(values.get(n)) for n in names])
        for n, col in text.items():
            v = values.get(n)
            col.append(v if isinstance(v, str) else None)
        ts.append(event.ts)
        ids.append(event.event_id)
        users.append(event.user_id)
        kinds.append(event.type.value)
        h.update(event.event_id.encode())
    x = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(names))
    return Rows(names, x, np.asarray(ts), ids, users, kinds, h.hexdigest()[:16], text)


def targets(
    rows: Rows, labels: Iterable[Label], as_of: float | None
) -> np.ndarray[Any, np.dtype[np.int8]]:
    """1 for events with a fraud label known at ``as_of`` (None: every label), else 0."""
    latest: dict[str, tuple[float, str]] = {}
    for lb in labels:
        at = lb.at.timestamp()
        if lb.event_id is None or (as_of is not None and at > as_of):
            continue
        prev = latest.get(lb.event_id)
        if prev is None or at >= prev[0]:
            latest[lb.event_id] = (at, lb.label)
    return np.fromiter(
        (latest.get(e, (0.0, "legit"))[1] == "fraud" for e in rows.event_ids),
        dtype=np.int8,
        count=len(rows),
    )


def read_events(path: Path, end: float | None = None) -> Iterator[Event]:
    """Events of a JSON Lines replay file (time order), stopping at ``end``."""
    with path.open("rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            event = parse_event(orjson.loads(line))
            if end is not None and event.ts >= end:
                return
            yield event


def read_labels(path: Path) -> list[Label]:
    with path.open("rb") as fh:
        return [parse_label(orjson.loads(line)) for line in fh if line.strip()]


def store_events(store: Any, end: float | None = None) -> Iterator[Event]:
    """Events of the embedded store, in acceptance order (= time order for replays)."""
    for body in store.events():
        event = parse_event(orjson.loads(body))
        if end is not None and event.ts >= end:
            continue
        yield event


def store_labels(store: Any) -> list[Label]:
    out = []
    for r in store.labels():
        at = datetime.fromtimestamp(r.at, UTC) if isinstance(r.at, float | int) else r.at
        data: dict[str, Any] = {"label": r.label, "source": r.source, "at": at}
        data["event_id" if r.event_id is not None else "user_id"] = r.event_id or r.user_id
        if r.scenario:
            data["scenario"] = r.scenario
        out.append(Label.model_validate(data))
    return out


def merge_sorted(*streams: Iterable[Event]) -> Iterator[Event]:
    """Several time-ordered event streams as one."""
    return heapq.merge(*streams, key=lambda e: e.ts)
