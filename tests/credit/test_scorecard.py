from __future__ import annotations

import math

import numpy as np
import pytest

from fengkong.credit import Applicants, Scaling, Scorecard, fit_bins
from fengkong.credit.train import TrainConfig, fit_scorecard, train_scorecard


def test_numeric_bins_are_monotonic_in_event_rate(applicants: Applicants) -> None:
    for name in ("income", "age", "debt_ratio"):
        b = fit_bins(name, applicants.columns[name], applicants.require_outcome(), "numerical")
        rates = [nb / (ng + nb) for ng, nb in zip(b.n_good[:-1], b.n_bad[:-1], strict=True)]
        assert len(rates) >= 2, name
        diffs = np.diff(rates)
        assert (diffs >= 0).all() or (diffs <= 0).all(), (name, rates)
        # WOE follows the event rate: positive = riskier.
        assert np.all(np.sign(np.diff(b.woe[:-1])) == np.sign(diffs)), name


def test_bins_index_missing_unseen_and_edges(applicants: Applicants) -> None:
    y = applicants.require_outcome()
    b = fit_bins("income", applicants.columns["income"], y, "numerical")
    assert b.index(None) == b.missing_index == b.index(float("nan")) == b.index("x")
    assert b.index(b.splits[0]) == 1  # bins are [a, b): a split value goes right
    c = fit_bins("housing", applicants.columns["housing"], y, "categorical")
    assert c.index("never seen") == c.missing_index
    assert c.index("rent") != c.index("own")
    assert sum(b.n_good) + sum(b.n_bad) == len(y)


def test_points_to_double_the_odds(applicants: Applicants) -> None:
    scaling = Scaling(base_score=600, base_odds=50, pdo=20)
    card = fit_scorecard(applicants, 0.05, "woe", 1.0, scaling=scaling)
    # Uncalibrated, the PD is the model's own: +pdo points halves the odds of bad.
    s0 = 600.0
    odds = [(1 - card.pd_of(s)) / card.pd_of(s) for s in (s0, s0 + 20, s0 + 40)]
    assert odds[0] == pytest.approx(50.0)
    assert odds[1] / odds[0] == pytest.approx(2.0)
    assert odds[2] / odds[0] == pytest.approx(4.0)
    row = applicants.row(3)
    scored = card.score(row)
    assert scored.score == pytest.approx(sum(scored.points))
    assert math.isclose(scored.score, card.score_many(applicants.columns, len(applicants))[3])


def test_reason_codes_name_the_attributes_that_cost_most(applicants: Applicants) -> None:
    card = fit_scorecard(applicants, 0.05, "woe", 1.0)
    housing = max(["own", "free"], key=lambda h: card.score({"housing": h}).score)
    best = {"income": 1e7, "age": 69.0, "debt_ratio": 0.01, "housing": housing}
    worst = {"income": 1000.0, "age": 18.0, "debt_ratio": 0.99, "housing": "rent"}
    assert card.reasons(best, card.score(best)) == []
    reasons = card.reasons(worst, card.score(worst), top=2)
    assert len(reasons) == 2
    assert reasons[0].points_lost >= reasons[1].points_lost > 0
    assert reasons[0].variable == "income"  # the strongest effect in the data
    # Exactly the points lost against the variable's best bin.
    j = card.names.index("income")
    s = card.score(worst)
    assert reasons[0].points_lost == pytest.approx(max(card.points[j]) - s.points[j])


def test_training_chooses_by_inner_cv_and_calibrates(applicants: Applicants) -> None:
    cfg = TrainConfig(
        trends=("monotonic",), min_bin_sizes=(0.05,), forms=("woe", "bins"), cs=(0.1, 1.0)
    )
    result = train_scorecard(applicants, cfg)
    assert len(result.grid) == 4
    best = max(g["auc"] for g in result.grid)
    assert best - cfg.tolerance <= result.chosen["auc"] <= best
    simpler = [g for g in result.grid if g["auc"] >= best - cfg.tolerance]
    form = "woe" if any(g["form"] == "woe" for g in simpler) else "bins"
    assert result.chosen["form"] == form
    assert result.chosen["auc"] == max(g["auc"] for g in result.grid if g["form"] == form)
    card = result.scorecard
    y = applicants.require_outcome()
    pd = card.pd_many(card.score_many(applicants.columns, len(applicants)))
    assert abs(pd.mean() - y.mean()) < 0.03  # calibrated to the bad rate
    again = Scorecard.from_json(card.to_json())
    assert again.score(applicants.row(7)).score == pytest.approx(
        card.score(applicants.row(7)).score
    )


def test_every_bin_has_a_label_count_and_points(applicants: Applicants) -> None:
    card = fit_scorecard(applicants, 0.05, "bins", 1.0)
    for b, pts in zip(card.variables, card.points, strict=True):
        expected = (len(b.splits) + 1 if b.kind == "numerical" else len(b.groups)) + 1
        assert b.n_bins == len(b.labels()) == len(b.n_good) == len(pts) == expected
        assert b.labels()[-1] == "missing"
    rows = card.table()
    assert len(rows) == sum(b.n_bins for b in card.variables)
