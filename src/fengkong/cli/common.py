"""Options and helpers shared by the commands."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from fengkong.settings import Settings, SettingsError

F = TypeVar("F", bound=Callable[..., Any])


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
    from fengkong.runtime import field_key

    if settings.field_key is None and not Path(f"{settings.db_path}.field-key").exists():
        return None
    return field_key(settings)
