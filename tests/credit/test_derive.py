from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from fengkong.credit import Applicants, Scorecard
from fengkong.credit.derive import Derived, with_derived
from fengkong.credit.metrics import auc, stability
from fengkong.credit.stage import CreditStage
from fengkong.credit.train import TrainConfig, train_scorecard
from fengkong.decisions import DecisionContext
from fengkong.events import parse_event

INSTALMENT = Derived.parse("instalment=amount/months")
CROSS = Derived.parse("status=checking&savings")


def _instalment_risk(n: int = 1200, seed: int = 0) -> Applicants:
    """Risk jumps with the monthly instalment amount / months (not additive in the two)."""
    rng = np.random.default_rng(seed)
    amount = rng.uniform(1000, 20000, n)
    months = rng.integers(6, 61, n).astype(float)
    checking = rng.choice(["none", "low", "high"], n)
    savings = rng.choice(["none", "some"], n)
    z = -2.5 + 4.0 * (amount / months > 700)
    z += np.where((checking == "low") & (savings == "none"), 1.0, 0.0)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    columns: dict[str, list[Any]] = {
        "amount": [float(v) for v in amount],
        "months": [float(v) for v in months],
        "checking": [str(v) for v in checking],
        "savings": [str(v) for v in savings],
    }
    kinds: Any = {"amount": "numerical", "months": "numerical"}
    kinds |= {"checking": "categorical", "savings": "categorical"}
    return Applicants(columns, kinds, y)


def test_spellings_and_values() -> None:
    assert (INSTALMENT.op, INSTALMENT.first, INSTALMENT.second) == ("ratio", "amount", "months")
    assert Derived.parse("x = a * b").op == "product"
    assert CROSS.kind == "categorical" and INSTALMENT.kind == "numerical"
    assert Derived.parse(INSTALMENT.spelling()) == INSTALMENT
    assert Derived.from_dict(CROSS.to_dict()) == CROSS
    for bad in ("instalment", "=a/b", "x=a/", "x=a+b"):
        with pytest.raises(ValueError):
            Derived.parse(bad)
    assert INSTALMENT.value(1200, 12) == 100.0
    assert INSTALMENT.value("1200", 12) == 100.0  # a number sent as a string still counts
    assert INSTALMENT.value(1200, 0) is None
    assert INSTALMENT.value(None, 12) is None
    assert INSTALMENT.value("lots", 12) is None
    assert CROSS.value("low", "none") == "low & none"
    assert CROSS.value("low", None) is None
    chained = Derived.parse("per_rate=instalment/rate")
    row = with_derived({"amount": 1200, "months": 12, "rate": 4}, [INSTALMENT, chained])
    assert row["per_rate"] == 25.0


def test_card_computes_its_derived_attributes_everywhere() -> None:
    data = _instalment_risk()
    train, test = data.take(range(900)), data.take(range(900, 1200))
    cfg = TrainConfig(cs=(0.3,), forms=("woe",), boost=None, oof_calibration=False)
    plain = train_scorecard(train, cfg).scorecard
    card = train_scorecard(train, replace(cfg, derived=(INSTALMENT, CROSS)))
    served = Scorecard.from_json(card.scorecard.to_json())
    assert served.names[-2:] == ["instalment", "status"]
    y = test.require_outcome()
    with_it = auc(y, -served.score_many(test.columns, len(test)))
    without = auc(y, -plain.score_many(test.columns, len(test)))
    assert with_it > without + 0.05, (with_it, without)
    # One applicant's raw attributes: the same score one at a time, column-wise and in the
    # pipeline stage, and the reasons can name a derived attribute.
    raw = test.row(0)
    assert served.score(raw).score == pytest.approx(served.score_many(test.columns, 300)[0])
    ctx = DecisionContext(
        parse_event(
            {
                "event_id": "c1",
                "type": "credit_application",
                "user_id": "u1",
                "occurred_at": "2026-11-01T00:00:00+00:00",
                "application": {
                    "requested_amount": 5000,
                    "term_months": 12,
                    "stated_income": 150000,
                    "applicant": raw,
                },
            }
        )
    )
    CreditStage(served).run(ctx)
    assert ctx.offer is not None
    assert ctx.offer["score"] == pytest.approx(served.score(raw).score, abs=0.1)
    worst = {"amount": 20000.0, "months": 6.0, "checking": "low", "savings": "none"}
    codes = [code for code, _ in served.reason_codes(worst, served.score(worst))]
    assert "credit_instalment" in codes
    drift = stability(served, test.columns, len(test))
    assert set(drift["variables"]) >= {"instalment", "status"}


def test_derived_attributes_in_the_boosted_half_only() -> None:
    data = _instalment_risk(600, seed=1)
    cfg = TrainConfig(cs=(0.3,), forms=("woe",), oof_calibration=False, derived=(INSTALMENT,))
    result = train_scorecard(data, replace(cfg, derived_in="boost"))
    card, alone = result.scorecard, result.logistic
    assert alone is not None
    assert "instalment" not in alone.names and alone.derived == []
    assert "instalment" in card.names and card.derived == [INSTALMENT]
    assert result.scorecard.meta["config"]["derived_in"] == "boost"
    # Without a boosted half the logistic card is served, and it gets them.
    lone = train_scorecard(data, replace(cfg, derived_in="boost", boost=None)).scorecard
    assert "instalment" in lone.names
