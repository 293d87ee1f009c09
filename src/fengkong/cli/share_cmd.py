"""``fengkong share``: consortium risk lists (export, import, check, serve), police leads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from fengkong.cli.common import load_settings, settings_options
from fengkong.settings import Settings

T = TypeVar("T")
_FILE = click.Path(dir_okay=False, path_type=Path)


def _guard(action: Callable[[], T]) -> T:
    """Run ``action``; a refused bundle or missing setting is a one-line error."""
    from fengkong.runtime_sharing import (
        BundleError,
        ImportRefused,
        ShareKeyError,
        SharingNotConfigured,
    )

    try:
        return action()
    except (BundleError, ImportRefused, ShareKeyError, SharingNotConfigured, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def share() -> None:
    """Industry sharing: signed lists of keyed hashes, PSI, leads (docs/sharing.md)."""


@share.command("export")
@settings_options
@click.option("--out", type=_FILE, default=None, help="Bundle file [default: sharing.bundle_path].")
def export_cmd(config: Path | None, db_path: Path | None, out: Path | None) -> None:
    """Sign a bundle of the identities behind this member's confirmed fraud."""
    from fengkong.runtime_sharing import export

    settings = load_settings(config, db_path=db_path)
    path = out or settings.sharing.bundle_path
    if path is None:
        raise click.UsageError("give --out or set sharing.bundle_path")
    blob, report = _guard(lambda: export(settings))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(blob)
    tmp.replace(path)  # a peer fetching it never reads half a bundle
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(report.by_kind.items())) or "none"
    click.echo(
        f"{report.entries} entries ({kinds}) from {report.fraud_accounts} fraud accounts and "
        f"{report.fraud_events} fraud events -> {path} ({len(blob):,} bytes)"
    )
    if report.without_hash:
        click.echo(f"  {report.without_hash} tokens without a consortium hash (seen before "
                   "sharing was configured) left out")  # fmt: skip


@share.command("import")
@settings_options
@click.argument("source", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--url", default=None, help="A peer's GET /v1/share/bundle instead of a file.")
@click.option("--api-key", envvar="FENGKONG_PEER_KEY", default=None, help="The peer's key.")
def import_cmd(
    config: Path | None, db_path: Path | None, source: Path | None, url: str | None,
    api_key: str | None,
) -> None:  # fmt: skip
    """Verify a peer's bundle (file or URL) and store its live entries."""
    from fengkong.runtime_sharing import fetch, import_blob

    settings = load_settings(config, db_path=db_path)
    if (source is None) == (url is None):
        raise click.UsageError("give a bundle FILE or --url")
    if url is not None:
        if api_key is None:
            raise click.UsageError("--url needs --api-key (or FENGKONG_PEER_KEY)")
        blob = _guard(lambda: fetch(url, api_key))
        via = url
    else:
        assert source is not None
        blob, via = source.read_bytes(), f"file:{source.name}"
    bundle, done = _guard(lambda: import_blob(settings, blob, via=via))
    if not done:
        click.echo(f"bundle of {bundle.member} already imported")
        return
    click.echo(
        f"imported {len(bundle.entries)} entries of {bundle.member} (key {bundle.member_key}, "
        f"consortium key {bundle.consortium_key}); {bundle.expired} expired entries refused"
    )


@share.command("list")
@settings_options
def list_cmd(config: Path | None, db_path: Path | None) -> None:
    """The bundles imported here, and the revoked members."""
    from fengkong.storage.sharing_sqlite import SharingStore

    store = SharingStore(load_settings(config, db_path=db_path).shared_db())
    try:
        for b in store.bundles():
            click.echo(f"{b['member']:16s} key {b['member_key']} {b['entries']:>9} entries "
                       f"made {b['created_at']} via {b['via']}")  # fmt: skip
        for member in store.revoked():
            click.echo(f"{member:16s} revoked")
    finally:
        store.close()


@share.command("revoke")
@settings_options
@click.option("--member", required=True, help="The member whose entries to drop.")
@click.option("--reason", required=True, help="Why (kept in the audit chain).")
def revoke_cmd(config: Path | None, db_path: Path | None, member: str, reason: str) -> None:
    """Drop a member's entries and refuse its bundles from now on."""
    from fengkong.storage.sharing_sqlite import SharingStore

    store = SharingStore(load_settings(config, db_path=db_path).shared_db())
    try:
        n = store.revoke(member, reason)
    finally:
        store.close()
    click.echo(f"revoked {member}: {n} entries dropped")


@share.command("check")
@settings_options
@click.option("--url", required=True, help="The peer's POST /v1/share/psi.")
@click.option("--api-key", envvar="FENGKONG_PEER_KEY", required=True, help="The peer's key.")
@click.option("--count-only", is_flag=True, help="Learn only how many are common.")
def check_cmd(
    config: Path | None, db_path: Path | None, url: str, api_key: str, count_only: bool
) -> None:
    """Private set intersection of this member's list with a peer's."""
    from fengkong.runtime_sharing import own_items, psi_check

    settings = load_settings(config, db_path=db_path)
    items = _guard(lambda: own_items(settings))
    result = _guard(lambda: psi_check(settings, url, api_key, items, reveal=not count_only))
    if isinstance(result, int):
        click.echo(f"{result} of our {len(items)} entries are also on the peer's list")
        return
    click.echo(f"{len(result)} of our {len(items)} entries are also on the peer's list")
    for item in result:
        click.echo(f"  {item}")


@share.command("serve")
@settings_options
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8100, show_default=True)
def serve_cmd(config: Path | None, db_path: Path | None, host: str, port: int) -> None:
    """Serve only /v1/share (bundle, PSI) to peers holding a consortium key."""
    import uvicorn

    settings = load_settings(config, db_path=db_path)
    click.echo(f"fengkong share: serving /v1/share on http://{host}:{port}", err=True)
    uvicorn.run(share_app(settings), host=host, port=port, log_level="warning")


