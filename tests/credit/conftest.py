"""Small synthetic applicants with a known risk structure, and the German credit file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fengkong.credit import Applicants

GERMAN = Path(__file__).resolve().parents[3] / "shared" / "data" / "credit" / "germancredit.csv"
GERMAN_ALT = Path("/work/shared/data/credit/germancredit.csv")


def synthetic(n: int = 1500, seed: int = 0) -> Applicants:
    """Risk falls with income and age, rises with debt; housing 'rent' is riskier."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(11, 0.5, n)
    age = rng.integers(18, 70, n).astype(float)
    debt = rng.uniform(0, 1, n)
    housing = rng.choice(["own", "rent", "free"], n, p=[0.5, 0.4, 0.1])
    z = -1.0 - 1.2 * (np.log(income) - 11) / 0.5 - 0.03 * (age - 40) + 1.5 * debt
    z += np.where(housing == "rent", 0.6, 0.0)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    income_col: list[float | None] = [float(v) for v in income]
    for i in range(0, n, 50):
        income_col[i] = None  # some missing incomes
    columns = {
        "income": income_col,
        "age": [float(v) for v in age],
        "debt_ratio": [float(v) for v in debt],
        "housing": [str(v) for v in housing],
    }
    kinds = {"income": "numerical", "age": "numerical", "debt_ratio": "numerical"}
    return Applicants(columns, {**kinds, "housing": "categorical"}, y)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def applicants() -> Applicants:
    return synthetic()


def german_path() -> Path | None:
    for p in (GERMAN, GERMAN_ALT):
        if p.exists():
            return p
    return None
