"""Columnar views of an event log for batch mining: identifier links and money edges."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fengkong.events import Event, Label, parse_event, parse_label
from fengkong.graph.entities import account_key, identifier_keys, money_edge

LINK_COLUMNS = ["account", "key", "ts"]
MONEY_COLUMNS = ["src", "dst", "amount", "ts", "kind", "event_id"]


@dataclass(slots=True)
class GraphTables:
    """``links``: account, key, ts (one row per account–identifier sighting);
    ``money``: src, dst, amount, ts, kind, event_id (node keys as in the online graph)."""

    links: pd.DataFrame
    money: pd.DataFrame

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> GraphTables:
        links: list[tuple[str, str, float]] = []
        money: list[tuple[str, str, float, float, str, str]] = []
        for ev in events:
            acc = account_key(ev.user_id)
            for key in identifier_keys(ev):
                links.append((acc, key, ev.ts))
            edge = money_edge(ev)
            if edge is not None:
                money.append((edge.src, edge.dst, edge.amount, edge.ts, edge.kind, edge.event_id))
        return cls(
            pd.DataFrame(links, columns=LINK_COLUMNS),
            pd.DataFrame(money, columns=MONEY_COLUMNS),
        )

    @classmethod
    def from_money(cls, money: pd.DataFrame) -> GraphTables:
        """Tables of money edges only (e.g. a bank's transfer log)."""
        return cls(pd.DataFrame({c: [] for c in LINK_COLUMNS}), money[MONEY_COLUMNS].copy())


def read_events(path: Path) -> list[Event]:
    """Events of a JSON Lines file, validated (blank lines skipped)."""
    out: list[Event] = []
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                out.append(parse_event(line))
    return out


def read_fraud_accounts(path: Path) -> set[str]:
    """Account keys labelled fraud in a JSON Lines label file (the last label wins)."""
    with path.open("rb") as fh:
        return fraud_accounts(parse_label(line) for line in fh if line.strip())


def fraud_accounts(labels: Iterable[Label]) -> set[str]:
    """Account keys whose last account label is fraud."""
    state: dict[str, bool] = {}
    for label in labels:
        if label.user_id is not None:
            state[account_key(label.user_id)] = label.label == "fraud"
    return {a for a, f in state.items() if f}
