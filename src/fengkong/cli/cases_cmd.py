"""``fengkong cases ...``: open ring cases from mined rings, list the queue."""

from __future__ import annotations

import time
from pathlib import Path

import click

from fengkong.cli.common import load_settings, settings_options


@click.group("cases")
def cases() -> None:
    """Cases for analysts: the queue, and ring cases from `fengkong graph mine`."""


@cases.command("rings")
@click.argument("rings_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--min-score", type=float, default=0.0, show_default=True)
@click.option("--top", type=int, default=50, show_default=True, help="at most this many rings")
@settings_options
def rings_cmd(
    rings_path: Path, min_score: float, top: int, config: Path | None, db_path: Path | None
) -> None:
    """Open one case per mined ring (best first); its accounts' later reviews join it."""
    from fengkong.graph.rings import read_rings
    from fengkong.storage.cases_sqlite import CaseStore

    settings = load_settings(config, db_path=db_path)
    found = sorted(read_rings(rings_path), key=lambda r: -r.score)
    chosen = [r for r in found if r.score >= min_score and len(r.members) >= 2][:top]
    store = CaseStore(settings.shared_db())
    try:
        for ring in chosen:
            members = [m[2:] if m.startswith("a:") else m for m in ring.members]
            case_id = store.open_ring(
                members,
                "fengkong graph mine",
                ring=ring.ring_id,
                detail={
                    "ring_kind": ring.kind,
                    "score": round(ring.score, 4),
                    "accounts": len(members),
                },
            )
            click.echo(f"{case_id}  {ring.ring_id}  {ring.kind}  {len(members)} accounts")
    finally:
        store.close()
    click.echo(f"{len(chosen)} ring cases open (of {len(found)} rings)", err=True)


@cases.command("queue")
@click.option("--inbox", default=None)
@click.option("--limit", type=int, default=20, show_default=True)
@settings_options
def queue_cmd(inbox: str | None, limit: int, config: Path | None, db_path: Path | None) -> None:
    """The most urgent active cases, and the size of each inbox."""
    from fengkong.storage.cases_sqlite import CaseStore

    settings = load_settings(config, db_path=db_path)
    store = CaseStore(settings.shared_db())
    try:
        now = time.time()
        for name, c in store.counts(now).items():
            click.echo(f"{name:14s} {c['active']:7d} active {c['breached']:6d} past SLA")
        for case in store.queue(inbox=inbox, limit=limit):
            late = " PAST SLA" if case.breached(now) else ""
            click.echo(
                f"{case.case_id} {case.kind:7s} {case.subject:24s} {case.inbox:12s}"
                f" {case.status:13s} {case.assignee or '-'}{late}"
            )
    finally:
        store.close()
