"""Gang mining: the entity-link graph, online ring features, batch ring discovery, tracing."""

from fengkong.graph.entities import (
    DEFAULT_CAPS,
    STRONG_KINDS,
    WEAK_KINDS,
    MoneyEdge,
    account_key,
    identifier_keys,
    money_edge,
)
from fengkong.graph.online import FEATURE_NAMES, Generation, OnlineGraph

__all__ = [
    "DEFAULT_CAPS",
    "FEATURE_NAMES",
    "STRONG_KINDS",
    "WEAK_KINDS",
    "Generation",
    "MoneyEdge",
    "OnlineGraph",
    "account_key",
    "identifier_keys",
    "money_edge",
]
