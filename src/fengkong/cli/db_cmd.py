"""``fengkong db``: check a database file, salvage a damaged one."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from fengkong.cli.common import load_settings, settings_options
from fengkong.storage.repair import check, recover
from fengkong.storage.retention import storage_size

_DB = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def db() -> None:
    """Check, recover, measure, migrate and export the event store."""


@db.command("check")
@click.option("--db", "db_path", type=_DB, required=True, help="SQLite database to check.")
@click.option("--full", is_flag=True, help="integrity_check (slower, checks indexes too).")
def check_cmd(db_path: Path, full: bool) -> None:
    """Report what SQLite finds damaged; exit 1 if anything."""
    problems = check(db_path, full=full)
    if not problems:
        click.echo(f"{db_path}: ok")
        return
    click.echo(f"{db_path}: {len(problems)} problem(s)", err=True)
    for problem in problems:
        click.echo(f"  {problem}", err=True)
    click.echo(f"salvage with: fengkong db recover --db {db_path} --out NEW.db", err=True)
    sys.exit(1)


@db.command("recover")
@click.option("--db", "db_path", type=_DB, required=True, help="Damaged SQLite database.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="New file."
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def recover_cmd(db_path: Path, out: Path, quiet: bool) -> None:
    """Copy every readable row into --out; print what was recovered and what was lost."""
    if out.exists():
        raise click.UsageError(f"{out} exists: give a new file")
    report = recover(db_path, out, progress=not quiet)
    click.echo(json.dumps(report.as_dict(), indent=2))
    problems = check(out)
    click.echo(f"{out}: {'ok' if not problems else '; '.join(problems)}", err=True)


@db.command("migrate")
@click.option("--db", "db_path", type=_DB, required=True, help="Embedded SQLite database.")
@click.option("--to", "url", required=True, help="postgresql://user:password@host:port/db")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def migrate_cmd(db_path: Path, url: str, quiet: bool) -> None:
    """Copy the events, decisions, labels and audit chain into an empty PostgreSQL database.

    Rules, lists, models and keys stay in the file; serve with storage.backend =
    postgres and storage.url = the same URL afterwards (docs/deployment.md).
    """
    from tqdm import tqdm

    from fengkong.storage.move import TargetNotEmpty, copy_to_postgres, count_rows
    from fengkong.storage.pg import is_postgres_url

    if not is_postgres_url(url):
        raise click.UsageError("--to: a postgresql:// URL")
    total = sum(count_rows(db_path).values())
    with tqdm(total=total, unit="row", disable=quiet, file=sys.stderr, desc="copying") as bar:
        try:
            copied = copy_to_postgres(db_path, url, bar.update)
        except TargetNotEmpty as exc:
            raise click.ClickException(f"--to: {exc}") from None
    click.echo(json.dumps(copied, indent=2))


@db.command("size")
@click.option("--db", "db_path", type=_DB, required=True, help="SQLite database to measure.")
def size_cmd(db_path: Path) -> None:
    """Bytes stored per event: the whole file and each table with its indexes."""
    click.echo(json.dumps(storage_size(db_path), indent=2))


@db.command("export")
@settings_options
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="New directory: the Parquet lake (docs/deployment.md, 'Batch work at scale').",
)
@click.option(
    "--events",
    "events_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Export this replay file (JSON Lines) instead of the store.",
)
@click.option(
    "--labels",
    "labels_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Labels (JSON Lines) that go with --events.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def export_cmd(
    config: Path | None,
    db_path: Path | None,
    out: Path,
    events_path: Path | None,
    labels_path: Path | None,
    quiet: bool,
) -> None:
    """Write the events and labels as a Parquet lake that batch jobs read (Ray, Spark, DuckDB).

    Bodies keep their protected fields sealed, as the store keeps them.
    """
    from tqdm import tqdm

    from fengkong.batch.lake import LakeError, export_jsonl
    from fengkong.events import EventValidationError

    if labels_path is not None and events_path is None:
        raise click.UsageError("--labels goes with --events")
    with tqdm(desc="exporting", unit="event", disable=quiet, file=sys.stderr) as bar:
        try:
            if events_path is not None:
                report = export_jsonl(events_path, labels_path, out, bar.update)
            else:
                report = _export_store(config, db_path, out, bar.update)
        except LakeError as exc:
            raise click.UsageError(f"--out: {exc}") from None
        except EventValidationError as exc:
            raise click.ClickException(f"{events_path}: {exc}") from None
    click.echo(json.dumps(report, indent=2))


def _export_store(
    config: Path | None, db_path: Path | None, out: Path, progress: Callable[[int], object]
) -> dict[str, Any]:
    from fengkong.batch.lake import export_store
    from fengkong.runtime import open_store
    from fengkong.runtime_keys import field_protector

    settings = load_settings(config, db_path=db_path)
    if settings.storage.backend == "sqlite" and not Path(settings.db_path).exists():
        raise click.UsageError(f"--db: {settings.db_path} does not exist")
    protector = field_protector(settings)
    store = open_store(settings, protector)
    try:
        return export_store(store, out, protector.seal, progress)
    finally:
        store.close()
