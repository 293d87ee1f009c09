"""The compiled evaluators give the frameworks' own scores."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
from sklearn.ensemble import IsolationForest

from fengkong.models.compiled import CompiledEnsemble, isolation_forest_trees, lightgbm_trees


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    x[:, 3] = rng.integers(0, 3, n)  # many exact zeros
    y = ((x[:, 0] + x[:, 1] * x[:, 2] + (x[:, 3] == 0)) > 0.8).astype(int)
    x[rng.random((n, 6)) < 0.15] = np.nan  # missing values everywhere
    return x, y


def test_compiled_lightgbm_equals_predict() -> None:
    x, y = _data(3000, 0)
    for params in ({}, {"use_missing": False}, {"zero_as_missing": True}):
        booster = lgb.train(
            {
                "objective": "binary",
                "num_leaves": 15,
                "max_depth": 6,
                "verbose": -1,
                "num_threads": 1,
                **params,
            },
            lgb.Dataset(x, y),
            num_boost_round=40,
        )
        ens = CompiledEnsemble(lightgbm_trees(booster.dump_model()), x.shape[1])
        xt, _ = _data(500, 1)
        want = booster.predict(xt, raw_score=True)
        got = np.array([ens.raw(list(map(float, r))) for r in xt])
        assert np.array_equal(got, want), params  # bit-identical, not just close
        contrib = np.array([ens.contributions(list(map(float, r))) for r in xt[:50]])
        assert np.allclose(contrib.sum(axis=1) + ens.bias, want[:50])


def test_compiled_isolation_forest_equals_sklearn() -> None:
    x, _ = _data(2000, 2)
    x = np.nan_to_num(x)
    forest = IsolationForest(n_estimators=20, max_samples=128, random_state=0).fit(x)
    trees, norm = isolation_forest_trees(forest)
    ens = CompiledEnsemble(trees, x.shape[1])
    rows = np.asarray(x[:300], dtype=np.float32).tolist()
    got = np.array([2.0 ** (-(ens.raw(r) / ens.n_trees) / norm) for r in rows])
    assert np.allclose(got, -forest.score_samples(x[:300]), rtol=1e-12, atol=1e-12)
