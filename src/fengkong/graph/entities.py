"""What an event contributes to the graph: identifier links and money edges.

Node keys are strings whose first character is their kind (``d:`` device, ``k:`` device
key, ``i:`` IP, ``n:`` /24 or /48 net, ``p:`` phone, ``x:`` ID number, ``c:`` bank card,
``q:`` payee card, ``r:`` payee account, ``m:`` merchant, ``a:`` account); one-character
kinds keep the hot path to a string index instead of a split. Sensitive values are
already tokens at the edge, so the keys never hold a phone or card number in clear.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

from fengkong.events import EventType
from fengkong.events.fields import EventLike

# Kinds that glue accounts into one cluster: sharing one of these is strong evidence of
# common control. IPs, nets and merchants are only counted: a carrier NAT address or a
# big supermarket is shared by thousands of strangers.
# A payee account is only counted too: plain P2P transfers join most of a population into
# one component; money shapes are the batch miner's job.
STRONG_KINDS: Final = frozenset({"d", "k", "p", "x", "c", "q"})
WEAK_KINDS: Final = frozenset({"i", "n", "m", "r"})

# How many distinct accounts one identifier may glue together before it counts as a hub
# and stops joining clusters. A family shares a device or a card; a device with 40
# accounts is a farm, but gluing thousands through one key would merge the world.
DEFAULT_CAPS: Final[dict[str, int]] = {
    "d": 30,
    "k": 30,
    "p": 10,
    "x": 10,
    "c": 15,
    "q": 10,
}

KIND_NAMES: Final[dict[str, str]] = {
    "d": "device",
    "k": "device_key",
    "i": "ip",
    "n": "ip_net",
    "p": "phone",
    "x": "id_number",
    "c": "bank_card",
    "q": "payee_card",
    "r": "payee_account",
    "m": "merchant",
    "a": "account",
}


def kind_of(key: str) -> str:
    """The kind of a node key (``"d:abc"`` -> ``"d"``)."""
    return key[0]


def ip_net(ip: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) network of a canonical IP address."""
    if ":" in ip:
        return str(ipaddress.ip_network(f"{ip}/48", strict=False).network_address) + "/48"
    head, _, _ = ip.rpartition(".")
    return f"{head}.0/24"


def identifier_keys(event: EventLike, device_key: str | None = None) -> list[str]:
    """The identifier nodes the acting account links to through ``event``."""
    keys: list[str] = []
    dev = event.device
    if dev is not None and dev.device_id:
        keys.append("d:" + dev.device_id)
    if device_key:
        keys.append("k:" + device_key)
    if event.ip:
        keys.append("i:" + event.ip)
        keys.append("n:" + ip_net(event.ip))
    if event.phone:
        keys.append("p:" + event.phone)
    if event.id_number:
        keys.append("x:" + event.id_number)
    if event.bank_card:
        keys.append("c:" + event.bank_card)
    cp = event.counterparty
    if cp is not None:
        if cp.bank_card:
            keys.append("q:" + cp.bank_card)
        if cp.account_id and cp.account_id != event.user_id:
            keys.append("r:" + cp.account_id)
    if event.merchant_id:
        keys.append("m:" + event.merchant_id)
    return keys


@dataclass(frozen=True, slots=True)
class MoneyEdge:
    """Money moving from ``src`` to ``dst`` (node keys, accounts as ``a:<user_id>``)."""

    src: str
    dst: str
    amount: float
    ts: float
    kind: str
    event_id: str


def account_key(user_id: str) -> str:
    return "a:" + user_id


def money_edge(event: EventLike) -> MoneyEdge | None:
    """The money edge of a money event, or ``None``.

    A credit draw is money from the lender (``L:credit``) into the account; a payment
    goes to the merchant; a transfer to the payee account (or its card); a withdrawal to
    the card it names (the payee's, else the account's own bank card).
    """
    if event.amount is None:
        return None
    me = account_key(event.user_id)
    amount = event.amount_float
    cp = event.counterparty
    dst: str | None = None
    src = me
    if event.type is EventType.CREDIT_DRAW:
        src, dst = "L:credit", me
    elif event.type is EventType.PAYMENT:
        dst = "m:" + event.merchant_id if event.merchant_id else None
    elif event.type is EventType.TRANSFER:
        if cp is not None and cp.account_id:
            dst = account_key(cp.account_id)
        elif cp is not None and cp.bank_card:
            dst = "c:" + cp.bank_card
    elif event.type is EventType.WITHDRAWAL:
        if cp is not None and cp.bank_card:
            dst = "c:" + cp.bank_card
        elif event.bank_card:
            dst = "c:" + event.bank_card
        elif cp is not None and cp.account_id:
            dst = account_key(cp.account_id)
    if dst is None or dst == src:
        return None
    return MoneyEdge(src, dst, amount, event.ts, event.type.value, event.event_id)
