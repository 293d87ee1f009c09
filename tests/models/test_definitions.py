"""Feature files: definitions, built-in sets by name, the known-fraud block, errors."""

from __future__ import annotations

import pytest

from fengkong.models.dataset import PAYMENT_FEATURES
from fengkong.models.definitions import FeatureFileError, parse_feature_lines


def test_lines_sets_and_comments() -> None:
    texts, known_fraud = parse_feature_lines(
        [
            "# bureau columns",
            "value(attributes.score)  # numeric",
            "",
            "category(attributes.channel)",
            "payments",
            "count(event) by user over 1d",  # already in `payments`: kept once
        ]
    )
    assert texts[:2] == ("value(attributes.score)", "category(attributes.channel)")
    assert texts[2:] == PAYMENT_FEATURES
    assert known_fraud is False
    assert parse_feature_lines(["value(amount)", "known_fraud"]) == (("value(amount)",), True)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["value(attributes.a)", "mean(attributes.a) by planet over 1d"], r"f:2: unknown entity"),
        (["bogus"], r"f:1: cannot parse"),
        (["# nothing"], "no feature definitions"),
        (["value(attributes.a)", "category(attributes.a)"], "two definitions produce"),
    ],
)
def test_errors_name_the_line(lines: list[str], message: str) -> None:
    with pytest.raises(FeatureFileError, match=message):
        parse_feature_lines(lines, "f")
