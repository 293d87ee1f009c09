"""The offer policy: from PD, stated income and exposure to a tier, a limit and a price.

``annual rate = cost of funds + PD × LGD + operating cost + tier margin`` (PD is the
scorecard's probability of default over its outcome window, read as one year). The
limit is the smallest of the amount asked, the tier's multiple of monthly income, and
what keeps total debt (existing exposure + this limit) within ``max_debt_to_income`` of
annual income, rounded down to ``limit_step``. An applicant is declined when the PD is
above the last tier, when the rate would pass ``max_rate`` or when the limit falls below
``min_limit``.

Fraud is a second dimension: a batch-registration or takeover signal (or a fraud stage
that already asked for review or a block) turns the offer into review or decline,
whatever the credit score.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

OfferDecision = Literal["approve", "review", "decline"]
SignalKind = Literal["batch_registration", "account_takeover"]
Op = Literal[">=", "<", "=="]
_SEVERITY: dict[OfferDecision, int] = {"approve": 0, "review": 1, "decline": 2}


@dataclass(frozen=True)
class Tier:
    """A risk tier: PDs up to ``max_pd``, priced with ``margin``, limit up to
    ``income_multiple`` monthly incomes, terms up to ``max_term_months``."""

    name: str
    max_pd: float
    margin: float
    income_multiple: float
    max_term_months: int
    decision: OfferDecision = "approve"


DEFAULT_TIERS: tuple[Tier, ...] = (
    Tier("A", 0.02, 0.020, 6.0, 36),
    Tier("B", 0.05, 0.030, 4.0, 36),
    Tier("C", 0.10, 0.040, 3.0, 24),
    Tier("D", 0.16, 0.050, 1.5, 12),
    Tier("E", 0.22, 0.050, 1.0, 12, "review"),
)


@dataclass(frozen=True)
class Condition:
    """``feature op value`` on the decision context's features and facts."""

    feature: str
    op: Op
    value: float | bool | str

    def holds(self, read: Callable[[str], Any]) -> bool:
        v = read(self.feature)
        if v is None:
            return False
        if self.op == "==":
            return bool(v == self.value)
        if isinstance(v, bool) or not isinstance(v, int | float):
            return False
        target = float(self.value)
        return v >= target if self.op == ">=" else v < target


@dataclass(frozen=True)
class FraudSignal:
    """A named fraud signal: all its conditions hold → the offer is at least ``outcome``."""

    name: str
    kind: SignalKind
    when: tuple[Condition, ...]
    outcome: OfferDecision

    def fires(self, read: Callable[[str], Any]) -> bool:
        return all(c.holds(read) for c in self.when)


def _target(c: Condition) -> float | None:
    """The number an ordering condition compares with (``None`` if it is not one)."""
    if c.op == "==":
        return None
    try:
        return float(c.value)
    except (TypeError, ValueError):
        return None


def _c(feature: str, op: Op, value: float | bool | str) -> Condition:
    return Condition(feature, op, value)


DEFAULT_SIGNALS: tuple[FraudSignal, ...] = (
    FraudSignal(
        "emulator", "batch_registration", (_c("device.is_emulator", "==", True),), "decline"
    ),
    FraudSignal(
        "device_farm",
        "batch_registration",
        (_c("device.accounts_registered_24h", ">=", 3),),
        "decline",
    ),
    FraudSignal(
        "shared_id", "batch_registration", (_c("id_number.accounts_30d", ">=", 2),), "decline"
    ),
    FraudSignal(
        "shared_device", "batch_registration", (_c("device.distinct_users_30d", ">=", 3),), "review"
    ),
    FraudSignal(
        "shared_phone", "batch_registration", (_c("phone.accounts_7d", ">=", 2),), "review"
    ),
    FraudSignal(
        "datacenter_ip", "batch_registration", (_c("ip.is_datacenter", "==", True),), "review"
    ),
    FraudSignal(
        "impossible_travel",
        "account_takeover",
        (_c("user.is_impossible_travel", "==", True),),
        "decline",
    ),
    FraudSignal(
        "new_device_new_city",
        "account_takeover",
        (_c("user.is_new_device", "==", True), _c("user.is_new_city", "==", True)),
        "review",
    ),
    FraudSignal(
        "recent_credential_change",
        "account_takeover",
        (_c("user.secs_since_account_change", "<", 86400.0),),
        "review",
    ),
    FraudSignal(
        "device_switching", "account_takeover", (_c("user.distinct_devices_1h", ">=", 3),), "review"
    ),
)


