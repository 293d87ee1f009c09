"""Options and helpers shared by the commands."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from fengkong.settings import Settings, SettingsError

F = TypeVar("F", bound=Callable[..., Any])

# Allocations between two young-generation collections in `serve` and `replay`
# (Python's default is 700): deciding an event allocates a few thousand short-lived
# objects, freed by reference counting, that the cyclic GC would walk several times.
GC_YOUNG_THRESHOLD = 20_000


def tune_gc() -> None:
    """Process-wide GC settings of a long-running command, once started: what start-up
    built is frozen out of the cyclic GC, and young collections are rarer. (Set here, at
    the edge, not by the library: it is the whole process's choice.)"""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def settings_options(func: F) -> F:
    """``--config`` and ``--db``, the options every stateful command takes."""
    func = click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="SQLite database of the embedded store [default: fengkong.db].",
    )(func)
    func = click.option(
        "--config",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="TOML settings file (or FENGKONG_CONFIG).",
    )(func)
    return func


def load_settings(config: Path | None, **overrides: Any) -> Settings:
    """Settings from file, environment and flags; a bad one is a usage error."""
    try:
        settings = Settings.load(config, **overrides)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return settings


def operator() -> str:
    """Who changes things from the command line: ``cli:<operating-system account>``.

    The command line works on the database directly, so it is an operator's tool; the
    audit chain attributes its changes to the account that ran it.
    """
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


def lake_field_key(settings: Settings) -> bytes | None:
    """The field key that reveals a lake's sealed bodies: from the settings, else the
    ``<db>.field-key`` file beside the database; ``None`` when neither exists (a lake
    written from a replay file needs none)."""
    from fengkong.runtime_keys import field_key

    if settings.field_key is None and not Path(f"{settings.db_path}.field-key").exists():
        return None
    return field_key(settings)
