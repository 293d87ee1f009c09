"""``fengkong features``: list the feature set, export point-in-time features offline."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from fengkong.cli.common import load_settings
from fengkong.decisions.types import DecisionContext
from fengkong.events import parse_event
from fengkong.features import FeatureEngine, default_feature_names, parse_feature
from fengkong.features.spec import DEFAULT_FEATURES
from fengkong.runtime import compose


def _definitions(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


@click.group()
def features() -> None:
    """Streaming features: the definitions and offline export."""


@features.command("list")
@click.option("--definitions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def list_cmd(definitions: Path | None) -> None:
    """Print each feature name with the definition that produces it."""
    texts = _definitions(definitions) or list(DEFAULT_FEATURES)
    for text in texts:
        d = parse_feature(text)
        click.echo(f"{', '.join(d.outputs):45s}  {d.text}")
    if definitions is None:
        click.echo(f"# {len(default_feature_names())} default features", err=True)


@features.command("export")
@click.argument("events", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--definitions",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="file of feature definitions, one a line (default: the default set)",
)
@click.option(
    "--ip-ranges",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="data-centre ranges CSV (start,end,name); adds the enrich facts as columns",
)
@click.option("--batch-rows", default=100_000, show_default=True)
def export_cmd(
    events: Path, out: Path, definitions: Path | None, ip_ranges: Path | None, batch_rows: int
) -> None:
    """Compute features for every event of EVENTS.jsonl (in time order) into Parquet.

    The same code as online serving: each row holds the values before its event.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    engine = FeatureEngine(_definitions(definitions))
    # The serving composition (enrich, links, features, flows, documents, graph): the
    # export has every feature a rule or model reads online, from the same code.
    stages = compose(load_settings(None), "export", ip_ranges_path=ip_ranges, features=engine)
    rows: list[dict[str, Any]] = []
    writer: Any = None
    schema: Any = None
    n = 0

    def flush() -> None:
        nonlocal writer, schema
        if not rows:
            return
        table = pa.Table.from_pylist(rows, schema=schema)
        if writer is None:
            schema = table.schema
            writer = pq.ParquetWriter(str(out), schema)
        writer.write_table(table)
        rows.clear()

    with (
        events.open("rb") as fh,
        tqdm(
            total=events.stat().st_size, unit="B", unit_scale=True, desc="features", file=sys.stderr
        ) as bar,
    ):
        for lineno, line in enumerate(fh, start=1):
            bar.update(len(line))
            if not line.strip():
                continue
            try:
                event = parse_event(line)
            except ValueError as exc:
                raise click.ClickException(f"{events}:{lineno}: {exc}") from None
            ctx = DecisionContext(event)
            for stage in stages:
                stage.run(ctx)
            row: dict[str, Any] = {
                "event_id": event.event_id,
                "type": event.type.value,
                "user_id": event.user_id,
                "occurred_at": event.occurred_at,
            }
            if ip_ranges is not None:
                row.update(ctx.facts)
            row.update(ctx.features)
            rows.append(row)
            n += 1
            if len(rows) >= batch_rows:
                flush()
    flush()
    if writer is not None:
        writer.close()
    click.echo(f"{n} events, {len(row) - 4 if n else 0} columns of values -> {out}", err=True)
