"""``fengkong audit``: verify the evidence chain, sign checkpoints, export bundles."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fengkong.audit import log
from fengkong.cli.common import load_settings, settings_options
from fengkong.settings import Settings

if TYPE_CHECKING:
    from fengkong.audit.trail import AuditTrail


def _open(settings: Settings) -> log.Database | sqlite3.Connection:
    if settings.storage.backend == "postgres":
        from fengkong.runtime import audit_db

        return audit_db(settings)
    if not Path(settings.db_path).exists():
        raise click.ClickException(f"no database at {settings.db_path}")
    return sqlite3.connect(f"file:{settings.db_path}?mode=ro", uri=True)


def _trail(settings: Settings) -> AuditTrail:
    from fengkong.api.secure import open_signer
    from fengkong.audit.trail import AuditTrail
    from fengkong.runtime import audit_db

    if settings.storage.backend != "postgres" and not Path(settings.db_path).exists():
        raise click.ClickException(f"no database at {settings.db_path}")
    return AuditTrail(
        audit_db(settings), open_signer(settings), publish_dir=settings.audit_publish_dir
    )


@click.group()
def audit() -> None:
    """The hash-chained audit log: verify, checkpoint, export evidence (docs/security.md)."""


@audit.command("verify")
@settings_options
@click.option(
    "--key", default=None, help="The published public key (default: the local signing key's)."
)
@click.option(
    "--checkpoint",
    "published",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A checkpoint published outside the database; the chain must still hold it.",
)
def verify(
    config: Path | None, db_path: Path | None, key: str | None, published: tuple[Path, ...]
) -> None:
    """Check every record against the chain and its signed checkpoints; exit 1 if any fails."""
    from fengkong.api.secure import audit_key_path
    from fengkong.audit.checkpoint import CheckpointError, load_signer, parse_verifier
    from fengkong.audit.verify import verify_database

    settings = load_settings(config, db_path=db_path)
    key_file = audit_key_path(settings)
    try:
        verifier = (
            parse_verifier(key)
            if key
            else load_signer(key_file, settings.audit_origin).verifier
            if key_file.exists()
            else None
        )
    except CheckpointError as exc:
        raise click.BadParameter(str(exc), param_hint="--key") from None
    notes = [p.read_text(encoding="utf-8") for p in published]
    if notes and verifier is None:
        raise click.UsageError("give --key to check published checkpoints")
    conn = _open(settings)
    try:
        report = verify_database(conn, verifier, notes)
    finally:
        conn.close()
    if report.ok:
        click.echo(
            f"audit chain OK: {report.entries} entries, {report.checkpoints} signed checkpoints"
            + ("" if verifier else " (not checked: no signing key found)")
        )
        return
    first = report.first
    click.echo(f"audit chain FAILED: first bad entry: {first}", err=True)
    for problem in report.problems[:20]:
        if problem is not first:
            click.echo(f"  also: {problem}", err=True)
    if len(report.problems) > 20:
        click.echo(f"  ... {len(report.problems) - 20} more", err=True)
    sys.exit(1)


@audit.command("adopt")
@settings_options
def adopt_cmd(config: Path | None, db_path: Path | None) -> None:
    """Chain a database written before the chain existed (once, before serving it)."""
    from fengkong.audit.adopt import AdoptionRefused, adopt
    from fengkong.cli.common import operator
    from fengkong.storage.audit_hooks import ensure
    from fengkong.storage.connect import connect

    settings = load_settings(config, db_path=db_path)
    if not Path(settings.db_path).exists():
        raise click.ClickException(f"no database at {settings.db_path}")
    conn = connect(str(settings.db_path))
    try:
        ensure(conn)
        n = adopt(conn, f"adopted by {operator()}")
    except AdoptionRefused as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        conn.close()
    click.echo(f"adopted {n} records into the audit chain; sign a checkpoint and publish it")


@audit.command("checkpoint")
@settings_options
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def checkpoint(config: Path | None, db_path: Path | None, out: Path | None) -> None:
    """Sign a checkpoint of the chain as it is now; print it (or write it to --out)."""
    trail = _trail(load_settings(config, db_path=db_path))
    try:
        note = trail.checkpoint()
    finally:
        trail.close()
    if note is None:
        raise click.ClickException("the chain is empty: nothing to sign")
    if out is not None:
        out.write_text(note, encoding="utf-8")
        click.echo(f"checkpoint written to {out}", err=True)
    else:
        click.echo(note, nl=False)


@audit.command("public-key")
@settings_options
def public_key(config: Path | None, db_path: Path | None) -> None:
    """The verifier key of the checkpoint signer (publish it once)."""
    from fengkong.api.secure import open_signer

    signer = open_signer(load_settings(config, db_path=db_path))
    if signer is None:
        raise click.ClickException("an in-memory store has no signing key")
    click.echo(signer.verifier.encode())


@audit.command("export")
@settings_options
@click.option("--user", "user", required=True, help="The user whose evidence to export.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Bundle file [default: evidence-USER.json]; an .html page is written beside it.",
)
def export(config: Path | None, db_path: Path | None, user: str, out: Path | None) -> None:
    """Write an evidence bundle (JSON + HTML) for one user, with inclusion proofs."""
    from fengkong.audit.bundle import VERIFY_COMMAND, bundle_bytes, bundle_html

    trail = _trail(load_settings(config, db_path=db_path))
    try:
        bundle = trail.export(user)
    finally:
        trail.close()
    if bundle is None:
        raise click.ClickException("the chain is empty: nothing to export")
    path = out or Path(f"evidence-{user}.json")
    path.write_bytes(bundle_bytes(bundle))
    path.with_suffix(".html").write_text(bundle_html(bundle), encoding="utf-8")
    click.echo(
        f"{len(bundle['items'])} entries for {user} -> {path} (+ {path.with_suffix('.html')})\n"
        f"verify offline: {VERIFY_COMMAND.replace('BUNDLE.json', str(path))}\n"
        f"public key: {bundle['public_key']}"
    )


@audit.command("verify-bundle")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", default=None, help="The operator's published public key.")
def verify_bundle_cmd(bundle: Path, key: str | None) -> None:
    """Verify an evidence bundle offline (no database needed)."""
    from fengkong.audit.verify_bundle import main as verify_main

    args = [str(bundle)] + (["--key", key] if key else [])
    code = verify_main(args)
    if code:
        sys.exit(code)
