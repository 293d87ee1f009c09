"""The eight attack scenarios. Parameters are drawn from ranges (see docs/simulator.md).

Each scenario varies on purpose: some instances lack the textbook signal (no emulator,
no data-centre IP, no call in progress, same city as the victim), and attackers copy
honest habits in part, so that no single field separates attack from honest traffic.
"""

from __future__ import annotations

from collections.abc import Callable

from fengkong.sim.attacks_owned import (
    batch_registration,
    cash_out_ring,
    fake_high_credit,
    layered_laundering,
)
from fengkong.sim.attacks_victims import (
    account_takeover,
    complaint_agents,
    fake_customer_service,
    phishing_qr,
)
from fengkong.sim.campaign import Campaign

SCENARIOS: dict[str, Callable[[Campaign], None]] = {
    "batch_registration": batch_registration,
    "account_takeover": account_takeover,
    "cash_out_ring": cash_out_ring,
    "layered_laundering": layered_laundering,
    "fake_customer_service": fake_customer_service,
    "fake_high_credit": fake_high_credit,
    "complaint_agents": complaint_agents,
    "phishing_qr": phishing_qr,
}
# Accounts (attackers or victims) one campaign typically involves: sets campaign counts.
TYPICAL_ACCOUNTS: dict[str, float] = {
    "batch_registration": 32,
    "account_takeover": 2,
    "cash_out_ring": 18,
    "layered_laundering": 12,
    "fake_customer_service": 2,
    "fake_high_credit": 22,
    "complaint_agents": 28,
    "phishing_qr": 10,
}
# Shortest span (days) a campaign needs to play out; it starts early enough when it can.
SPAN_DAYS: dict[str, int] = {
    "batch_registration": 5,
    "account_takeover": 2,
    "cash_out_ring": 10,
    "layered_laundering": 9,
    "fake_customer_service": 1,
    "fake_high_credit": 14,
    "complaint_agents": 8,
    "phishing_qr": 5,
}
