"""``fengkong keys``: create, list and revoke API keys (directly on the database)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from fengkong.api.auth import ROLES, check_roles
from fengkong.cli.common import load_settings, operator, settings_options
from fengkong.storage.keys_sqlite import KeyStore


def _keys(config: Path | None, db_path: Path | None) -> KeyStore:
    from fengkong.runtime_keys import secure_files
    from fengkong.storage.files import InsecureFile

    settings = load_settings(config, db_path=db_path)
    try:
        secure_files(settings)
    except InsecureFile as exc:
        raise click.ClickException(str(exc)) from None
    return KeyStore(settings.shared_db())


@click.group()
def keys() -> None:
    """API keys and their roles (only a hash of each key is stored)."""


@keys.command("create")
@settings_options
@click.option("--name", required=True, help="Who or what uses the key (shown as author).")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(ROLES),
    help="A role of the key (repeat for several); admin holds every role.",
)
def create(config: Path | None, db_path: Path | None, name: str, roles: tuple[str, ...]) -> None:
    """Create a key and print it once."""
    store = _keys(config, db_path)
    try:
        key, info = store.create(name, check_roles(list(roles)), actor=operator())
    finally:
        store.close()
    click.echo(
        f"created {info.key_id} ({name}: {', '.join(info.roles)}); the key, shown once:", err=True
    )
    click.echo(key)


@keys.command("list")
@settings_options
def listing(config: Path | None, db_path: Path | None) -> None:
    """Every key: id, name, roles, created, revoked."""
    store = _keys(config, db_path)
    try:
        for k in store.listing():
            created = datetime.fromtimestamp(k.created_at, UTC).isoformat(timespec="seconds")
            revoked = (
                "revoked " + datetime.fromtimestamp(k.revoked_at, UTC).isoformat(timespec="seconds")
                if k.revoked_at is not None
                else "live"
            )
            click.echo(f"{k.key_id}  {k.name:<20} {','.join(k.roles):<30} {created}  {revoked}")
    finally:
        store.close()


@keys.command("revoke")
@settings_options
@click.argument("key_id")
def revoke(config: Path | None, db_path: Path | None, key_id: str) -> None:
    """Revoke a key by its id (``fengkong keys list``); it stops working at once."""
    store = _keys(config, db_path)
    try:
        if not store.revoke(key_id, actor=operator()):
            raise click.ClickException(f"no live key {key_id}")
    finally:
        store.close()
    click.echo(f"revoked {key_id}")
