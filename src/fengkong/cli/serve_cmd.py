"""``fengkong serve``: the decision API over the embedded store."""

from __future__ import annotations

from pathlib import Path

import click

from fengkong.cli.common import load_settings, settings_options


@click.command()
@settings_options
@click.option("--host", default=None, help="Interface to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="TCP port [default: 8000].")
def serve(config: Path | None, db_path: Path | None, host: str | None, port: int | None) -> None:
    """Serve the decision API (POST /v1/events) until interrupted."""
    import uvicorn

    from fengkong.api.app import create_app
    from fengkong.storage.repair import StoreDamaged, check

    settings = load_settings(config, db_path=db_path, host=host, port=port)
    # Refuse a damaged store before listening, with what to do instead of a traceback.
    if settings.integrity_check and Path(settings.db_path).is_file():
        problems = check(settings.db_path)
        if problems:
            raise click.ClickException(str(StoreDamaged(str(settings.db_path), problems)))
        settings.integrity_check = False  # just checked
    app = create_app(settings)
    click.echo(
        f"fengkong: serving on http://{settings.host}:{settings.port} "
        f"(store {settings.db_path}; docs at /docs)",
        err=True,
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
