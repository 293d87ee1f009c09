from __future__ import annotations

import numpy as np
import pytest

from fengkong.credit import read_csv
from fengkong.credit.metrics import auc, ks
from fengkong.credit.train import TrainConfig, train_scorecard

from .conftest import german_path


@pytest.mark.timeout(600)
@pytest.mark.skipif(german_path() is None, reason="../shared/data/credit/germancredit.csv absent")
def test_german_credit_holdout() -> None:
    path = german_path()
    assert path is not None
    data = read_csv(path, "creditability")
    assert len(data) == 1000 and data.require_outcome().mean() == pytest.approx(0.3)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(data))
    train, test = data.take(order[:700]), data.take(order[700:])
    cfg = TrainConfig(min_bin_sizes=(0.05,), cs=(0.1, 0.3), inner_folds=4)
    card = train_scorecard(train, cfg).scorecard
    scores = card.score_many(test.columns, len(test))
    y = test.require_outcome()
    # Published WOE-logistic figures on this set sit near 0.78 AUC; a broken binning or
    # sign would fall far below.
    assert auc(y, -scores) > 0.74
    assert ks(y, -scores) > 0.38
    assert abs(card.pd_many(scores).mean() - y.mean()) < 0.06
