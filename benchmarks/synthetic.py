"""A quick, seeded stream of mixed events for the benchmarks (not a simulator)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

_TYPES = (
    ["login"] * 30
    + ["payment"] * 40
    + ["transfer"] * 10
    + ["credit_draw"] * 5
    + ["register"] * 5
    + ["account_change"] * 5
    + ["withdrawal"] * 5
)
_OPS = ["change_password", "add_payee", "bind_card", "close_credit_line", "raise_limit"]


def events(
    n: int, users: int = 5_000, seed: int = 7, prefix: str = "b"
) -> Iterator[dict[str, Any]]:
    """``n`` events over ``users`` accounts, one every ~0.2 s, in time order.

    Each user has two devices and three IP addresses; amounts are log-normal.
    """
    rng = random.Random(seed)
    t = datetime(2026, 10, 1, tzinfo=UTC)
    for i in range(n):
        t += timedelta(seconds=rng.expovariate(5.0))
        u = rng.randrange(users)
        kind = rng.choice(_TYPES)
        k = rng.randrange(3)
        ev: dict[str, Any] = {
            "event_id": f"{prefix}-{i}",
            "type": kind,
            "user_id": f"u{u}",
            "occurred_at": t.isoformat(),
            # Each user comes from one of three addresses (home, work, mobile carrier).
            "ip": f"{36 + u % 80}.{u % 251}.{(u * 7 + k) % 256}.{(u * 13 + k) % 254 + 1}",
            "device": {
                "device_id": f"d{u * 2 + rng.randrange(2)}",
                "fingerprint": {
                    "platform": "android" if u % 3 else "ios",
                    "model": f"model-{u % 40}",
                    "os_version": str(10 + u % 5),
                    "screen": "1080x2400",
                    "timezone": "Asia/Shanghai",
                    "language": "zh-CN",
                },
            },
            "geo": {"lat": 30 + (u % 10) + rng.random() * 0.1, "lon": 110 + (u % 10)},
        }
        if kind in {"payment", "transfer", "credit_draw", "withdrawal"}:
            ev["amount"] = f"{rng.lognormvariate(4.5, 1.0):.2f}"
        if kind == "payment":
            ev["merchant_id"] = f"m{rng.randrange(2000)}"
        if kind in {"transfer", "withdrawal"}:
            ev["counterparty"] = {"account_id": f"u{rng.randrange(users)}"}
        if kind == "credit_draw":
            ev["bank_card"] = f"6222{u:012d}"
        if kind == "register":
            ev["phone"] = f"139{u:08d}"
            ev["id_number"] = f"1101051990{u:08d}"
        if kind == "account_change":
            ev["operation"] = rng.choice(_OPS)
            ev["context"] = {"in_call": rng.random() < 0.1}
        yield ev
