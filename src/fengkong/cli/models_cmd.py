"""``fengkong models ...``: train, evaluate, list, promote, rollback, monitor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from fengkong.cli.common import lake_field_key, load_settings, settings_options
from fengkong.decisions.types import Stage
from fengkong.events import Event, EventValidationError, Label
from fengkong.models import (
    FEATURE_SETS,
    FeatureSet,
    LabelRiskSpec,
    Model,
    Rows,
    build_rows,
    targets,
)
from fengkong.models.dataset import (
    CONTEXT_FEATURES,
    read_events,
    read_labels,
    store_events,
    store_labels,
)
from fengkong.models.drift import level, psi
from fengkong.models.registry import Registry

if TYPE_CHECKING:
    from fengkong.models.train import TrainConfig

_FILE = click.Path(dir_okay=False, exists=True, path_type=Path)
# --events: a replay file or a Parquet lake directory (fengkong db export).
_EVENTS = click.Path(exists=True, path_type=Path)
_OUT = click.Path(dir_okay=False, path_type=Path)
DAY = 86400.0


def _ts(text: str) -> float:
    dt = datetime.fromisoformat(text)
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def _source(
    events: Path | None,
    labels: Path | None,
    db: Path,
    end: float | None,
    config: Path | None = None,
) -> tuple[Iterator[Event], list[Label]]:
    """Events and labels from a replay file or a Parquet lake, else from the event store
    (its bodies revealed with the deployment's field key, as the serving stages see them)."""
    from fengkong.batch.lake import LakeError, is_lake, lake_events, lake_labels, revealer
    from fengkong.runtime import open_store
    from fengkong.runtime_keys import field_protector

    if events is not None and events.is_dir():
        if not is_lake(events):
            raise click.BadParameter(f"{events} is not a lake", param_hint="--events")
        key = lake_field_key(load_settings(config, db_path=db))
        try:
            labs = read_labels(labels) if labels else lake_labels(events)
        except LakeError as exc:
            raise click.BadParameter(str(exc), param_hint="--events") from None
        return lake_events(events, revealer(key), end), labs
    if events is not None:
        return read_events(events, end), (read_labels(labels) if labels else [])
    settings = load_settings(config, db_path=db)
    store = open_store(settings, field_protector(settings))
    return store_events(store, end), store_labels(store)


def _registry(config: Path | None, db_path: Path | None) -> tuple[Registry, Path]:
    settings = load_settings(config, db_path=db_path)
    from fengkong.runtime import model_store

    return Registry(model_store(settings)), Path(settings.db_path)


def _columns(rows: Rows, model: Model) -> np.ndarray[Any, Any]:
    return model.matrix(rows)


def _fraction_config(
    ts: np.ndarray[Any, Any],
    valid_fraction: float,
    test_fraction: float,
    refit_test: bool,
    **options: Any,
) -> TrainConfig:
    """Periods by share of the events (time order): train, its last ``valid_fraction``
    validates, the last ``test_fraction`` of all events tests; every label is known."""
    from fengkong.models.train import TrainConfig

    if len(ts) < 10:
        raise click.ClickException(f"only {len(ts)} events: too few to train on")
    t = np.sort(ts)
    n = len(t)
    end = float(t[min(n - 1, int(n * (1 - test_fraction)))]) if test_fraction > 0 else t[-1] + 1
    valid = float(t[int(n * (1 - test_fraction) * (1 - valid_fraction))])
    start = float(t[0])
    if not start < valid < end:
        raise click.ClickException(
            "the events' occurred_at times do not spread over training and validation: "
            "give each event its own time, in order"
        )
    return TrainConfig(
        start=start,
        train_days=(end - start) / DAY,
        valid_days=(end - valid) / DAY,
        gap_days=0.0,
        test_days=(float(t[-1]) + 1 - end) / DAY,
        all_labels_known=True,
        refit_test=refit_test and test_fraction > 0,
        **options,
    )


@click.group()
def models() -> None:
    """Fraud models: training, evaluation, registry roles and drift."""


@models.command()
@settings_options
@click.option(
    "--events",
    type=_EVENTS,
    help="Replay file (JSON Lines, time order) or a Parquet lake; default: the store.",
)
@click.option("--labels", type=_FILE, help="Labels (JSON Lines) for --events.")
@click.option(
    "--train-start",
    help="Start of training (ISO, UTC). Without it the periods are shares of the events "
    "(--valid-fraction, --test-fraction) and every label counts as known.",
)
@click.option("--warmup-start", help="Replay from here to warm the features up.")
@click.option("--train-days", type=float, default=7.0, show_default=True)
@click.option("--valid-days", type=float, default=2.0, show_default=True)
@click.option("--gap-days", type=float, default=7.0, show_default=True)
@click.option("--test-days", type=float, default=7.0, show_default=True)
@click.option("--label-delay-days", type=int, default=7, show_default=True)
@click.option("--feature-set", type=click.Choice(sorted(FEATURE_SETS)), default="payments")
@click.option(
    "--features",
    "features_file",
    type=_FILE,
    help="Feature definitions, one per line (feature language; built-in set names too).",
)
@click.option(
    "--known-fraud/--no-known-fraud",
    default=None,
    help="Known-fraud rate inputs (default: on with --feature-set; with --features, on "
    "when the file has a `known_fraud` line).",
)
@click.option("--valid-fraction", type=float, default=0.2, show_default=True)
@click.option("--test-fraction", type=float, default=0.2, show_default=True)
@click.option(
    "--refit-test/--no-refit-test",
    default=True,
    show_default=True,
    help="Without --train-start: after measuring on the test share, refit on all events.",
)
@click.option(
    "--context/--no-context",
    default=False,
    show_default=True,
    help="Also read the graph, flows, links and document features (as serving computes them).",
)
@click.option(
    "--imbalance",
    type=click.Choice(["auto", "none", "sqrt", "balanced"]),
    default="auto",
    show_default=True,
    help="Fraud class weight; auto: none or sqrt, by out-of-sample AP.",
)
@click.option("--threads", type=int, default=2, show_default=True)
@click.option("--html", "html_path", type=_OUT, help="Write the evaluation report here.")
@click.option("--challenger/--champion", default=True, help="Role of the new version.")
def train(
    config: Path | None,
    db_path: Path | None,
    events: Path | None,
    labels: Path | None,
    train_start: str | None,
    warmup_start: str | None,
    train_days: float,
    valid_days: float,
    gap_days: float,
    test_days: float,
    label_delay_days: int,
    feature_set: str,
    features_file: Path | None,
    known_fraud: bool | None,
    valid_fraction: float,
    test_fraction: float,
    refit_test: bool,
    context: bool,
    imbalance: str,
    threads: int,
    html_path: Path | None,
    challenger: bool,
) -> None:
    """Train on point-in-time features, register the model and report its figures."""
    # Training and reporting pull in LightGBM, scikit-learn and matplotlib: only here.
    from fengkong.models.definitions import FeatureFileError, load_feature_file
    from fengkong.models.report import format_table, render_html, top_features
    from fengkong.models.train import TrainConfig, train_model

    if not (0 <= test_fraction < 1 and 0 < valid_fraction < 1):
        raise click.BadParameter("fractions must be in [0, 1)", param_hint="--*-fraction")
    reg, db = _registry(config, db_path)
    texts, in_file = FEATURE_SETS[feature_set], True
    if features_file is not None:
        try:
            texts, in_file = load_feature_file(features_file)
        except FeatureFileError as exc:
            raise click.BadParameter(str(exc), param_hint="--features") from None
    use_risk = in_file if known_fraud is None else known_fraud
    risk = LabelRiskSpec(delay_days=label_delay_days) if use_risk else None
    fs = FeatureSet(texts, risk, CONTEXT_FEATURES if context else ())
    options: dict[str, Any] = {
        "label_delay_days": label_delay_days,
        "imbalance": imbalance,
        "num_threads": threads,
    }
    cfg = None
    if train_start is not None:
        cfg = TrainConfig(
            start=_ts(train_start),
            train_days=train_days,
            valid_days=valid_days,
            gap_days=gap_days,
            test_days=test_days,
            **options,
        )
    try:
        stream, labs = _source(events, labels, db, None if cfg is None else cfg.test_end, config)
        if warmup_start is not None:
            first = _ts(warmup_start)
            stream = (e for e in stream if e.ts >= first)
        rows = build_rows(
            stream,
            labs,
            fs,
            start=None if cfg is None else cfg.start,
            stages=_context(config, db_path, fs),
        )
    except EventValidationError as exc:
        raise click.ClickException(f"bad event or label: {exc}") from None
    if cfg is None:
        cfg = _fraction_config(rows.ts, valid_fraction, test_fraction, refit_test, **options)
    click.echo(f"{len(rows)} point-in-time rows", err=True)
    try:
        res = train_model(rows, labs, fs, cfg)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    info = reg.register(res.model)
    if challenger:
        reg.set_challenger(info.version, author="cli")
    else:
        reg.promote(info.version, author="cli")
    click.echo(format_table(res.model.meta["metrics"]))
    kept = res.model.meta["iteration"]
    click.echo(f"trees kept: {kept['trees']} ({kept['why']}); fitted on {kept['fitted_on']}")
    click.echo(f"registered version {info.version} ({'challenger' if challenger else 'champion'})")
    if html_path is not None and res.test_rows is not None and res.test_y is not None:
        x = _columns(res.test_rows, res.model)
        feats = top_features(res.model.exact_contributions(x[:20000]), res.model.features)
        assert res.test_scores is not None
        html_path.write_text(
            render_html(
                f"fengkong model v{info.version}",
                res.model.meta["metrics"],
                {"test": (res.test_y, res.test_scores)},
                feats,
                {"windows": res.model.meta["windows"], "rows": res.model.meta["rows"]},
            ),
            encoding="utf-8",
        )
        click.echo(f"HTML report: {html_path}")


def _context(config: Path | None, db_path: Path | None, fs: FeatureSet) -> list[Stage] | None:
    """The serving context stages when ``fs`` reads context features (else none)."""
    if not fs.context:
        return None
    from fengkong.runtime import compose

    return compose(load_settings(config, db_path=db_path), "training")


def _period_rows(
    fs: FeatureSet,
    events: Path | None,
    labels: Path | None,
    db: Path,
    start: float,
    end: float,
    stages: list[Stage] | None = None,
    config: Path | None = None,
) -> tuple[Rows, list[Label]]:
    stream, labs = _source(events, labels, db, end, config)
    return build_rows(stream, labs, fs, start=start, stages=stages), labs


@models.command()
@settings_options
@click.option(
    "--events", type=_EVENTS, help="Replay file (JSON Lines) or a Parquet lake; default: the store."
)
@click.option("--labels", type=_FILE)
@click.option("--from", "start", required=True, help="Period start (ISO, UTC).")
@click.option("--to", "end", required=True, help="Period end (ISO, UTC).")
@click.option(
    "--version", "versions", type=int, multiple=True, help="Default: champion, challenger."
)
@click.option("--html", "html_path", type=_OUT)
def evaluate(
    config: Path | None,
    db_path: Path | None,
    events: Path | None,
    labels: Path | None,
    start: str,
    end: str,
    versions: tuple[int, ...],
    html_path: Path | None,
) -> None:
    """Score a period with stored models, side by side (champion vs challenger)."""
    from fengkong.models.report import evaluate_scores, format_table, render_html, top_features

    reg, db = _registry(config, db_path)
    chosen = list(versions) or [
        v for v in (reg.role("champion"), reg.role("challenger")) if v is not None
    ]
    if not chosen:
        raise click.UsageError("no model versions given and no champion or challenger")
    results: dict[str, Any] = {}
    curves = {}
    feats: list[tuple[str, float]] = []
    for v in chosen:
        model = reg.load(v)
        stages = _context(config, db_path, model.feature_set)
        rows, labs = _period_rows(
            model.feature_set, events, labels, db, _ts(start), _ts(end), stages, config
        )
        rows = rows.take(np.asarray([t in model.event_types for t in rows.types]))
        y = targets(rows, labs, None)
        x = _columns(rows, model)
        s = model.predict(x)
        results[f"v{v}"] = evaluate_scores(y, s, rows.ts, rows.user_ids)
        curves[f"v{v}"] = (y, s)
        if not feats:
            feats = top_features(model.exact_contributions(x[:20000]), model.features)
    click.echo(format_table(results))
    if html_path is not None:
        meta = {"period": f"{start} .. {end}", "versions": ", ".join(map(str, chosen))}
        html_path.write_text(
            render_html("fengkong models: comparison", results, curves, feats, meta),
            encoding="utf-8",
        )
        click.echo(f"HTML report: {html_path}")


@models.command(name="list")
@settings_options
def list_(config: Path | None, db_path: Path | None) -> None:
    """Registered versions with their roles and test figures."""
    reg, _ = _registry(config, db_path)
    for row in reg.listing():
        ap = row["test_ap"]
        click.echo(
            f"v{row['version']:<4} {row['role']:<11} {row['features']:>3} features  "
            f"test AP {'-' if ap is None else f'{ap:.3f}'}  {row['digest']}"
        )


@models.command()
@settings_options
@click.argument("version", type=int, required=False)
def promote(config: Path | None, db_path: Path | None, version: int | None) -> None:
    """Make VERSION (default: the challenger) the champion."""
    reg, _ = _registry(config, db_path)
    try:
        click.echo(f"champion: v{reg.promote(version, author='cli')}")
    except (ValueError, KeyError) as exc:
        raise click.ClickException(str(exc)) from None


@models.command()
@settings_options
def rollback(config: Path | None, db_path: Path | None) -> None:
    """Return to the previous champion."""
    reg, _ = _registry(config, db_path)
    try:
        click.echo(f"champion: v{reg.rollback(author='cli')}")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@models.command()
@settings_options
@click.option("--events", type=_EVENTS, help="Replay file or a Parquet lake; default: the store.")
@click.option("--labels", type=_FILE)
@click.option("--from", "start", required=True, help="Live window start (ISO, UTC).")
@click.option("--to", "end", required=True, help="Live window end (ISO, UTC).")
@click.option("--version", type=int, help="Default: the champion.")
@click.option("--json", "as_json", is_flag=True)
def monitor(
    config: Path | None,
    db_path: Path | None,
    events: Path | None,
    labels: Path | None,
    start: str,
    end: str,
    version: int | None,
    as_json: bool,
) -> None:
    """PSI of the score and each feature: live window vs training window."""
    reg, db = _registry(config, db_path)
    v = version if version is not None else reg.role("champion")
    if v is None:
        raise click.UsageError("no champion; give --version")
    model = reg.load(v)
    stages = _context(config, db_path, model.feature_set)
    rows, _ = _period_rows(
        model.feature_set, events, labels, db, _ts(start), _ts(end), stages, config
    )
    rows = rows.take(np.asarray([t in model.event_types for t in rows.types]))
    x = _columns(rows, model)
    live = {n: x[:, j] for j, n in enumerate(model.features)}
    live["score"] = model.predict(x)
    out = {n: psi(ref, live[n]) for n, ref in model.psi_refs.items() if n in live}
    if as_json:
        click.echo(json.dumps(out, indent=1))
    else:
        for n, value in sorted(out.items(), key=lambda kv: -kv[1]):
            click.echo(f"{n:40} PSI {value:7.3f}  {level(value)}")
    if any(level(val) == "alert" for val in out.values()):
        raise SystemExit(1)