def share_app(settings: Settings) -> Any:
    """A FastAPI app with the keys, the audit trail and the ``/v1/share`` routes."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI

    from fengkong.api.secure import close_security, open_security
    from fengkong.api.sharing_routes import sharing_router

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        open_security(app, settings)
        yield
        close_security(app)

    app = FastAPI(title="fengkong share", lifespan=lifespan)
    app.include_router(sharing_router(settings))
    return app


@share.command("lead")
@settings_options
@click.option("--rings", "rings_path", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--ring", "ring_id", required=True, help="The ring_id to hand over.")
@click.option("--out", type=_FILE, required=True)
def lead_cmd(
    config: Path | None, db_path: Path | None, rings_path: Path, ring_id: str, out: Path
) -> None:
    """A police lead: one ring with each account's evidence and inclusion proofs, signed."""
    from fengkong.runtime_sharing import build_police_lead, open_member

    settings = load_settings(config, db_path=db_path)
    blob = _guard(lambda: build_police_lead(settings, rings_path, ring_id))
    out.write_bytes(blob)
    key = open_member(settings, need_keys=False).public_key
    click.echo(f"lead {ring_id} -> {out} ({len(blob):,} bytes)\n"
               f"verify: fengkong share verify-lead {out} --member-key {key}")  # fmt: skip


@share.command("verify-lead")
@click.argument("lead", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--member-key", required=True, help="The sending member's public key (base64).")
@click.option("--audit-key", default=None, help="The member's published checkpoint key.")
def verify_lead_cmd(lead: Path, member_key: str, audit_key: str | None) -> None:
    """Verify a police lead offline (no database)."""
    from fengkong.sharing.leads import LeadInvalid, verify_lead

    try:
        s = verify_lead(lead.read_bytes(), member_key, audit_key)
    except LeadInvalid as exc:
        raise click.ClickException(f"lead FAILED: {exc}") from None
    click.echo(f"OK: ring {s['ring']} of {s['member']}: {s['accounts']} accounts, "
               f"{s['entries']} chain entries with inclusion proofs")  # fmt: skip


@share.command("public-key")
@settings_options
def public_key_cmd(config: Path | None, db_path: Path | None) -> None:
    """This member's Ed25519 public key (for the members' directory)."""
    from fengkong.runtime_sharing import open_member

    settings = load_settings(config, db_path=db_path)
    member = _guard(lambda: open_member(settings, need_keys=False))
    click.echo(f"{member.member} {member.key_id} {member.public_key}")
