"""The boosted half of the scorecard: EBM tables served as points, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from fengkong.credit import Applicants, Scaling, Scorecard, fit_bins
from fengkong.credit.boost import BoostConfig, ebm_log_odds, fit_ebm, merge
from fengkong.credit.train import TrainConfig, _fit_logistic, blend_with_boost, train_scorecard

from .conftest import synthetic

SMALL = BoostConfig(interactions=2, outer_bags=2)


@pytest.fixture(scope="module")
def halves() -> tuple[Applicants, Applicants, Scorecard, Scorecard, np.ndarray]:  # type: ignore[type-arg]
    data = synthetic(900, seed=3)
    train, test = data.take(range(600)), data.take(range(600, 900))
    model = fit_ebm(train, SMALL)
    logistic = _fit_logistic(train, 0.05, "woe", 0.3, 0.0, "auto")
    blend = blend_with_boost(train, logistic, model, Scaling(), {})
    alone = Scorecard.from_log_odds(*logistic, Scaling())
    return train, test, blend, alone, ebm_log_odds(model, test)


def _log_odds(card: Scorecard, data: Applicants) -> np.ndarray:  # type: ignore[type-arg]
    scores = card.score_many(data.columns, len(data))
    return np.asarray([card.scaling.log_odds_bad(s) for s in scores])


def test_blend_is_the_average_of_the_ebm_and_the_logistic_card(halves: tuple) -> None:  # type: ignore[type-arg]
    _, test, blend, alone, ebm = halves
    want = 0.5 * ebm + 0.5 * _log_odds(alone, test)
    got = _log_odds(blend, test)
    np.testing.assert_allclose(got, want, atol=1e-9)
    # One applicant at a time (the serving path) gives the same sum, missing income too.
    for i in (0, 1, 50, 150):
        row = test.row(i)
        assert blend.score(row).score == pytest.approx(blend.score_many(test.columns, 300)[i])
    assert test.row(150)["income"] is None
    assert len(blend.pairs) == 2


def test_pairs_survive_the_artefact_and_give_reasons(halves: tuple) -> None:  # type: ignore[type-arg]
    _, test, blend, _, _ = halves
    again = Scorecard.from_json(blend.to_json())
    assert len(again.pairs) == len(blend.pairs)
    for i in range(20):
        assert again.score(test.row(i)).score == pytest.approx(blend.score(test.row(i)).score)
    nv = len(blend.variables)
    for i in range(test.__len__()):
        row = test.row(i)
        scored = blend.score(row)
        for r in blend.reasons(row, scored, top=len(scored.points)):
            if "*" not in r.variable:
                continue
            j = nv + [p.name for p in blend.pairs].index(r.variable)
            pair = blend.pairs[j - nv]
            best = max(max(cells) for cells in pair.points)
            assert r.points_lost == pytest.approx(best - scored.points[j])
            assert " × " in r.bin
            return
    pytest.fail("no applicant lost points on a pair")


def test_table_lists_pair_cells_with_counts(halves: tuple) -> None:  # type: ignore[type-arg]
    train, _, blend, _, _ = halves
    rows = blend.table()
    pair_rows = [r for r in rows if "*" in r["variable"]]
    assert pair_rows and all(r["n_good"] + r["n_bad"] > 0 for r in pair_rows)
    for p in blend.pairs:
        assert sum(r["n_good"] + r["n_bad"] for r in pair_rows if r["variable"] == p.name) == len(
            train
        )


def test_merged_bins_refine_both() -> None:
    data = synthetic(800, seed=5)
    y = data.require_outcome()
    a = fit_bins("age", data.columns["age"], y, "numerical", min_bin_size=0.2)
    b = fit_bins("age", data.columns["age"], y, "numerical", min_bin_size=0.05)
    ca, cb = [float(i) for i in range(a.n_bins)], [10.0 * i for i in range(b.n_bins)]
    m, cm = merge(a, ca, b, cb, data)
    for v in [None, 17.0, 18.0, 30.5, 45.0, 69.0, 99.0, *a.splits, *b.splits]:
        assert cm[m.index(v)] == ca[a.index(v)] + cb[b.index(v)]
    h = fit_bins("housing", data.columns["housing"], y, "categorical")
    ch, dh = [float(i) for i in range(h.n_bins)], [10.0 * i for i in range(h.n_bins)]
    m, cm = merge(h, ch, h, dh, data)
    for c in ("own", "rent", "free", "never seen", None):
        assert cm[m.index(c)] == ch[h.index(c)] + dh[h.index(c)]


def test_training_blends_and_calibrates_out_of_fold() -> None:
    data = synthetic(1200, seed=7)
    cfg = TrainConfig(forms=("woe",), cs=(0.3,), inner_folds=3, boost=SMALL)
    result = train_scorecard(data, cfg)
    card = result.scorecard
    assert card.meta["method"] == "logistic+ebm" and len(card.pairs) == 2
    assert result.logistic is not None and not result.logistic.pairs
    y = data.require_outcome()
    pd = card.pd_many(card.score_many(data.columns, len(data)))
    assert abs(pd.mean() - y.mean()) < 0.03
    assert 0.5 < card.meta["inner_cv"]["auc"] < 1.0  # the blend's out-of-fold AUC


def test_cached_reason_codes_match_the_reasons(halves: tuple) -> None:  # type: ignore[type-arg]
    _, test, blend, _, _ = halves
    for i in range(60):
        row = test.row(i)
        scored = blend.score(row)
        for top in (4, len(scored.points)):
            want = [(r.code, r.detail) for r in blend.reasons(row, scored, top)]
            # Twice: the second call reads the cached per-bin text.
            assert blend.reason_codes(row, scored, top) == want
            assert blend.reason_codes(row, scored, top) == want
