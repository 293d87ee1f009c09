from __future__ import annotations

import numpy as np
import pytest

from fengkong.credit import Applicants
from fengkong.credit.reject import RejectConfig, augment
from fengkong.credit.train import fit_scorecard

from .conftest import synthetic


def _split(data: Applicants) -> tuple[Applicants, Applicants]:
    """The old policy rejected the riskiest third (by debt ratio): their outcome is unknown."""
    debt = np.asarray(data.columns["debt_ratio"])
    accepted, rejected = np.flatnonzero(debt < 0.66), np.flatnonzero(debt >= 0.66)
    rejects = data.take(rejected)
    rejects.y = None
    return data.take(accepted), rejects


def test_fuzzy_augmentation_weights_each_reject_by_its_pd() -> None:
    accepts, rejects = _split(synthetic(1200, 3))
    card = fit_scorecard(accepts, 0.05, "woe", 1.0)
    both = augment(accepts, rejects, card, RejectConfig("fuzzy"))
    n_a, n_r = len(accepts), len(rejects)
    assert len(both) == n_a + 2 * n_r
    assert both.weight is not None and both.y is not None
    w_bad, w_good = both.weight[n_a : n_a + n_r], both.weight[n_a + n_r :]
    assert np.allclose(w_bad + w_good, 1.0)  # each reject counts once in total
    pd = card.pd_many(card.score_many(rejects.columns, n_r))
    assert np.allclose(w_bad, pd)
    assert (both.y[n_a : n_a + n_r] == 1).all() and (both.y[n_a + n_r :] == 0).all()
    doubled = augment(accepts, rejects, card, RejectConfig("fuzzy", bad_rate_factor=2.0))
    assert doubled.weight is not None
    assert doubled.weight[n_a : n_a + n_r].sum() > w_bad.sum()
    # Training on the augmented sample runs and keeps every variable.
    assert fit_scorecard(both, 0.05, "woe", 1.0).names == card.names


def test_parcelling_labels_each_score_band_at_the_accepts_bad_rate() -> None:
    accepts, rejects = _split(synthetic(1200, 4))
    card = fit_scorecard(accepts, 0.05, "woe", 1.0)
    both = augment(accepts, rejects, card, RejectConfig("parcelling", bad_rate_factor=1.5))
    assert len(both) == len(accepts) + len(rejects) and both.y is not None
    inferred = both.y[len(accepts) :]
    pd = card.pd_many(card.score_many(rejects.columns, len(rejects)))
    # Uplifted by 1.5, the rejects' inferred bad rate sits above what their PD says.
    assert inferred.mean() > pd.mean()
    with pytest.raises(ValueError):
        RejectConfig("parcelling", bad_rate_factor=0)
