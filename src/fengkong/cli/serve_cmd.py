"""``fengkong serve``: the decision API over the embedded store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from fengkong.cli.common import load_settings, settings_options, tune_gc
from fengkong.settings import Settings

if TYPE_CHECKING:
    from fengkong.runtime import Runtime


@click.command()
@settings_options
@click.option("--host", default=None, help="Interface to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="TCP port [default: 8000].")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    help="Worker processes on one port; >1 needs storage.backend = postgres (docs/deployment.md).",
)
def serve(
    config: Path | None, db_path: Path | None, host: str | None, port: int | None, workers: int
) -> None:
    """Serve the decision API (POST /v1/events) until interrupted."""
    import uvicorn

    from fengkong.api.app import create_app
    from fengkong.api.corked import CorkedHttpToolsProtocol

    settings = load_settings(config, db_path=db_path, host=host, port=port)
    if workers > 1:
        _serve_workers(settings, workers, config, db_path, host, port)
        return
    # The store's integrity check runs while the state is restored (build_runtime);
    # the port opens only once both are done, so nothing is committed before the verdict.
    runtime = _open_runtime(settings)
    try:
        _first_admin_key(settings)
    except BaseException:
        runtime.close(save=False)
        raise
    app = create_app(settings, runtime, close_runtime=True)
    tune_gc()
    click.echo(
        f"fengkong: serving on http://{settings.host}:{settings.port} "
        f"(store {settings.db_path}; docs at /docs, console at /console/)",
        err=True,
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        http=CorkedHttpToolsProtocol,
    )


def _open_runtime(settings: Settings) -> Runtime:
    """The serving runtime; a damaged store is refused with what to do, not a traceback."""
    from fengkong.runtime import build_runtime
    from fengkong.storage.repair import StoreDamaged

    try:
        return build_runtime(settings, server=True)
    except StoreDamaged as exc:
        raise click.ClickException(str(exc)) from None


# The worker processes rebuild the parent's settings from its options (and the same
# environment, which they inherit).
_WORKER_ARGS = "FENGKONG_SERVE_WORKER_ARGS"


def _serve_workers(
    settings: Settings,
    workers: int,
    config: Path | None,
    db_path: Path | None,
    host: str | None,
    port: int | None,
) -> None:
    import json
    import os

    import uvicorn

    from fengkong.api.corked import CorkedHttpToolsProtocol
    from fengkong.storage.repair import StoreDamaged, check

    if settings.storage.backend != "postgres":
        raise click.UsageError(
            "--workers: several workers need storage.backend = postgres (docs/deployment.md)"
        )
    # The events live in PostgreSQL: the local file holds no log to restore, so its
    # check has nothing to overlap with. The parent checks it once, before anything is
    # written to it or any worker starts.
    checked = settings.integrity_check and Path(settings.db_path).is_file()
    if checked and (problems := check(settings.db_path)):
        raise click.ClickException(str(StoreDamaged(str(settings.db_path), problems)))
    _first_admin_key(settings)
    os.environ[_WORKER_ARGS] = json.dumps(
        {
            "config": None if config is None else str(config),
            "db_path": None if db_path is None else str(db_path),
            "host": host,
            "port": port,
        }
    )
    click.echo(
        f"fengkong: serving on http://{settings.host}:{settings.port} with {workers} workers "
        f"(store {settings.storage.backend}, state {settings.state.backend})",
        err=True,
    )
    uvicorn.run(
        "fengkong.cli.serve_cmd:worker_app",
        factory=True,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        http=CorkedHttpToolsProtocol,
    )


def worker_app() -> object:
    """The app of one worker process of ``fengkong serve --workers N``."""
    import json
    import os
    import sys

    from uvicorn.config import STARTUP_FAILURE

    from fengkong.api.app import create_app

    args = json.loads(os.environ[_WORKER_ARGS])
    raw_config = args.pop("config")
    config = Path(raw_config) if raw_config else None
    if args.get("db_path"):
        args["db_path"] = Path(args["db_path"])
    settings = load_settings(config, **args)
    settings.integrity_check = False  # the parent checked, once
    try:
        runtime = _open_runtime(settings)
    except click.ClickException as exc:
        click.echo(f"fengkong: worker {os.getpid()}: {exc.message}", err=True)
        # A start failure: uvicorn's supervisor stops instead of restarting the worker.
        sys.exit(STARTUP_FAILURE)
    app = create_app(settings, runtime, close_runtime=True)
    tune_gc()
    return app


def _first_admin_key(settings: Settings) -> None:
    """At first start, create the admin key (printed once, only its hash kept)."""
    from fengkong.api.auth import bootstrap_admin
    from fengkong.runtime_keys import secure_files
    from fengkong.storage.files import InsecureFile
    from fengkong.storage.keys_sqlite import KeyStore

    try:
        secure_files(settings)
    except InsecureFile as exc:
        raise click.ClickException(str(exc)) from None
    keys = KeyStore(settings.shared_db())
    try:
        given = settings.bootstrap_key.get_secret_value() if settings.bootstrap_key else None
        created = bootstrap_admin(keys, given)
    finally:
        keys.close()
    if created is not None:
        click.echo(
            "fengkong: first start: created the admin API key (shown once, only its hash is "
            f"kept; create narrower keys with `fengkong keys create`):\n  {created}",
            err=True,
        )