@dataclass(frozen=True)
class OfferPolicy:
    """The documented policy table (docs/credit.md); every figure is configurable."""

    cost_of_funds: float = 0.035
    lgd: float = 0.60
    operating_cost: float = 0.020
    max_rate: float = 0.24
    max_debt_to_income: float = 0.5
    min_limit: float = 500.0
    limit_step: float = 100.0
    tiers: tuple[Tier, ...] = DEFAULT_TIERS
    signals: tuple[FraudSignal, ...] = DEFAULT_SIGNALS

    def __post_init__(self) -> None:
        bounds = [t.max_pd for t in self.tiers]
        if not self.tiers or bounds != sorted(bounds) or not all(0 < b <= 1 for b in bounds):
            raise ValueError("tiers must be given with rising max_pd in (0, 1]")
        # The signals as flat tuples: they are read on every application.
        plan = tuple(
            (s, tuple((c.feature, c.op, c.value, _target(c)) for c in s.when)) for s in self.signals
        )
        object.__setattr__(self, "_plan", plan)

    def tier(self, pd: float) -> Tier | None:
        return next((t for t in self.tiers if pd <= t.max_pd), None)

    def rate(self, pd: float, tier: Tier) -> float:
        return self.cost_of_funds + pd * self.lgd + self.operating_cost + tier.margin

    def fraud(self, read: Callable[[str], Any]) -> list[FraudSignal]:
        return [s for s in self.signals if s.fires(read)]

    def fraud_in(
        self, features: Mapping[str, Any], facts: Mapping[str, Any]
    ) -> list[tuple[str, OfferDecision]]:
        """``(name, outcome)`` of the signals that fire, features before facts.

        The same as :meth:`fraud` on ``DecisionContext.value``, inlined for the stage.
        """
        out = []
        for signal, conds in self.__dict__["_plan"]:
            for feature, op, value, target in conds:
                v = features[feature] if feature in features else facts.get(feature)
                if v is None:
                    break
                if op == "==":
                    ok = bool(v == value)
                else:
                    ok = (
                        target is not None
                        and v.__class__ is not bool
                        and isinstance(v, int | float)
                        and (v >= target if op == ">=" else v < target)
                    )
                if not ok:
                    break
            else:
                out.append((signal.name, signal.outcome))
        return out


@dataclass(frozen=True)
class Offer:
    """What the decision carries for a credit application or a limit raise."""

    decision: OfferDecision
    tier: str | None
    pd: float
    score: float
    limit: float
    annual_rate: float | None
    term_months: int | None
    reasons: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "tier": self.tier,
            "pd": round(self.pd, 6),
            "score": round(self.score, 1),
            "limit": self.limit,
            "annual_rate": None if self.annual_rate is None else round(self.annual_rate, 6),
            "term_months": self.term_months,
            "reasons": list(self.reasons),
        }


def _worse(a: OfferDecision, b: OfferDecision) -> OfferDecision:
    return a if _SEVERITY[a] >= _SEVERITY[b] else b


def make_offer(
    policy: OfferPolicy,
    *,
    pd: float,
    score: float,
    requested: float,
    term_months: int,
    annual_income: float | None,
    exposure: float,
    fraud: Sequence[tuple[str, OfferDecision]] = (),
) -> Offer:
    """Tier, limit, rate and term for one applicant; ``fraud``: (signal, outcome) pairs."""
    reasons: list[str] = []
    tier = policy.tier(pd)
    if tier is None:
        return Offer("decline", None, pd, score, 0.0, None, None, ("pd_above_policy",))
    decision: OfferDecision = tier.decision
    if decision != "approve":
        reasons.append(f"tier_{tier.name}_{decision}")
    rate = policy.rate(pd, tier)
    if rate > policy.max_rate:
        return Offer("decline", tier.name, pd, score, 0.0, None, None, ("rate_above_cap",))
    limit = requested
    if annual_income is None or annual_income <= 0:
        decision = _worse(decision, "review")
        reasons.append("income_not_stated")
    else:
        by_income = tier.income_multiple * annual_income / 12.0
        by_debt = policy.max_debt_to_income * annual_income - exposure
        if min(by_income, by_debt) < limit:
            limit = min(by_income, by_debt)
            reasons.append(
                "limit_capped_by_debt" if by_debt < by_income else "limit_capped_by_income"
            )
    limit = math.floor(max(0.0, limit) / policy.limit_step) * policy.limit_step
    if limit < policy.min_limit:
        return Offer(
            "decline", tier.name, pd, score, 0.0, None, None, (*reasons, "limit_below_minimum")
        )
    term = min(term_months, tier.max_term_months)
    if term < term_months:
        reasons.append("term_capped")
    for name, outcome in fraud:
        decision = _worse(decision, outcome)
        reasons.append(f"fraud_{name}")
    if decision == "decline":
        return Offer("decline", tier.name, pd, score, 0.0, None, None, tuple(reasons))
    return Offer(decision, tier.name, pd, score, limit, rate, term, tuple(reasons))


def load_policy(path: Path) -> OfferPolicy:
    """An offer policy from TOML: any scalar field of :class:`OfferPolicy`, and optionally
    ``[[tiers]]`` tables (``name``, ``max_pd``, ``margin``, ``income_multiple``,
    ``max_term_months``, ``decision``) replacing the default tiers."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"credit policy {path}: {exc}") from None
    scalars = {f.name for f in fields(OfferPolicy)} - {"tiers", "signals"}
    unknown = set(raw) - scalars - {"tiers"}
    if unknown:
        raise ValueError(f"credit policy {path}: unknown keys {sorted(unknown)}")
    values: dict[str, Any] = {k: float(v) for k, v in raw.items() if k in scalars}
    if "tiers" in raw:
        try:
            values["tiers"] = tuple(Tier(**t) for t in raw["tiers"])
        except TypeError as exc:
            raise ValueError(f"credit policy {path}: tiers: {exc}") from None
    return OfferPolicy(**values)
