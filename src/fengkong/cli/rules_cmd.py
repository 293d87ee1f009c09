"""``fengkong rules ...``: validate, publish, roll back, freeze, lists, backtest."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from fengkong.cli.common import load_settings, operator, settings_options
from fengkong.events import EventValidationError, Tokenizer, normalise, parse_label
from fengkong.rules import (
    DEFAULT_PACK,
    FREEZE_ACTIONS,
    CompiledRuleSet,
    RuleSetInvalid,
    compile_ruleset,
    load_ruleset,
)
from fengkong.rules.backtest import LabelIndex, format_report
from fengkong.runtime import backtest_events, default_rule_names
from fengkong.runtime_keys import token_secret
from fengkong.settings import Settings
from fengkong.storage.rules_sqlite import SQLiteRuleStore

_TTL = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SENSITIVE = ("phone", "id_number", "bank_card")


def parse_ttl(text: str | None) -> float | None:
    """``30m``, ``2h``, ``7d`` or seconds → seconds; ``None`` → no expiry."""
    if text is None:
        return None
    m = _TTL.match(text.strip())
    if m is None or float(m.group(1)) <= 0:
        raise click.BadParameter(f"{text!r}: give a duration such as 30m, 2h, 7d")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _settings(config: Path | None, db_path: Path | None) -> Settings:
    return load_settings(config, db_path=db_path)


def _store(settings: Settings) -> SQLiteRuleStore:
    return SQLiteRuleStore(settings.shared_db(), default_rule_names(), refresh_s=0.0)


def _print_problems(exc: RuleSetInvalid) -> None:
    for p in exc.problems:
        click.echo(f"  {p}", err=True)


def _ts(t: float | None) -> str:
    return "never" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


@click.group()
def rules() -> None:
    """Rule sets (versions, publish, rollback), lists, freezes and backtests."""


@rules.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def validate(file: Path) -> None:
    """Check a rule set FILE (.toml or .json) as publishing would, without storing it."""
    try:
        compiled = compile_ruleset(load_ruleset(file), default_rule_names())
    except RuleSetInvalid as exc:
        click.echo(f"{file}: {exc.problems and len(exc.problems)} problem(s)", err=True)
        _print_problems(exc)
        sys.exit(1)
    for p in compiled.warnings:
        click.echo(f"  {p}", err=True)
    click.echo(f"{file}: {len(compiled.rules)} rules OK ({compiled.version})")


@rules.command()
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--default", "use_default", is_flag=True, help="Publish the default rule pack.")
@click.option("--comment", default="", help="Why this version (kept with it).")
@click.option("--author", default="", help="Who publishes (kept with it).")
@click.option("--activate/--no-activate", default=True, show_default=True)
@settings_options
def publish(
    file: Path | None,
    use_default: bool,
    comment: str,
    author: str,
    activate: bool,
    config: Path | None,
    db_path: Path | None,
) -> None:
    """Validate FILE and store it as a new immutable version (live unless --no-activate)."""
    if (file is None) == (not use_default):
        raise click.UsageError("give FILE or --default")
    path = DEFAULT_PACK if use_default else file
    assert path is not None
    store = _store(_settings(config, db_path))
    try:
        info = store.publish(
            load_ruleset(path), author=author or operator(), comment=comment, activate=activate
        )
    except RuleSetInvalid as exc:
        click.echo(f"not published: {exc}", err=True)
        _print_problems(exc)
        sys.exit(1)
    finally:
        store.close()
    state = "live" if info.live else "stored (not live)"
    click.echo(f"published {info.label} ({info.name}, {info.rules} rules): {state}")


@rules.command()
@settings_options
def versions(config: Path | None, db_path: Path | None) -> None:
    """List the stored versions; * marks the live one."""
    store = _store(_settings(config, db_path))
    for v in store.versions():
        mark = "*" if v.live else " "
        click.echo(
            f"{mark} {v.label:5s} {v.name:16s} {v.rules:4d} rules  {_ts(v.created_at)}  "
            f"{v.author or '-'}  {v.comment}"
        )
    store.close()


@rules.command()
@click.argument("version", required=False, type=int)
@settings_options
def show(version: int | None, config: Path | None, db_path: Path | None) -> None:
    """Print a stored version (default: the live one) as JSON."""
    store = _store(_settings(config, db_path))
    try:
        if version is None:
            live = store.live_version()
            if live is None:
                raise click.ClickException("nothing is live")
            version = live.version
        try:
            body = store.get_version(version)
        except KeyError as exc:
            raise click.ClickException(str(exc.args[0])) from None
        click.echo(json.dumps(body.model_dump(mode="json"), ensure_ascii=False, indent=2))
    finally:
        store.close()


@rules.command()
@click.option(
    "--to", "to", type=int, default=None, help="Version to make live [default: the one before]."
)
@click.option("--author", default="")
@settings_options
def rollback(to: int | None, author: str, config: Path | None, db_path: Path | None) -> None:
    """Make the previous version (or --to N) live again, at once."""
    store = _store(_settings(config, db_path))
    try:
        info = store.rollback(to, author=author or operator())
    except (LookupError, KeyError, RuleSetInvalid) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    click.echo(f"live: {info.label} ({info.name}, {info.rules} rules)")


_TARGETS = [
    click.option("--user", "user", default=None, help="An account (user_id)."),
    click.option("--device", "device", default=None, help="A device id or device key."),
    click.option("--ip", "ip", default=None),
    click.option(
        "--phone", "phone", default=None, help="A phone number (tokenised here) or token."
    ),
    click.option("--event-type", "event_type", default=None, help="A whole event type."),
]


def _targets(func: Any) -> Any:
    for opt in reversed(_TARGETS):
        func = opt(func)
    return func


def _target(settings: Settings, **given: str | None) -> tuple[str, str]:
    chosen = [(k, v) for k, v in given.items() if v is not None]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --user, --device, --ip, --phone, --event-type")
    kind, value = chosen[0]
    if kind == "phone":
        value = Tokenizer(token_secret(settings)).token("phone", value)
    return kind, value


@rules.command()
@_targets
@click.option("--action", type=click.Choice(FREEZE_ACTIONS), default="block", show_default=True)
@click.option("--reason", required=True, help="Shown in decisions and kept for audit.")
@click.option("--ttl", default=None, help="Expire after e.g. 30m, 2h, 7d [default: never].")
@click.option("--author", default="")
@settings_options
def freeze(
    user: str | None,
    device: str | None,
    ip: str | None,
    phone: str | None,
    event_type: str | None,
    action: str,
    reason: str,
    ttl: str | None,
    author: str,
    config: Path | None,
    db_path: Path | None,
) -> None:
    """Emergency switch: force --action for an entity or a whole event type."""
    settings = _settings(config, db_path)
    kind, value = _target(
        settings, user=user, device=device, ip=ip, phone=phone, event_type=event_type
    )
    seconds = parse_ttl(ttl)
    store = _store(settings)
    try:
        f = store.freeze(
            kind,
            value,
            action,
            reason,
            expires_at=None if seconds is None else time.time() + seconds,
            created_by=author or operator(),
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    finally:
        store.close()
    click.echo(f"frozen {f.kind}={f.value}: {f.action} until {_ts(f.expires_at)}")


@rules.command()
@_targets
@settings_options
def unfreeze(
    user: str | None,
    device: str | None,
    ip: str | None,
    phone: str | None,
    event_type: str | None,
    config: Path | None,
    db_path: Path | None,
) -> None:
    """Lift a freeze."""
    settings = _settings(config, db_path)
    kind, value = _target(
        settings, user=user, device=device, ip=ip, phone=phone, event_type=event_type
    )
    store = _store(settings)
    gone = store.unfreeze(kind, value)
    store.close()
    if not gone:
        raise click.ClickException(f"no freeze on {kind}={value}")
    click.echo(f"unfrozen {kind}={value}")


@rules.command()
@click.option("--all", "include_expired", is_flag=True, help="Include expired freezes.")
@settings_options
def freezes(include_expired: bool, config: Path | None, db_path: Path | None) -> None:
    """List freezes in force."""
    store = _store(_settings(config, db_path))
    for f in store.freezes(include_expired=include_expired):
        click.echo(f"{f.kind}={f.value}  {f.action}  until {_ts(f.expires_at)}  {f.reason}")
    store.close()


@rules.group(name="list")
def list_group() -> None:
    """Named value lists read by rules as list("name"), with expiry."""


@list_group.command(name="add")
@click.argument("name")
@click.argument("values", nargs=-1, required=True)
@click.option("--ttl", default=None, help="Expire after e.g. 30m, 2h, 7d [default: never].")
@click.option("--note", default="")
@click.option(
    "--tokenise",
    type=click.Choice(_SENSITIVE),
    default=None,
    help="Values are clear phone / ID / card numbers: store their tokens.",
)
@settings_options
def list_add(
    name: str,
    values: tuple[str, ...],
    ttl: str | None,
    note: str,
    tokenise: str | None,
    config: Path | None,
    db_path: Path | None,
) -> None:
    """Add VALUES to list NAME (an existing value gets the new expiry)."""
    settings = _settings(config, db_path)
    vals = list(values)
    if tokenise is not None:
        tok = Tokenizer(token_secret(settings))
        vals = [tok.token(tokenise, v) for v in vals]
    seconds = parse_ttl(ttl)
    store = _store(settings)
    try:
        n = store.add_to_list(
            name, vals, expires_at=None if seconds is None else time.time() + seconds, note=note
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    finally:
        store.close()
    click.echo(f"{name}: {n} value(s) added")


@list_group.command(name="remove")
@click.argument("name")
@click.argument("values", nargs=-1, required=True)
@settings_options
def list_remove(
    name: str, values: tuple[str, ...], config: Path | None, db_path: Path | None
) -> None:
    """Remove VALUES from list NAME."""
    store = _store(_settings(config, db_path))
    n = store.remove_from_list(name, values)
    store.close()
    click.echo(f"{name}: {n} value(s) removed")


@list_group.command(name="show")
@click.argument("name", required=False)
@click.option("--all", "include_expired", is_flag=True, help="Include expired entries.")
@settings_options
def list_show(
    name: str | None, include_expired: bool, config: Path | None, db_path: Path | None
) -> None:
    """Show list NAME, or the names and sizes of all lists."""
    store = _store(_settings(config, db_path))
    if name is None:
        for lname, n in store.list_names().items():
            click.echo(f"{lname}  {n}")
    else:
        for e in store.list_entries(name, include_expired=include_expired):
            click.echo(f"{e.value}  until {_ts(e.expires_at)}  {e.note}")
    store.close()


@rules.command(name="purge-expired")
@settings_options
def purge_expired(config: Path | None, db_path: Path | None) -> None:
    """Delete expired list entries and freezes."""
    store = _store(_settings(config, db_path))
    n = store.purge_expired()
    store.close()
    click.echo(f"{n} expired row(s) deleted")


def _events(path: Path, tokenizer: Tokenizer) -> Iterator[Any]:
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield normalise(line, tokenizer)
            except EventValidationError as exc:
                raise click.ClickException(f"{path}:{number}: {exc}") from None


def _labels(path: Path) -> LabelIndex:
    out = []
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                try:
                    out.append(parse_label(line))
                except EventValidationError as exc:
                    raise click.ClickException(f"{path}:{number}: {exc}") from None
    return LabelIndex.from_labels(out)


@rules.command()
@click.option(
    "--ruleset",
    "ruleset_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Candidate rule set (.toml or .json).",
)
@click.option(
    "--events",
    "events_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Events as JSON Lines, in time order.",
)
@click.option(
    "--labels",
    "labels_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Labels as JSON Lines (event_id or user_id, label, at).",
)
@click.option(
    "--live/--no-live",
    "with_live",
    default=True,
    show_default=True,
    help="Compare with the live version of the database, if any.",
)
@click.option(
    "--ip-ranges",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Data-centre IP ranges CSV for the ip.is_datacenter fact.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@settings_options
def backtest(
    ruleset_path: Path,
    events_path: Path,
    labels_path: Path | None,
    with_live: bool,
    ip_ranges: str | None,
    as_json: bool,
    config: Path | None,
    db_path: Path | None,
) -> None:
    """Replay history with point-in-time features: per rule hits, overlap, precision, recall."""
    from fengkong.runtime import compose

    settings = _settings(config, db_path)
    known = default_rule_names()
    try:
        candidate = compile_ruleset(load_ruleset(ruleset_path), known, version=ruleset_path.name)
    except RuleSetInvalid as exc:
        click.echo(f"{ruleset_path}: {exc}", err=True)
        _print_problems(exc)
        sys.exit(1)
    sets: dict[str, CompiledRuleSet] = {"candidate": candidate}
    store = _store(settings)
    snap = store.snapshot()
    if with_live and snap.ruleset is not None:
        sets["live"] = snap.ruleset
    labels = _labels(labels_path) if labels_path else None
    tokenizer = Tokenizer(token_secret(settings))
    report = backtest_events(
        _events(events_path, tokenizer),
        sets,
        labels,
        lists=snap.lists,
        stages=compose(settings, "backtest", ip_ranges_path=Path(ip_ranges) if ip_ranges else None),
    )
    store.close()
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_report(report))
