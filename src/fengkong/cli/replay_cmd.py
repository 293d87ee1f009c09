"""``fengkong replay``: a JSON Lines file of events through the pipeline, resumable."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import click
import orjson
from tqdm import tqdm

from fengkong.cli.common import load_settings, settings_options, tune_gc
from fengkong.decisions.replay import replay as replay_events
from fengkong.runtime import build_runtime


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def _done_lines(out: Path) -> int:
    """Complete lines already in ``out``; a torn last line (a crash mid-write) is cut."""
    if not out.exists():
        return 0
    with out.open("rb+") as f:
        data = f.read()
        keep = data.rfind(b"\n") + 1
        if keep != len(data):
            f.truncate(keep)
    return data[:keep].count(b"\n")


def _lines(path: Path, skip: int) -> Iterator[tuple[int, bytes]]:
    seen = 0
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            seen += 1
            if seen > skip:
                yield number, line


@click.command()
@click.argument("events", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Decisions as JSON Lines, one per event line, in order.",
)
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--resume/--restart",
    default=True,
    show_default=True,
    help="Continue after the lines --out already has, or start --out afresh.",
)
@settings_options
def replay(
    events: Path,
    out: Path,
    batch_size: int,
    resume: bool,
    config: Path | None,
    db_path: Path | None,
) -> None:
    """Replay EVENTS (JSON Lines, in time order) through the engine into --out."""
    settings = load_settings(config, db_path=db_path)
    done = _done_lines(out) if resume else 0
    total = _count_lines(events)
    runtime = build_runtime(settings)
    tune_gc()
    errors = decided = 0
    try:
        with (
            out.open("ab" if resume else "wb") as sink,
            tqdm(total=total, initial=done, unit="ev", desc="replay", disable=None) as bar,
        ):
            for answers in replay_events(runtime.engine, _lines(events, done), batch_size):
                sink.write(b"".join(orjson.dumps(a) + b"\n" for a in answers))
                sink.flush()
                os.fsync(sink.fileno())
                errors += sum(1 for a in answers if "errors" in a)
                decided += len(answers)
                bar.update(len(answers))
    finally:
        runtime.close()
    click.echo(
        f"replayed {decided} events ({done} already done, {errors} rejected) into {out}",
        err=True,
    )
