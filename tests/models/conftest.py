"""Small synthetic payment streams with compromised merchants and big-amount fraud."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from fengkong.events import Event, Label, parse_event, parse_label

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def synthetic(days: int = 16, per_day: int = 400, seed: int = 0) -> tuple[list[Event], list[Label]]:
    rng = np.random.default_rng(seed)
    users, merchants = 150, 40
    habit = rng.uniform(10, 80, users)
    bad_merchants = {3: (4, 12), 7: (8, 16)}  # merchant -> compromised [from, to) day
    events: list[Event] = []
    labels: list[Label] = []
    n = days * per_day
    times = np.sort(rng.uniform(0, days * 86400, n))
    for i, t in enumerate(times):
        u = int(rng.integers(users))
        m = int(rng.integers(merchants))
        amount = float(rng.gamma(2.0, habit[u] / 2))
        day = t / 86400
        fraud = False
        if rng.random() < 0.01:
            amount, fraud = float(rng.uniform(250, 500)), True
        lo_hi = bad_merchants.get(m)
        if lo_hi is not None and lo_hi[0] <= day < lo_hi[1]:
            fraud = True
        at = T0 + timedelta(seconds=float(t))
        events.append(
            parse_event(
                {
                    "event_id": f"e{i}",
                    "type": "payment",
                    "user_id": f"u{u}",
                    "merchant_id": f"m{m}",
                    "amount": f"{amount:.2f}",
                    "occurred_at": at.isoformat(),
                }
            )
        )
        if fraud:
            labels.append(
                parse_label(
                    {
                        "event_id": f"e{i}",
                        "label": "fraud",
                        "source": "chargeback",
                        "at": (at + timedelta(days=2)).isoformat(),
                    }
                )
            )
    return events, labels


@pytest.fixture(scope="session")
def stream() -> tuple[list[Event], list[Label]]:
    return synthetic()
