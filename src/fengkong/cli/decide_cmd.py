"""``fengkong decide``: one event from standard input, its decision on standard output."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from fengkong.cli.common import load_settings, settings_options
from fengkong.decisions import IdempotencyConflict
from fengkong.events import EventValidationError
from fengkong.runtime import build_runtime


@click.command()
@settings_options
def decide(config: Path | None, db_path: Path | None) -> None:
    """Decide on one event (JSON on stdin) and store it; print the decision."""
    settings = load_settings(config, db_path=db_path)
    raw = sys.stdin.buffer.read()
    runtime = build_runtime(settings)
    try:
        decision = runtime.engine.decide(raw)
    except EventValidationError as exc:
        for err in exc.errors:
            click.echo(f"error: {err.path}: {err.msg}", err=True)
        raise SystemExit(2) from None
    except IdempotencyConflict as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(3) from None
    finally:
        runtime.close()
    click.echo(orjson.dumps(decision).decode())
