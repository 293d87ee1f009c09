"""``fengkong serve``: the decision API over the embedded store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from fengkong.cli.common import load_settings, settings_options
from fengkong.settings import Settings

if TYPE_CHECKING:
    from fengkong.runtime import Runtime
    from fengkong.storage.repair import BackgroundCheck


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

    settings = load_settings(config, db_path=db_path, host=host, port=port)
    if workers > 1:
        _first_admin_key(settings)
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
    )


def _open_runtime(settings: Settings, verdict: Path | None = None) -> Runtime:
    """The serving runtime; a damaged store is refused with what to do, not a traceback.

    ``verdict``: a worker's runtime, restored while the parent checks the file; it waits
    for the parent's verdict (see :func:`_publish_verdict`) before it is handed out.
    """
    from fengkong.runtime import build_runtime
    from fengkong.storage.repair import StoreDamaged

    try:
        runtime = build_runtime(settings, server=True)
    except StoreDamaged as exc:
        raise click.ClickException(str(exc)) from None
    if verdict is not None and (problems := _await_verdict(verdict)):
        runtime.close(save=False)
        raise click.ClickException(str(StoreDamaged(str(settings.db_path), problems)))
    return runtime


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
    import shutil

    import uvicorn

    from fengkong.storage.repair import StoreDamaged

    if settings.storage.backend != "postgres":
        raise click.UsageError(
            "--workers: several workers need storage.backend = postgres (docs/deployment.md)"
        )
    # The parent checks the file once, in a thread, while the workers restore their
    # state; each worker waits for the verdict before it serves (:func:`_open_runtime`).
    checking, verdict_dir, verdict = _check_for_workers(settings)
    os.environ[_WORKER_ARGS] = json.dumps(
        {
            "config": None if config is None else str(config),
            "db_path": None if db_path is None else str(db_path),
            "host": host,
            "port": port,
            "verdict": None if verdict is None else str(verdict),
        }
    )
    click.echo(
        f"fengkong: serving on http://{settings.host}:{settings.port} with {workers} workers "
        f"(store {settings.storage.backend}, state {settings.state.backend})",
        err=True,
    )
    try:
        uvicorn.run(
            "fengkong.cli.serve_cmd:worker_app",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            access_log=False,
        )
    finally:
        if verdict_dir is not None:
            shutil.rmtree(verdict_dir, ignore_errors=True)
    if checking is not None and (problems := checking.problems()):
        raise click.ClickException(str(StoreDamaged(checking.path, problems)))


def _check_for_workers(
    settings: Settings,
) -> tuple[BackgroundCheck | None, str | None, Path | None]:
    """Start the parent's check of the file, publishing its verdict to a private file."""
    import tempfile
    import threading

    from fengkong.storage.repair import BackgroundCheck

    if not (settings.integrity_check and Path(settings.db_path).is_file()):
        return None, None, None
    checking = BackgroundCheck(settings.db_path)
    verdict_dir = tempfile.mkdtemp(prefix="fengkong-check-")  # mode 0700
    verdict = Path(verdict_dir) / "verdict.json"
    threading.Thread(
        target=_publish_verdict, args=(checking, verdict), name="fengkong-verdict", daemon=True
    ).start()
    return checking, verdict_dir, verdict


def _publish_verdict(checking: BackgroundCheck, verdict: Path) -> None:
    """Write the check's problems (``[]``: none) to ``verdict``, atomically."""
    import json
    import os
    import signal

    partial = verdict.with_suffix(".partial")
    try:
        partial.write_text(json.dumps(checking.problems()))
        os.replace(partial, verdict)
    except OSError as exc:  # the workers would wait for ever: stop them all instead
        click.echo(f"fengkong: cannot hand the workers the check's verdict: {exc}", err=True)
        os.kill(os.getpid(), signal.SIGTERM)


def _await_verdict(verdict: Path, poll_s: float = 0.02) -> list[str]:
    """The parent's verdict, once it is written (the check reads the whole file)."""
    import json
    import time

    while not verdict.exists():
        time.sleep(poll_s)
    problems: list[str] = json.loads(verdict.read_text())
    return problems


def worker_app() -> object:
    """The app of one worker process of ``fengkong serve --workers N``."""
    import json
    import os
    import sys

    from uvicorn.config import STARTUP_FAILURE

    from fengkong.api.app import create_app

    args = json.loads(os.environ[_WORKER_ARGS])
    raw_config = args.pop("config")
    raw_verdict = args.pop("verdict", None)
    config = Path(raw_config) if raw_config else None
    if args.get("db_path"):
        args["db_path"] = Path(args["db_path"])
    settings = load_settings(config, **args)
    settings.integrity_check = False  # the parent checks, once
    try:
        runtime = _open_runtime(settings, Path(raw_verdict) if raw_verdict else None)
    except click.ClickException as exc:
        click.echo(f"fengkong: worker {os.getpid()}: {exc.message}", err=True)
        # A start failure: uvicorn's supervisor stops instead of restarting the worker.
        sys.exit(STARTUP_FAILURE)
    return create_app(settings, runtime, close_runtime=True)


def _first_admin_key(settings: Settings) -> None:
    """At first start, create the admin key (printed once, only its hash kept)."""
    from fengkong.api.auth import bootstrap_admin
    from fengkong.runtime import secure_files
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
