"""``fengkong sim``: simulated traffic with labels, and loaders of public data sets."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from fengkong.sim import SCENARIOS, SimConfig, describe, write_simulation
from fengkong.sim.datasets import write_handbook
from fengkong.sim.world import WORLDS

_SHARED = Path("shared") / "data"


def find_shared_data(relative: str) -> Path | None:
    """A file of the project's shared data folder (``../shared/data`` beside the repo)."""
    repo = Path(__file__).resolve().parents[3]
    for base in (Path.cwd().parent, Path.cwd(), repo.parent):
        candidate = base / _SHARED / relative
        if candidate.is_file():
            return candidate
    return None


def _scenarios(value: str) -> tuple[str, ...]:
    if value.strip() in ("all", ""):
        return tuple(SCENARIOS)
    names = tuple(s.strip() for s in value.split(",") if s.strip())
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise click.BadParameter(
            f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}"
        )
    return names


@click.group(invoke_without_command=True)
@click.option("--users", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Events file (JSON Lines) to write.",
)
@click.option(
    "--labels",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Labels file (JSON Lines) to write.",
)
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d"]),
    default="2026-10-01",
    show_default=True,
    help="First simulated day (China time).",
)
@click.option(
    "--scenarios",
    default="all",
    show_default=True,
    help=f"'all' or a comma-separated list of: {', '.join(SCENARIOS)}.",
)
@click.option(
    "--attack-rate",
    type=click.FloatRange(0, 1),
    default=0.01,
    show_default=True,
    help="Share of users who are attackers or victims per 30 days.",
)
@click.option(
    "--ip-ranges",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Data-centre IPv4 ranges CSV (default: shared/data/ip-ranges/"
    "datacenters.csv if found, else a built-in list).",
)
@click.option(
    "--world",
    type=click.Choice(sorted(WORLDS)),
    default="A",
    show_default=True,
    help="Realism config: A (defaults are tuned on it) or B (other ranges; hold-out).",
)
@click.option("--honest-only", is_flag=True, help="No attacks (friction measurement).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def sim(
    ctx: click.Context,
    users: int,
    days: int,
    seed: int,
    out: Path | None,
    labels: Path | None,
    start: datetime,
    scenarios: str,
    attack_rate: float,
    ip_ranges: Path | None,
    world: str,
    honest_only: bool,
    quiet: bool,
) -> None:
    """Simulate honest users and attacks as events in the wire format, with labels."""
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        raise click.UsageError("--out is required")
    cfg = SimConfig(
        users=users,
        days=days,
        seed=seed,
        start=start.date(),
        scenarios=_scenarios(scenarios),
        attack_rate=0.0 if honest_only else attack_rate,
        datacenter_csv=ip_ranges or find_shared_data("ip-ranges/datacenters.csv"),
        world=WORLDS[world],
    )
    stats = write_simulation(cfg, out, labels, progress=not quiet)
    click.echo(json.dumps(describe(stats), ensure_ascii=False, indent=1))


@sim.command("handbook")
@click.option(
    "--data",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="transactions.csv.gz (default: shared/data/handbook-transactions/).",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--labels", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="First day to keep (UTC)."
)
@click.option(
    "--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Last day to keep (UTC, inclusive)."
)
@click.option(
    "--label-delay-days",
    type=click.FloatRange(min=0),
    default=7.0,
    show_default=True,
    help="A fraud label is known this long after the event.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def handbook(
    data: Path | None,
    out: Path,
    labels: Path | None,
    date_from: datetime | None,
    date_to: datetime | None,
    label_delay_days: float,
    quiet: bool,
) -> None:
    """Turn the fraud-detection handbook's card transactions into payment events."""
    path = data or find_shared_data("handbook-transactions/transactions.csv.gz")
    if path is None:
        raise click.UsageError(
            "transactions.csv.gz not found (looked in ../shared/data/handbook-transactions/); "
            "give --data PATH: the simulated transactions of the Fraud-Detection-Handbook "
            "(repository Fraud-Detection-Handbook/simulated-data-raw, daily pickles "
            "concatenated into one CSV), see docs/simulator.md"
        )
    lo = date_from.replace(tzinfo=UTC) if date_from else None
    hi = date_to.replace(tzinfo=UTC) + timedelta(days=1) if date_to else None
    counts = write_handbook(
        path,
        out,
        labels,
        start=lo,
        end=hi,
        label_delay=timedelta(days=label_delay_days),
        progress=not quiet,
    )
    click.echo(json.dumps(counts), file=sys.stdout)
