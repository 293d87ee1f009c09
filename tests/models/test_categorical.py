"""Categorical splits compile bit-identically, NaN and unseen codes included."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from fengkong.models.compiled import CompiledEnsemble, lightgbm_trees


@pytest.mark.parametrize("nan_in_training", [True, False])
def test_categorical_splits_equal_lightgbm(nan_in_training: bool) -> None:
    rng = np.random.default_rng(0)
    n = 4000
    cat = rng.integers(0, 12, n).astype(float)
    num = rng.normal(size=n)
    if nan_in_training:
        cat[rng.random(n) < 0.1] = np.nan
        num[rng.random(n) < 0.1] = np.nan
    logit = np.where(np.isin(cat, [1, 4, 7]), 1.5, -1.0) + np.nan_to_num(num)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    x = np.column_stack([cat, num])
    params = {"objective": "binary", "verbose": -1, "min_data_per_group": 5, "cat_smooth": 1}
    booster = lgb.train(params, lgb.Dataset(x, y, categorical_feature=[0]), num_boost_round=40)
    dump = booster.dump_model()
    trees = lightgbm_trees(dump)
    assert any(t.categories for t in trees), "the test needs categorical splits"
    ens = CompiledEnsemble(trees, 2)
    probe = np.column_stack(
        [
            np.concatenate([np.arange(-2, 20, dtype=float), [np.nan] * 4]),
            np.concatenate([rng.normal(size=22), [np.nan, 0.0, 1.0, -1.0]]),
        ]
    )
    rows = np.vstack([x[:500], probe])
    expected = booster.predict(rows, raw_score=True)
    got = np.array([ens.raw(list(map(float, r))) for r in rows])
    assert np.array_equal(got, expected)
