"""Statistics of the honest traffic in a simulated file, checked against docs/simulator.md."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

import orjson

from fengkong.sim.identity import CITIES

_MONEY = ("payment", "credit_draw", "transfer", "withdrawal")


def _city_of(lat: float, lon: float) -> int:
    return min(
        range(len(CITIES)), key=lambda i: (CITIES[i].lat - lat) ** 2 + (CITIES[i].lon - lon) ** 2
    )


def honest_statistics(events_path: Path, labels_path: Path) -> dict[str, float]:
    """Figures of honest users' behaviour (events without fraud labels, non-fraud accounts)."""
    fraud_events: set[str] = set()
    fraud_accounts: set[str] = set()
    for line in labels_path.read_bytes().splitlines():
        lab = orjson.loads(line)
        if "event_id" in lab:
            fraud_events.add(lab["event_id"])
        else:
            fraud_accounts.add(lab["user_id"])
    n = night = money = in_call = in_call_stranger = 0
    amounts: list[float] = []
    user_days: set[tuple[str, str]] = set()
    devices: defaultdict[str, set[str]] = defaultdict(set)
    cities: defaultdict[str, set[int]] = defaultdict(set)
    types: defaultdict[str, int] = defaultdict(int)
    for line in events_path.read_bytes().splitlines():
        e = orjson.loads(line)
        if e["event_id"] in fraud_events or e["user_id"] in fraud_accounts:
            continue
        n += 1
        types[e["type"]] += 1
        stamp = e["occurred_at"]
        user_days.add((e["user_id"], stamp[:10]))
        night += int(stamp[11:13]) < 6
        if e["type"] in _MONEY:
            money += 1
            ctx = e.get("context") or {}
            if ctx.get("in_call"):
                in_call += 1
                in_call_stranger += not ctx.get("caller_in_contacts")
        if e["type"] == "payment" and (e.get("attributes") or {}).get("purpose") != "repayment":
            amounts.append(float(e["amount"]))
        did = (e.get("device") or {}).get("device_id")
        if did:
            devices[e["user_id"]].add(did)
        if "geo" in e:
            cities[e["user_id"]].add(_city_of(e["geo"]["lat"], e["geo"]["lon"]))
    users = len(devices) or 1
    return {
        "events_per_active_user_day": n / max(len(user_days), 1),
        "median_purchase_cny": statistics.median(amounts) if amounts else 0.0,
        "p95_purchase_cny": statistics.quantiles(amounts, n=20)[-1] if len(amounts) > 20 else 0.0,
        "night_share": night / max(n, 1),
        "in_call_share_of_money_events": in_call / max(money, 1),
        "caller_unknown_share_of_in_call": in_call_stranger / max(in_call, 1),
        "users_with_2plus_devices": sum(len(d) >= 2 for d in devices.values()) / users,
        "users_in_2plus_cities": sum(len(c) >= 2 for c in cities.values()) / max(len(cities), 1),
        "payment_share": types["payment"] / max(n, 1),
        "credit_draw_share": types["credit_draw"] / max(n, 1),
        "transfer_share": types["transfer"] / max(n, 1),
    }


# The ranges docs/simulator.md promises for populations of ≥ 1,000 users over ≥ 14 days.
DOCUMENTED_RANGES: dict[str, tuple[float, float]] = {
    "events_per_active_user_day": (3.0, 5.5),
    "median_purchase_cny": (40.0, 90.0),
    "p95_purchase_cny": (180.0, 450.0),
    "night_share": (0.03, 0.10),
    "in_call_share_of_money_events": (0.015, 0.05),
    "caller_unknown_share_of_in_call": (0.2, 0.4),
    "users_with_2plus_devices": (0.3, 0.6),
    "users_in_2plus_cities": (0.2, 0.6),
    "payment_share": (0.45, 0.6),
    "credit_draw_share": (0.004, 0.015),
    "transfer_share": (0.04, 0.10),
}
