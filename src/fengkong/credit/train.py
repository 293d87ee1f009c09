"""Training a scorecard: optimal bins, a regularised logistic model, choices by inner CV.

Every choice (minimum bin size, WOE or per-bin coefficients, the L2 strength) is made
by cross-validation *inside* the training data; the PD calibration is fitted on the
out-of-fold scores of the chosen setting, so it is not flattered by the training fit.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np

from fengkong.credit.binning import Bins, Trend, fit_bins
from fengkong.credit.boost import BoostConfig, ebm_log_odds, fit_ebm, merge, terms_of
from fengkong.credit.data import Applicants
from fengkong.credit.derive import Derived
from fengkong.credit.metrics import auc, ks, score_reference
from fengkong.credit.scorecard import Scaling, Scorecard

Form = Literal["woe", "bins"]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TrainConfig:
    """The grid the inner CV chooses from, and the scaling of the points.

    ``trends``: ``monotonic`` bins (event rate rising or falling with the value) or
    optbinning's ``auto`` trend, which may also be one peak or valley. ``forms``: ``woe``
    (one coefficient per variable times the bin's WOE, the classic scorecard) or ``bins``
    (one L2-shrunk coefficient per bin). The simplest structure (monotonic, then WOE)
    within ``tolerance`` of the best inner-CV AUC is chosen, and within it the best
    bin size and shrinkage.
    ``min_iv``: variables whose information value is below it are left out.
    ``boost``: the served card is the equal-weight average (in log-odds) of this
    scorecard and an explainable boosting machine with ``boost``'s settings (main
    effects merged into each attribute's bins, interactions as pair characteristics);
    ``None`` serves the logistic scorecard alone. ``oof_calibration``: fit the PD
    calibration on out-of-fold scores (with ``boost``, that refits the boosted model
    once per inner fold); ``False`` calibrates on the training scores (ranking, AUC
    and KS are the same; the benchmark uses it to save the refits). ``derived``:
    attributes computed from the raw ones (:mod:`fengkong.credit.derive`), binned and
    scored like the others; the served card computes them itself. ``derived_in``:
    ``both`` halves see them, or only the ``boost``ed half (the logistic card is fitted
    on the raw attributes; with no boosted half they go to the logistic card).

    The default grid is small on purpose: on German credit (folds other than the
    benchmark's) a wider grid (monotonic or automatic trend, bins of 5 or 10 %, C down
    to 0.03) chose worse settings in noisy inner folds than this one did.
    """

    trends: tuple[Trend, ...] = ("auto",)
    min_bin_sizes: tuple[float, ...] = (0.05,)
    forms: tuple[Form, ...] = ("woe", "bins")
    cs: tuple[float, ...] = (0.1, 0.3, 1.0)
    min_iv: float = 0.0
    tolerance: float = 0.002
    inner_folds: int = 5
    seed: int = 0
    scaling: Scaling = field(default_factory=Scaling)
    boost: BoostConfig | None = field(default_factory=BoostConfig)
    oof_calibration: bool = True
    derived: tuple[Derived, ...] = ()
    derived_in: Literal["both", "boost"] = "both"


@dataclass
class TrainResult:
    scorecard: Scorecard
    chosen: dict[str, Any]
    grid: list[dict[str, Any]]
    oof_scores: np.ndarray[Any, Any]
    # The logistic half alone (the served card is itself when there is no boosted half).
    logistic: Scorecard | None = None


def _design(bins: list[Bins], data: Applicants, form: Form) -> np.ndarray[Any, Any]:
    idx = [b.indices(data.columns[b.name]) for b in bins]
    if form == "woe":
        return np.column_stack([np.asarray(b.woe)[i] for b, i in zip(bins, idx, strict=True)])
    blocks = []
    for b, i in zip(bins, idx, strict=True):
        block = np.zeros((len(i), b.n_bins))
        block[np.arange(len(i)), i] = 1.0
        blocks.append(block)
    return np.hstack(blocks)


def _fit_lr(
    x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], c: float, w: np.ndarray[Any, Any] | None
) -> Any:
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LogisticRegression(C=c, max_iter=3000).fit(x, y, sample_weight=w)


def bin_all(
    data: Applicants, min_bin_size: float, min_iv: float = 0.0, trend: Trend = "monotonic"
) -> list[Bins]:
    """Optimal bins of every variable (those below ``min_iv`` left out)."""
    y = data.require_outcome()
    out = []
    for name in data.names:
        b = fit_bins(
            name,
            data.columns[name],
            y,
            data.kinds[name],
            min_bin_size=min_bin_size,
            weight=data.weight,
            trend=trend,
        )
        if b.iv() >= min_iv:
            out.append(b)
    return out


def fit_scorecard(
    data: Applicants,
    min_bin_size: float,
    form: Form,
    c: float,
    *,
    scaling: Scaling | None = None,
    min_iv: float = 0.0,
    trend: Trend = "monotonic",
) -> Scorecard:
    """One scorecard with fixed settings (no selection, no calibration)."""
    bins, contrib, intercept = _fit_logistic(data, min_bin_size, form, c, min_iv, trend)
    meta = {"trend": trend, "min_bin_size": min_bin_size, "form": form, "c": c, "min_iv": min_iv}
    return Scorecard.from_log_odds(bins, contrib, intercept, scaling or Scaling(), meta=meta)


def _fit_logistic(
    data: Applicants, min_bin_size: float, form: Form, c: float, min_iv: float, trend: Trend
) -> tuple[list[Bins], list[list[float]], float]:
    """Bins, per-bin log-odds contributions and the intercept of the logistic card."""
    y = data.require_outcome()
    bins = bin_all(data, min_bin_size, min_iv, trend)
    if not bins:
        raise ValueError(f"no variable reaches an information value of {min_iv}")
    model = _fit_lr(_design(bins, data, form), y, c, data.weight)
    coef, intercept = model.coef_[0], float(model.intercept_[0])
    if form == "woe":
        contrib = [[float(coef[j]) * w for w in b.woe] for j, b in enumerate(bins)]
    else:
        contrib, at = [], 0
        for b in bins:
            contrib.append([float(v) for v in coef[at : at + b.n_bins]])
            at += b.n_bins
    return bins, contrib, intercept


def blend_with_boost(
    data: Applicants,
    card: tuple[list[Bins], list[list[float]], float],
    model: Any,
    scaling: Scaling,
    meta: dict[str, Any],
) -> Scorecard:
    """The equal-weight log-odds average of the logistic card and a fitted EBM.

    Both are sums of per-attribute tables, so the average is one too: each attribute's
    bins refine both models' bins, and the EBM's interactions become pair
    characteristics (half their log-odds, like every other term).
    """
    bins, contrib, intercept = card
    terms = terms_of(model, data)
    mine = {b.name: (b, c) for b, c in zip(bins, contrib, strict=True)}
    variables, parts = [], []
    for name in data.names:
        ours, boosted = mine.get(name), terms.main.get(name)
        if ours is None and boosted is None:
            continue
        if ours is None or boosted is None:
            b, c = ours or boosted  # type: ignore[misc]
            merged, mc = b, list(c)
        else:
            merged, mc = merge(ours[0], ours[1], boosted[0], boosted[1], data)
        variables.append(merged)
        parts.append([0.5 * v for v in mc])
    pairs = [p.scaled(0.5) for p in terms.pairs]
    centre = 0.5 * (intercept + terms.intercept)
    return Scorecard.from_log_odds(variables, parts, centre, scaling, meta=meta, pairs=pairs)


class Setting(NamedTuple):
    """One point of the grid."""

    trend: Trend
    min_bin_size: float
    form: Form
    c: float


def _folds(y: np.ndarray[Any, Any], k: int, seed: int) -> list[tuple[Any, Any]]:
    from sklearn.model_selection import StratifiedKFold

    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def _oof_grid(
    data: Applicants, cfg: TrainConfig, progress: Progress | None
) -> tuple[dict[Setting, np.ndarray[Any, Any]], dict[Setting, list[float]]]:
    """Out-of-fold log-odds of bad, and the AUC of each fold, for every setting."""
    y = data.require_outcome()
    folds = _folds(y, cfg.inner_folds, cfg.seed)
    grid = [
        Setting(*p) for p in itertools.product(cfg.trends, cfg.min_bin_sizes, cfg.forms, cfg.cs)
    ]
    oof = {key: np.zeros(len(y)) for key in grid}
    fold_auc: dict[Setting, list[float]] = {key: [] for key in grid}
    binnings = sorted({(k.trend, k.min_bin_size) for k in grid})
    steps, done = len(folds) * len(binnings), 0
    for train_idx, valid_idx in folds:
        fold, held = data.take(train_idx), data.take(valid_idx)
        for trend, mbs in binnings:
            bins = bin_all(fold, mbs, cfg.min_iv, trend) or bin_all(fold, mbs, 0.0, trend)
            for form in cfg.forms:
                xt, xv = _design(bins, fold, form), _design(bins, held, form)
                for c in cfg.cs:
                    key = Setting(trend, mbs, form, c)
                    z = _fit_lr(xt, fold.require_outcome(), c, fold.weight).decision_function(xv)
                    oof[key][valid_idx] = z
                    fold_auc[key].append(auc(held.require_outcome(), z))
            done += 1
            if progress is not None:
                progress(done, steps)
    return oof, fold_auc


def _choose(mean_auc: dict[Setting, float], tolerance: float) -> Setting:
    """The best setting of the simplest structure within ``tolerance`` of the best.

    Scores are the mean of the folds' AUCs, not the pooled one (which also punishes
    settings whose scale moves between folds). Structures from simplest: monotonic bins
    before the automatic trend, the WOE form before per-bin coefficients; a more flexible
    structure must beat the simpler one by more than noise. Within the structure chosen
    the bin size and the shrinkage go to the best mean AUC.
    """
    top = max(mean_auc.values())

    def simplicity(k: Setting) -> tuple[bool, bool]:
        return (k.trend != "monotonic", k.form != "woe")

    structure = min(simplicity(k) for k, v in mean_auc.items() if v >= top - tolerance)
    return max((k for k in mean_auc if simplicity(k) == structure), key=lambda k: mean_auc[k])


def calibrate(scores: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> tuple[float, float]:
    """Platt scaling ``PD = σ(a + b · score)`` on (out-of-fold) scores."""
    model = _fit_lr(scores.reshape(-1, 1), y, 1e6, None)
    return float(model.intercept_[0]), float(model.coef_[0][0])


def _oof_boost(data: Applicants, cfg: TrainConfig, boost: BoostConfig) -> np.ndarray[Any, Any]:
    """Out-of-fold log-odds of the boosted model on the inner folds."""
    y = data.require_outcome()
    out = np.zeros(len(y))
    for train_idx, valid_idx in _folds(y, cfg.inner_folds, cfg.seed):
        model = fit_ebm(data.take(train_idx), boost, cfg.seed)
        out[valid_idx] = ebm_log_odds(model, data.take(valid_idx))
    return out


def train_scorecard(
    data: Applicants, cfg: TrainConfig | None = None, progress: Progress | None = None
) -> TrainResult:
    """Choose the settings by inner CV, refit on all of ``data``, calibrate the PD."""
    cfg = cfg or TrainConfig()
    full = data.with_derived(cfg.derived)
    in_logistic = cfg.derived_in == "both" or cfg.boost is None
    data = full if in_logistic else data
    y = data.require_outcome()
    if len(y) < 10 * cfg.inner_folds or min(int(y.sum()), int(len(y) - y.sum())) < cfg.inner_folds:
        raise ValueError("too few applicants (or too few goods or bads) for inner CV")
    from threadpoolctl import threadpool_limits

    # Hundreds of small fits: BLAS threads only fight each other (5x slower on 2 cores).
    with threadpool_limits(1):
        oof, fold_auc = _oof_grid(data, cfg, progress)
    mean_auc = {k: float(np.mean(v)) for k, v in fold_auc.items()}
    key = _choose(mean_auc, cfg.tolerance)
    grid = [{**k._asdict(), "auc": mean_auc[k], "ks": ks(y, oof[k])} for k in mean_auc]
    best = {**key._asdict(), "auc": mean_auc[key], "ks": ks(y, oof[key])}
    logistic = _fit_logistic(data, key.min_bin_size, key.form, key.c, cfg.min_iv, key.trend)
    meta: dict[str, Any] = {**key._asdict(), "min_iv": cfg.min_iv, "method": "logistic"}
    oof_log_odds = oof[key]
    # Out-of-fold figures of the served card: the chosen setting's, or the blend's.
    served_cv = {"auc": best["auc"], "ks": best["ks"]}
    alone = Scorecard.from_log_odds(*logistic, cfg.scaling, meta=dict(meta))
    if cfg.boost is None:
        card = alone
    else:
        meta.update({"method": "logistic+ebm", "boost": asdict(cfg.boost)})
        with threadpool_limits(1):
            model = fit_ebm(full, cfg.boost, cfg.seed)
            card = blend_with_boost(full, logistic, model, cfg.scaling, meta)
            if cfg.oof_calibration:
                oof_log_odds = 0.5 * oof[key] + 0.5 * _oof_boost(full, cfg, cfg.boost)
                served_cv = {"auc": auc(y, oof_log_odds), "ks": ks(y, oof_log_odds)}
            else:
                oof_log_odds = np.asarray(
                    [cfg.scaling.log_odds_bad(s) for s in card.score_many(full.columns, len(y))]
                )
    oof_scores = np.asarray([cfg.scaling.score(v) for v in oof_log_odds])
    card.derived = list(cfg.derived)
    if in_logistic:
        alone.derived = list(cfg.derived)
    card.calibration = calibrate(oof_scores, y)
    card.meta["score_ref"] = score_reference(card.score_many(data.columns, len(y)))
    card.meta.update(
        {
            "inner_cv": {**served_cv, "folds": cfg.inner_folds},
            "config": {k: v for k, v in asdict(cfg).items() if k != "scaling"},
            "rows": len(y),
            "bad_rate": float(y.mean()),
        }
    )
    return TrainResult(card, best, grid, oof_scores, alone)
