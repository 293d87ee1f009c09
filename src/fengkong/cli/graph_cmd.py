"""``fengkong graph``: batch ring mining, fund tracing and ring export."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import click

from fengkong.cli.common import lake_field_key, load_settings, settings_options
from fengkong.graph.mining import MineParams, mine, summarise
from fengkong.graph.rings import read_rings, render_png, write_rings
from fengkong.graph.shapes import ShapeParams
from fengkong.graph.tables import (
    GraphTables,
    fraud_accounts,
    read_events,
    read_fraud_accounts,
)
from fengkong.graph.trace import FlowIndex, trace

_PATH = click.Path(path_type=Path, dir_okay=False)
_EXISTING = click.Path(path_type=Path, dir_okay=False, exists=True)


@click.group("graph")
def graph() -> None:
    """Gang mining (团伙挖掘): rings over shared identifiers and money flows."""


@graph.command("mine")
@settings_options
@click.option(
    "--events",
    "events_path",
    type=click.Path(path_type=Path, exists=True),
    required=True,
    help="events JSONL, or a Parquet lake directory (fengkong db export)",
)
@click.option("--out", "out_path", type=_PATH, required=True, help="rings JSON to write")
@click.option("--labels", "labels_path", type=_EXISTING, help="labels JSONL (account labels)")
@click.option(
    "--png-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="also draw the top rings of each kind here",
)
@click.option("--png-top", type=int, default=3, show_default=True)
@click.option(
    "--window-hours",
    type=float,
    default=168.0,
    show_default=True,
    help="time window of a money shape",
)
@click.option("--min-accounts", type=int, default=3, show_default=True)
@click.option("--detectors", default="community,dense_block,shapes", show_default=True)
@click.option(
    "--ray",
    "ray_address",
    default=None,
    help="Read a lake's files as Ray tasks: 'local' starts a local Ray, else a cluster "
    "address (ray://host:10001, auto).",
)
def mine_cmd(
    config: Path | None,
    db_path: Path | None,
    events_path: Path,
    out_path: Path,
    labels_path: Path | None,
    png_dir: Path | None,
    png_top: int,
    window_hours: float,
    min_accounts: int,
    detectors: str,
    ray_address: str | None,
) -> None:
    """Find rings in an event log and write them (members, evidence, score) as JSON.

    A lake's labels are used when no --labels is given.
    """
    t0 = time.perf_counter()
    tables, fraud = _tables(events_path, labels_path, ray_address, config, db_path)
    params = MineParams(
        shapes=replace(ShapeParams(), window=window_hours * 3600.0),
        min_accounts=min_accounts,
        detectors=tuple(d.strip() for d in detectors.split(",") if d.strip()),
    )
    rings = mine(tables, params, fraud)
    took = time.perf_counter() - t0
    summary = summarise(rings)
    write_rings(
        rings, out_path, {"events": str(events_path), "seconds": round(took, 3), "summary": summary}
    )
    if png_dir is not None:
        png_dir.mkdir(parents=True, exist_ok=True)
        shown: dict[str, int] = {}
        for r in rings:
            if shown.get(r.kind, 0) < png_top:
                shown[r.kind] = shown.get(r.kind, 0) + 1
                render_png(r, png_dir / f"{r.ring_id}.png", fraud)
    click.echo(f"{len(rings)} rings in {took:.2f} s -> {out_path}")
    for kind, s in summary.items():
        click.echo(f"  {kind:15s} {s['rings']:6d} rings {s['accounts']:7d} accounts")


def _tables(
    events_path: Path,
    labels_path: Path | None,
    ray_address: str | None,
    config: Path | None,
    db_path: Path | None,
) -> tuple[GraphTables, set[str] | None]:
    """Graph tables and fraud accounts of a JSON Lines file or a lake (locally or on Ray)."""
    from fengkong.batch.lake import LakeError, is_lake, lake_events, lake_labels, revealer
    from fengkong.events.protect import SealError

    fraud = read_fraud_accounts(labels_path) if labels_path else None
    if not events_path.is_dir():
        if ray_address is not None:
            raise click.UsageError("--ray reads a lake: give --events a lake directory")
        return GraphTables.from_events(read_events(events_path)), fraud
    if not is_lake(events_path):
        raise click.UsageError(f"--events: {events_path} is not a lake (fengkong db export)")
    key = lake_field_key(load_settings(config, db_path=db_path))
    try:
        if fraud is None:
            labels = lake_labels(events_path)
            fraud = fraud_accounts(labels) if labels else None
        if ray_address is None:
            return GraphTables.from_events(lake_events(events_path, revealer(key))), fraud
        from fengkong.batch.ray_jobs import graph_tables_on_ray

        address = None if ray_address == "local" else ray_address
        return graph_tables_on_ray(events_path, key, address=address), fraud
    except (LakeError, SealError) as exc:
        raise click.UsageError(f"--events: {exc}") from None


@graph.command("trace")
@click.option("--events", "events_path", type=_EXISTING, required=True, help="events JSONL")
@click.option("--event-id", required=True, help="the credit_draw (or other money event)")
@click.option("--hops", type=int, default=3, show_default=True)
@click.option("--window-hours", type=float, default=168.0, show_default=True)
@click.option("--out", "out_path", type=_PATH, help="write the trace JSON here")
def trace_cmd(
    events_path: Path, event_id: str, hops: int, window_hours: float, out_path: Path | None
) -> None:
    """Follow a credit draw's money over k time-respecting hops; report where it lands."""
    tables = GraphTables.from_events(read_events(events_path))
    index = FlowIndex(tables.money)
    try:
        origin, amount, ts = index.draw(event_id)
    except KeyError as exc:
        raise click.ClickException(str(exc)) from None
    res = trace(index, origin, amount, ts, hops=hops, window=window_hours * 3600.0).to_dict()
    text = json.dumps(res, indent=1, ensure_ascii=False)
    if out_path is not None:
        out_path.write_text(text)
    click.echo(f"{origin} drew {amount:.2f}; landed by kind: {res['landed_by_kind']}")
    for land in res["landings"][:10]:
        click.echo(
            f"  {land['amount']:12.2f}  {land['kind']:10s} {land['node']}  "
            f"after {land['hops']} hop(s): {' -> '.join(land['path'])}"
        )


@graph.command("export")
@click.option("--rings", "rings_path", type=_EXISTING, required=True)
@click.option("--ring", "ring_id", required=True)
@click.option("--json", "json_path", type=_PATH, help="ring JSON to write")
@click.option("--png", "png_path", type=_PATH, help="picture of the ring's subgraph")
def export_cmd(
    rings_path: Path, ring_id: str, json_path: Path | None, png_path: Path | None
) -> None:
    """Export one ring as JSON and/or a PNG picture (a case's evidence)."""
    by_id = {r.ring_id: r for r in read_rings(rings_path)}
    ring = by_id.get(ring_id)
    if ring is None:
        raise click.ClickException(f"no ring {ring_id!r} in {rings_path}")
    if json_path is not None:
        json_path.write_text(json.dumps(ring.to_dict(), indent=1, ensure_ascii=False))
    if png_path is not None:
        render_png(ring, png_path)
    click.echo(f"{ring.ring_id}: {ring.kind}, {len(ring.members)} accounts, score {ring.score:.4g}")
