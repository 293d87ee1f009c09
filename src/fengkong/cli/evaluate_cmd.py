"""``fengkong evaluate``: decisions judged against labels, as a table and an HTML report."""

from __future__ import annotations

import json
from pathlib import Path

import click

from fengkong.evaluation import evaluate_files, format_table, write_html
from fengkong.evaluation.challenges import evaluate_challenges, format_challenges

_FILE = click.Path(dir_okay=False, exists=True, path_type=Path)


@click.command()
@click.option("--events", type=_FILE, required=True, help="Events (JSON Lines, time order).")
@click.option("--labels", type=_FILE, required=True, help="Labels (JSON Lines).")
@click.option("--decisions", type=_FILE, required=True, help="Decisions (JSON Lines).")
@click.option(
    "--challenges",
    "challenges_path",
    type=_FILE,
    help="Final outcomes of the challenges (JSON Lines, as fengkong demo writes them).",
)
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
    events: Path,
    labels: Path,
    decisions: Path,
    challenges_path: Path | None,
    html_path: Path | None,
    json_path: Path | None,
) -> None:
    """Recall per scenario, money saved, honest users' false positives, latency.

    With ``--challenges``: money stopped by challenges, honest users' pass rates.
    """
    ev = evaluate_files(events, labels, decisions)
    click.echo(format_table(ev))
    outcomes = None
    if challenges_path is not None:
        outcomes = evaluate_challenges(events, labels, challenges_path)
        click.echo(format_challenges(outcomes))
    if html_path is not None:
        write_html(ev, html_path)
        click.echo(f"\nHTML report: {html_path}")
    if json_path is not None:
        figures = ev.to_dict()
        if outcomes is not None:
            figures["challenges"] = outcomes.to_dict()
        json_path.write_text(json.dumps(figures, indent=1), encoding="utf-8")
