"""Reason codes: a feature's contribution to a score, said the way an analyst says it."""

from __future__ import annotations

import math
import re

# (pattern on the feature name, code, template). ``{w}`` is the window, ``{v}`` the value.
_PHRASES: tuple[tuple[str, str, str], ...] = (
    (r"event\.amount$", "high_amount", "amount {v} is high for this kind of payment"),
    (
        r"user\.amount_ratio_(\w+)$",
        "amount_above_customer_habit",
        "amount is {v}× the customer's mean over {w}",
    ),
    (
        r"user\.amount_zscore_(\w+)$",
        "amount_above_customer_habit",
        "amount is {v} standard deviations from the customer's mean over {w}",
    ),
    (
        r"user\.amount_percentile_(\w+)$",
        "amount_above_customer_habit",
        "amount is above {v} % of the customer's payments over {w}",
    ),
    (
        r"user\.amount_mean_(\w+)$",
        "customer_spending_level",
        "the customer's mean amount over {w} is {v}",
    ),
    (r"user\.events_(\w+)$", "customer_velocity", "the customer made {v} payments in {w}"),
    (
        r"merchant\.known_fraud_rate_(\w+)$",
        "merchant_recent_fraud",
        "{v} of this merchant/terminal's payments in a {w} window were confirmed fraud",
    ),
    (
        r"merchant\.known_frauds_(\w+)$",
        "merchant_recent_fraud",
        "{v} confirmed frauds at this merchant/terminal in a {w} window",
    ),
    (
        r"user\.known_fraud_rate_(\w+)$",
        "customer_recent_fraud",
        "{v} of the customer's payments in a {w} window were confirmed fraud",
    ),
    (
        r"user\.known_frauds_(\w+)$",
        "customer_recent_fraud",
        "{v} confirmed frauds on this customer in a {w} window",
    ),
    (r"merchant\.(\w+)$", "merchant_activity", "merchant/terminal activity ({name} = {v})"),
    (r"device\.(\w+)$", "device_risk", "device signal {name} = {v}"),
    (r"ip24?\.(\w+)$", "network_risk", "network signal {name} = {v}"),
    (r"user\.is_new_(\w+)$", "new_{w}", "first time the customer uses this {w}"),
    (r"user\.(\w+)$", "customer_behaviour", "customer behaviour {name} = {v}"),
)
_COMPILED = [(re.compile(p), c, t) for p, c, t in _PHRASES]


def _window(w: str) -> str:
    m = re.fullmatch(r"(\d+)(m|h|d)", w)
    if m is None:
        return w.replace("_", " ")
    n, unit = m.groups()
    word = {"m": "minute", "h": "hour", "d": "day"}[unit]
    if unit == "h" and n == "24":
        return "1 day"
    return f"{n} {word}{'s' if n != '1' else ''}"


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "unknown"
    if value == int(value) and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


def describe(name: str, value: float) -> tuple[str, str]:
    """``(code, detail)`` for a feature pushing the score up."""
    for pattern, code, template in _COMPILED:
        m = pattern.match(name)
        if m is not None:
            w = m.group(1) if m.groups() else ""
            v = _fmt(value)
            if "fraud_rate" in name and not math.isnan(value):
                v = f"{value:.0%}"
            return code.format(w=w), template.format(w=_window(w), v=v, name=name)
    return "model_signal", f"{name} = {_fmt(value)}"
