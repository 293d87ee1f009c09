"""``fengkong prune``: drop events past the retention (archived to Parquet first if asked)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from fengkong.cli.common import load_settings, operator, settings_options


def _cutoff(before: datetime | None, retention_days: float) -> datetime:
    if before is not None:
        return before if before.tzinfo is not None else before.replace(tzinfo=UTC)
    if retention_days <= 0:
        raise click.UsageError("give --before DATE (or set retention_days in the settings)")
    return datetime.now(UTC) - timedelta(days=retention_days)


@click.command()
@settings_options
@click.option(
    "--before",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="Drop events that occurred before this date (UTC) [default: now - retention_days].",
)
@click.option(
    "--archive",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the pruned events, decisions and explanations to this Parquet file first.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def prune(
    config: Path | None,
    db_path: Path | None,
    before: datetime | None,
    archive: Path | None,
    quiet: bool,
) -> None:
    """Remove stored events (and their decisions) older than a date; print what was done."""
    from tqdm import tqdm

    from fengkong.audit.actor import current_actor
    from fengkong.storage import SQLiteStore

    settings = load_settings(config, db_path=db_path)
    cutoff = _cutoff(before, settings.retention_days)
    if archive is not None and archive.exists():
        raise click.UsageError(f"{archive} exists: give a new file")
    store = SQLiteStore(settings.db_path, settings.sqlite_synchronous)
    current_actor.set(operator())
    try:
        with tqdm(desc="archiving", unit="event", disable=quiet or archive is None) as bar:
            report = store.prune(
                cutoff.timestamp(), archive=archive, progress=lambda n: bar.update(n)
            )
    finally:
        store.close()
    click.echo(json.dumps({**report.as_dict(), "before_utc": cutoff.isoformat()}, indent=2))
