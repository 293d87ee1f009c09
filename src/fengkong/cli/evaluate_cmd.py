"""``fengkong evaluate``: decisions judged against labels, as a table and an HTML report."""

from __future__ import annotations

import json
from pathlib import Path

import click

from fengkong.evaluation import evaluate_files, format_table, write_html

_FILE = click.Path(dir_okay=False, exists=True, path_type=Path)


@click.command()
@click.option("--events", type=_FILE, required=True, help="Events (JSON Lines, time order).")
@click.option("--labels", type=_FILE, required=True, help="Labels (JSON Lines).")
@click.option("--decisions", type=_FILE, required=True, help="Decisions (JSON Lines).")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a self-contained HTML report here.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the figures as JSON here.",
)
def evaluate(
    events: Path, labels: Path, decisions: Path, html_path: Path | None, json_path: Path | None
) -> None:
    """Recall per scenario, money saved, honest users' false positives, latency."""
    ev = evaluate_files(events, labels, decisions)
    click.echo(format_table(ev))
    if html_path is not None:
        write_html(ev, html_path)
        click.echo(f"\nHTML report: {html_path}")
    if json_path is not None:
        json_path.write_text(json.dumps(ev.to_dict(), indent=1), encoding="utf-8")
