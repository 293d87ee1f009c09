"""Reject inference: give rejected applicants an inferred outcome and train on both.

A scorecard trained on accepted applicants only learns from a population the old policy
chose; rejected applicants never got a chance to default. Both methods here start from
the accepts-only ("known good/bad") scorecard and score the rejects with it:

* **fuzzy augmentation**: every reject enters twice, once as bad with weight
  ``w · p`` and once as good with weight ``w · (1 − p)``, where ``p`` is its PD
  (times ``bad_rate_factor``, capped at 1) and ``w`` is ``reject_weight``;
* **parcelling**: rejects are cut into bands of the accepts' score deciles; in each
  band a random share of them, equal to the accepts' bad rate in the band times
  ``bad_rate_factor``, is labelled bad, the rest good.

Assumptions, stated because the answer depends on them: the outcome of a reject depends
on the scorecard's variables the same way as for an accept with the same values (missing
at random given the variables), except for the ``bad_rate_factor`` uplift an analyst may
set (> 1 when rejects are thought worse than their score says, which is usual since the
old policy also saw things the scorecard does not); rejects are from the same period and
product as the accepts. Nothing here can check these assumptions; the figures on
accepts-only data cannot tell whether inference helped, only a later sample of
(partly) approved former rejects can.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from fengkong.credit.data import Applicants, DataError
from fengkong.credit.scorecard import Scorecard

Method = Literal["fuzzy", "parcelling"]


@dataclass(frozen=True)
class RejectConfig:
    method: Method = "fuzzy"
    bad_rate_factor: float = 1.0
    reject_weight: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.bad_rate_factor <= 0 or self.reject_weight <= 0:
            raise ValueError("bad_rate_factor and reject_weight must be > 0")


def _combine(accepts: Applicants, extra: Applicants) -> Applicants:
    cols = {
        n: [*accepts.columns[n], *extra.columns.get(n, [None] * len(extra))] for n in accepts.names
    }
    y = np.concatenate([accepts.require_outcome(), extra.require_outcome()])
    w_acc = np.ones(len(accepts)) if accepts.weight is None else accepts.weight
    assert extra.weight is not None
    return Applicants(cols, dict(accepts.kinds), y, np.concatenate([w_acc, extra.weight]))


def _rows(
    rejects: Applicants, index: np.ndarray[Any, Any], names: list[str]
) -> dict[str, list[Any]]:
    return {
        n: [rejects.columns[n][i] for i in index] if n in rejects.columns else [None] * len(index)
        for n in names
    }


def augment(
    accepts: Applicants, rejects: Applicants, card: Scorecard, cfg: RejectConfig | None = None
) -> Applicants:
    """Accepts plus rejects with inferred outcomes (and weights), ready to train on."""
    cfg = cfg or RejectConfig()
    accepts.require_outcome()
    if len(rejects) == 0:
        raise DataError("the rejects file has no rows")
    scores = card.score_many(rejects.columns, len(rejects))
    pd = np.minimum(1.0, card.pd_many(scores) * cfg.bad_rate_factor)
    names = accepts.names
    if cfg.method == "fuzzy":
        index = np.concatenate([np.arange(len(rejects)), np.arange(len(rejects))])
        y = np.concatenate([np.ones(len(rejects)), np.zeros(len(rejects))]).astype(np.int64)
        w = np.concatenate([pd, 1.0 - pd]) * cfg.reject_weight
    else:
        acc_scores = card.score_many(accepts.columns, len(accepts))
        edges = np.quantile(acc_scores, np.linspace(0, 1, 11)[1:-1])
        acc_band = np.searchsorted(edges, acc_scores, side="right")
        rej_band = np.searchsorted(edges, scores, side="right")
        y_acc = accepts.require_outcome()
        rng = np.random.default_rng(cfg.seed)
        y = np.zeros(len(rejects), dtype=np.int64)
        for band in np.unique(rej_band):
            members = np.flatnonzero(rej_band == band)
            in_band = y_acc[acc_band == band]
            rate = float(in_band.mean()) if in_band.size else float(y_acc.mean())
            n_bad = round(min(1.0, rate * cfg.bad_rate_factor) * members.size)
            y[rng.choice(members, size=n_bad, replace=False)] = 1
        index = np.arange(len(rejects))
        w = np.full(len(rejects), cfg.reject_weight)
    extra = Applicants(_rows(rejects, index, names), dict(accepts.kinds), y, w)
    return _combine(accepts, extra)
