"""``fengkong credit ...``: train, evaluate, score, monitor, list, promote, rollback."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from fengkong.cli.common import load_settings, settings_options
from fengkong.credit.data import BAD_VALUES, Applicants, DataError, read_csv
from fengkong.credit.derive import Derived
from fengkong.credit.registry import CreditRegistry, ScorecardLoadError
from fengkong.credit.scorecard import Scaling, Scorecard
from fengkong.runtime import model_store

_FILE = click.Path(dir_okay=False, exists=True, path_type=Path)
_OUT = click.Path(dir_okay=False, path_type=Path)


def _registry(config: Path | None, db_path: Path | None) -> CreditRegistry:
    settings = load_settings(config, db_path=db_path)
    return CreditRegistry(model_store(settings))


def _read(
    path: Path, target: str | None, bad: tuple[str, ...], exclude: tuple[str, ...]
) -> Applicants:
    values = frozenset(v.lower() for v in bad) if bad else BAD_VALUES
    try:
        return read_csv(path, target, bad_values=values, exclude=exclude)
    except DataError as exc:
        raise click.BadParameter(str(exc), param_hint=str(path)) from None


def _card(reg: CreditRegistry, version: int | None) -> Scorecard:
    try:
        if version is not None:
            return reg.load(version)
        card = reg.load_role("champion") or reg.load_role("challenger")
    except (ScorecardLoadError, KeyError) as exc:
        raise click.ClickException(str(exc)) from None
    if card is None:
        raise click.ClickException("no champion or challenger scorecard; train one first")
    return card


def _report(path: Path, card: Scorecard, y: Any, scores: Any, title: str) -> None:
    from fengkong.credit.report import render_html

    path.write_text(render_html(card, y, scores, title), encoding="utf-8")
    click.echo(f"report: {path}")


def _data_options(func: Any) -> Any:
    func = click.option("--exclude", multiple=True, help="Column that is not an attribute.")(func)
    func = click.option(
        "--bad-value",
        "bad",
        multiple=True,
        help="Outcome value meaning bad [1, bad, default, yes].",
    )(func)
    return func


@click.group()
def credit() -> None:
    """Credit scorecards: training, evaluation, scoring, monitoring and registry roles."""


@credit.command()
@settings_options
@click.argument("applicants", type=_FILE)
@click.option("--target", required=True, help="Outcome column (good/bad).")
@_data_options
@click.option("--rejects", type=_FILE, help="CSV of rejected applicants: reject inference.")
@click.option("--reject-method", type=click.Choice(["fuzzy", "parcelling"]), default="fuzzy")
@click.option("--bad-rate-factor", type=float, default=1.0, show_default=True)
@click.option("--base-score", type=float, default=600.0, show_default=True)
@click.option("--base-odds", type=float, default=50.0, show_default=True)
@click.option("--pdo", type=float, default=20.0, show_default=True)
@click.option("--html", "html_path", type=_OUT, help="Write the report here.")
@click.option("--challenger/--champion", default=False, help="Role of the new version.")
@click.option(
    "--monotonic",
    is_flag=True,
    help="Event rate monotonic in every number (no peak/valley); the logistic card alone.",
)
@click.option("--logistic", is_flag=True, help="Serve the logistic card alone (no boosted half).")
@click.option(
    "--derive",
    multiple=True,
    help="Derived attribute: name=a/b (ratio), name=a*b (product), name=a&b (crossed category).",
)
@click.option(
    "--derived-in",
    type=click.Choice(["both", "boost"]),
    default="both",
    show_default=True,
    help="Halves that see the derived attributes (boost: the boosted half only).",
)
def train(
    config: Path | None,
    db_path: Path | None,
    applicants: Path,
    target: str,
    exclude: tuple[str, ...],
    bad: tuple[str, ...],
    rejects: Path | None,
    reject_method: str,
    bad_rate_factor: float,
    base_score: float,
    base_odds: float,
    pdo: float,
    html_path: Path | None,
    challenger: bool,
    monotonic: bool,
    logistic: bool,
    derive: tuple[str, ...],
    derived_in: str,
) -> None:
    """Bin, fit and scale a scorecard (settings by inner CV), register it."""
    from tqdm import tqdm

    from fengkong.credit.reject import Method, RejectConfig, augment
    from fengkong.credit.report import evaluate
    from fengkong.credit.train import TrainConfig, train_scorecard

    reg = _registry(config, db_path)
    data = _read(applicants, target, bad, exclude)
    try:
        derived = tuple(Derived.parse(text) for text in derive)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--derive") from None
    cfg = TrainConfig(
        scaling=Scaling(base_score, base_odds, pdo),
        derived=derived,
        derived_in="boost" if derived_in == "boost" else "both",
    )
    if monotonic:
        # The boosted half's tables and pairs need not be monotonic: it is left out.
        cfg = replace(cfg, trends=("monotonic",), boost=None)
    if logistic:
        cfg = replace(cfg, boost=None)
    with tqdm(total=0, desc="inner CV", unit="fit") as bar:

        def tick(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = train_scorecard(data, cfg, tick)
        if rejects is not None:
            rej = _read(rejects, None, bad, (*exclude, target))
            method: Method = "fuzzy" if reject_method == "fuzzy" else "parcelling"
            rc = RejectConfig(method, bad_rate_factor)
            result = train_scorecard(augment(data, rej, result.scorecard, rc), cfg, tick)
            result.scorecard.meta["reject_inference"] = {
                "method": method,
                "rejects": len(rej),
                "bad_rate_factor": bad_rate_factor,
            }
    card = result.scorecard
    y = data.require_outcome()
    scores = card.score_many(data.columns, len(data))
    figures = evaluate(card, y, scores)
    card.meta["metrics"] = {k: figures[k] for k in ("auc", "ks", "brier")}
    version = reg.register(card)
    if challenger:
        reg.set_challenger(version, author="cli")
    else:
        reg.promote(version, author="cli")
    role = "challenger" if challenger else "champion"
    inner = card.meta["inner_cv"]
    click.echo(
        f"scorecard v{version} ({role}): {len(card.variables)} variables, "
        f"{len(card.pairs)} pairs ({card.meta['method']}), "
        f"inner-CV AUC {inner['auc']:.3f} KS {inner['ks']:.3f}; "
        f"chosen {result.chosen['trend']} {result.chosen['form']}, "
        f"min bin {result.chosen['min_bin_size']}, "
        f"C {result.chosen['c']}"
    )
    if html_path is not None:
        # In-sample figures flatter; the inner-CV ones in the summary are the honest ones.
        _report(html_path, card, y, scores, f"scorecard v{version} on its training sample")


@credit.command("evaluate")
@settings_options
@click.argument("applicants", type=_FILE)
@click.option("--target", required=True, help="Outcome column (good/bad).")
@_data_options
@click.option("--version", type=int, help="Scorecard version [default: champion].")
@click.option("--html", "html_path", type=_OUT, help="Write the report here.")
def evaluate_cmd(
    config: Path | None,
    db_path: Path | None,
    applicants: Path,
    target: str,
    exclude: tuple[str, ...],
    bad: tuple[str, ...],
    version: int | None,
    html_path: Path | None,
) -> None:
    """AUC, KS, Brier and calibration of a registered scorecard on labelled applicants."""
    from fengkong.credit.report import evaluate

    card = _card(_registry(config, db_path), version)
    data = _read(applicants, target, bad, exclude)
    y = data.require_outcome()
    scores = card.score_many(data.columns, len(data))
    figures = evaluate(card, y, scores)
    click.echo(json.dumps({k: v for k, v in figures.items() if k != "calibration"}, indent=1))
    if html_path is not None:
        title = f"{card.meta.get('version', 'scorecard')} on {applicants.name}"
        _report(html_path, card, y, scores, title)


@credit.command()
@settings_options
@click.argument("applicants", type=_FILE)
@click.option("--out", "out_path", type=_OUT, required=True, help="CSV of scores and offers.")
@_data_options
@click.option("--version", type=int, help="Scorecard version [default: champion].")
@click.option("--requested", "requested_col", help="Column of the amount asked for.")
@click.option("--term", "term_col", help="Column of the term in months.")
@click.option("--income", "income_col", help="Column of the stated annual income.")
@click.option("--debt", "debt_col", help="Column of the credit already outstanding.")
def score(
    config: Path | None,
    db_path: Path | None,
    applicants: Path,
    out_path: Path,
    exclude: tuple[str, ...],
    bad: tuple[str, ...],
    version: int | None,
    requested_col: str | None,
    term_col: str | None,
    income_col: str | None,
    debt_col: str | None,
) -> None:
    """Score, PD, reasons and (with --requested and --term) the offer of each applicant."""
    from tqdm import tqdm

    from fengkong.credit.offer import OfferPolicy, make_offer

    card = _card(_registry(config, db_path), version)
    data = _read(applicants, None, bad, exclude)
    policy = OfferPolicy()
    for col in (requested_col, term_col, income_col, debt_col):
        if col is not None and col not in data.columns:
            raise click.BadParameter(f"no column {col!r}", param_hint=str(applicants))
    with out_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        header = ["row", "score", "pd", "reasons"]
        offers = requested_col is not None and term_col is not None
        if offers:
            header += ["decision", "tier", "limit", "annual_rate", "term_months", "offer_reasons"]
        writer.writerow(header)
        for i in tqdm(range(len(data)), desc="scoring", unit="applicant"):
            row = data.row(i)
            s = card.score(row)
            reasons = ";".join(r.detail for r in card.reasons(row, s))
            line: list[Any] = [i, round(s.score, 1), round(s.pd, 6), reasons]
            if offers:
                o = make_offer(
                    policy,
                    pd=s.pd,
                    score=s.score,
                    requested=_num(row.get(requested_col or "")),
                    term_months=int(_num(row.get(term_col or ""))),
                    annual_income=_num(row.get(income_col or "")) if income_col else None,
                    exposure=_num(row.get(debt_col or "")) if debt_col else 0.0,
                )
                rate = None if o.annual_rate is None else round(o.annual_rate, 6)
                line += [o.decision, o.tier, o.limit, rate, o.term_months]
                line.append(";".join(o.reasons))
            writer.writerow(line)
    click.echo(f"{len(data)} applicants scored with {card.meta.get('version')}: {out_path}")


def _num(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(f) else f


@credit.command()
@settings_options
@click.argument("applicants", type=_FILE)
@_data_options
@click.option("--version", type=int, help="Scorecard version [default: champion].")
def monitor(
    config: Path | None,
    db_path: Path | None,
    applicants: Path,
    exclude: tuple[str, ...],
    bad: tuple[str, ...],
    version: int | None,
) -> None:
    """PSI of the score and CSI of each variable: recent applicants against training."""
    from fengkong.credit.metrics import stability
    from fengkong.models.drift import level

    card = _card(_registry(config, db_path), version)
    data = _read(applicants, None, bad, exclude)
    report = stability(card, data.columns, len(data))
    psi = report["score_psi"]
    click.echo(f"score PSI {psi:.4f} ({level(psi)}) over {len(data)} applicants")
    click.echo(f"{'variable':<50} {'CSI':>8} {'points shift':>13}")
    ranked = sorted(report["variables"].items(), key=lambda kv: -kv[1]["csi"])
    for name, v in ranked:
        click.echo(f"{name[:50]:<50} {v['csi']:8.4f} {v['points_shift']:13.2f}  {level(v['csi'])}")


@credit.command("list")
@settings_options
def list_cmd(config: Path | None, db_path: Path | None) -> None:
    """Registered scorecards and their roles."""
    for row in _registry(config, db_path).listing():
        auc = "-" if row["auc"] is None else f"{row['auc']:.3f}"
        click.echo(
            f"v{row['version']:<4} {row['role']:<11} {row['variables']:>3} variables  AUC {auc}"
        )


@credit.command()
@settings_options
@click.argument("version", type=int, required=False)
def promote(config: Path | None, db_path: Path | None, version: int | None) -> None:
    """Make VERSION (default: the challenger) the champion."""
    try:
        v = _registry(config, db_path).promote(version, author="cli")
    except (ValueError, KeyError, ScorecardLoadError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"scorecard v{v} is the champion")


@credit.command()
@settings_options
def rollback(config: Path | None, db_path: Path | None) -> None:
    """Return to the previous champion scorecard."""
    try:
        v = _registry(config, db_path).rollback(author="cli")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"scorecard v{v} is the champion again")
