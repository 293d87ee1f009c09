"""IP facts: version, private / reserved, and membership in user-supplied range lists.

Range lists (data-centre / hosting providers, IP → country) are CSV files of
``start,end,name[,...]`` rows, IPv4 or IPv6, inclusive bounds; the public
client9/ipcat list (``../shared/data/ip-ranges/datacenters.csv``) has this form.

>>> ranges = IpRanges([("3.0.0.0", "3.1.255.255", "Amazon AWS")])
>>> ranges.lookup("3.1.2.3"), ranges.lookup("4.0.0.1")
('Amazon AWS', None)
"""

from __future__ import annotations

import csv
import ipaddress
from bisect import bisect_right
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fengkong.features.engine import FeatureValue, ip_prefix

_DIGITS = frozenset("0123456789")


def ipv4_int(text: str) -> int | None:
    """The integer of an IPv4 address written canonically (four decimal octets, no
    leading zeros), else ``None``: callers fall back to ``ipaddress`` for the rest.

    Cheaper than ``ipaddress.ip_address`` by about ten times, for the hot path where
    nearly every address is a canonical IPv4 one (events store them canonical).

    >>> ipv4_int("223.104.3.17"), ipv4_int("0.0.0.0"), ipv4_int("255.255.255.255")
    (3748135697, 0, 4294967295)
    >>> ipv4_int("01.2.3.4"), ipv4_int("256.1.1.1"), ipv4_int("::ffff:1.2.3.4")
    (None, None, None)
    """
    parts = text.split(".")
    if len(parts) != 4:
        return None
    x = 0
    for p in parts:
        # ASCII digits only (str.isdigit also takes other scripts' digits), 1-3 of them,
        # no leading zero: what ipaddress accepts, in its canonical form.
        if not 0 < len(p) < 4 or not _DIGITS.issuperset(p) or (p[0] == "0" and len(p) > 1):
            return None
        octet = int(p)
        if octet > 255:
            return None
        x = (x << 8) | octet
    return x


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """``ipaddress.ip_address(text)``, building a canonical IPv4 address from its integer
    (the string parser is most of ``ip_address``'s cost); raises ``ValueError`` alike."""
    x = ipv4_int(text)
    return ipaddress.IPv4Address(x) if x is not None else ipaddress.ip_address(text)


class IpRanges:
    """Sorted integer ranges with names; lookup by bisection, overlaps allowed."""

    def __init__(self, rows: Iterable[tuple[str, str, str]]) -> None:
        per_version: dict[int, list[tuple[int, int, str]]] = {4: [], 6: []}
        for start, end, name in rows:
            lo = ipaddress.ip_address(start.strip())
            hi = ipaddress.ip_address(end.strip())
            if lo.version != hi.version or int(hi) < int(lo):
                raise ValueError(f"bad range {start}-{end}")
            per_version[lo.version].append((int(lo), int(hi), name.strip()))
        self._starts: dict[int, list[int]] = {}
        self._ends: dict[int, list[int]] = {}
        self._reach: dict[int, list[int]] = {}
        self._names: dict[int, list[str]] = {}
        for version, ranges in per_version.items():
            ranges.sort()
            self._starts[version] = [r[0] for r in ranges]
            self._ends[version] = [r[1] for r in ranges]
            self._names[version] = [r[2] for r in ranges]
            # reach[i]: the furthest end among ranges 0..i, so that a range nested in
            # or overlapping an earlier, longer one does not hide it.
            reach: list[int] = []
            top = -1
            for r in ranges:
                top = max(top, r[1])
                reach.append(top)
            self._reach[version] = reach
        self.size = sum(len(v) for v in per_version.values())

    def __len__(self) -> int:
        return self.size

    def lookup(self, ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        """The name of a range holding ``ip`` (the one starting last), else ``None``."""
        addr = parse_ip(ip) if isinstance(ip, str) else ip
        return self.lookup_int(int(addr), addr.version)

    def lookup_int(self, x: int, version: int) -> str | None:
        """:meth:`lookup` of an address given as an integer."""
        starts = self._starts[version]
        i = bisect_right(starts, x) - 1
        ends = self._ends[version]
        reach = self._reach[version]
        while i >= 0 and reach[i] >= x:
            if ends[i] >= x:
                return self._names[version][i]
            i -= 1
        return None


def load_ip_ranges(path: str | Path) -> IpRanges:
    """Load ``start,end,name[,...]`` rows from a CSV file (blank and ``#`` lines skipped).

    Raises ``ValueError`` naming the line of a malformed row.
    """
    rows: list[tuple[str, str, str]] = []
    with Path(path).open(newline="", encoding="utf-8") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
                continue
            if len(row) < 2:
                raise ValueError(f"{path}:{lineno}: expected start,end,name")
            try:
                ipaddress.ip_address(row[0].strip())
                ipaddress.ip_address(row[1].strip())
            except ValueError:
                if lineno == 1:  # a header line
                    continue
                raise ValueError(f"{path}:{lineno}: not an IP range: {row[:2]}") from None
            rows.append((row[0], row[1], row[2] if len(row) > 2 else ""))
    try:
        return IpRanges(rows)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


Spans = tuple[tuple[int, int], ...]


def _v4_tables() -> tuple[Spans, Spans, Spans] | None:
    """``ipaddress``'s own IPv4 classes (this Python's tables) as integer spans: private,
    exceptions to private, reserved (with multicast and unspecified); ``None`` when this
    Python keeps them elsewhere (then ``ipaddress`` classifies each address)."""
    try:
        consts: Any = ipaddress.IPv4Address._constants  # type: ignore[attr-defined]
        private = consts._private_networks
        exceptions = getattr(consts, "_private_networks_exceptions", ())
        reserved = (consts._reserved_network, consts._multicast_network)
        unspecified = int(consts._unspecified_address)
    except AttributeError:
        return None

    def spans(nets: Iterable[Any]) -> Spans:
        return tuple((int(n.network_address), int(n.broadcast_address)) for n in nets)

    return spans(private), spans(exceptions), (*spans(reserved), (unspecified, unspecified))


_V4_TABLES = _v4_tables()


def _classes(ip: str) -> tuple[int, int, bool, bool]:
    """(version, integer, is_private, is_reserved) of an address, as ``ipaddress`` says
    (reserved: also multicast and unspecified)."""
    x = ipv4_int(ip)
    if x is not None and _V4_TABLES is not None:
        private, exceptions, reserved = _V4_TABLES
        is_private = any(lo <= x <= hi for lo, hi in private) and not any(
            lo <= x <= hi for lo, hi in exceptions
        )
        return 4, x, is_private, any(lo <= x <= hi for lo, hi in reserved)
    addr = ipaddress.ip_address(ip)
    is_reserved = addr.is_reserved or addr.is_multicast or addr.is_unspecified
    return addr.version, int(addr), addr.is_private, is_reserved


def ip_facts(
    ip: str,
    datacenters: IpRanges | None = None,
    countries: IpRanges | None = None,
) -> dict[str, FeatureValue]:
    """Facts about one (canonical) IP address, named as in docs/features.md."""
    version, x, private, reserved = _classes(ip)
    facts: dict[str, FeatureValue] = {
        "ip.version": version,
        "ip.is_private": private and not reserved,  # RFC 1918, loopback, link-local
        "ip.is_reserved": reserved,
        "ip.prefix": ip_prefix(ip),
    }
    if datacenters is not None:
        name = datacenters.lookup_int(x, version)
        facts["ip.is_datacenter"] = name is not None
        facts["ip.datacenter"] = name
    if countries is not None:
        facts["ip.country"] = countries.lookup_int(x, version)
    return facts


# IPv4 /24 networks that hold a special network smaller than a /24 (192.0.0.0/29,
# 192.0.0.170/31, 0.0.0.0 unspecified, 255.255.255.255 broadcast): in every other /24 the
# version / private / reserved facts are the same for all 256 addresses.
MIXED_V4_24 = frozenset({"0.0.0", "192.0.0", "255.255.255"})


class IpFactsCache:
    """:func:`ip_facts` memoised per address, with the address-class facts shared per
    IPv4 /24, each memo bounded at ``size`` entries (oldest dropped first).

    Clients repeat their IP from event to event; a new address of a known /24 costs
    only its range lookups (integer bisection), not ``ipaddress``'s classification.
    """

    __slots__ = ("_memo", "_nets", "countries", "datacenters", "size")

    def __init__(
        self,
        datacenters: IpRanges | None = None,
        countries: IpRanges | None = None,
        size: int = 65_536,
    ) -> None:
        self.datacenters = datacenters
        self.countries = countries
        self.size = size
        self._memo: dict[str, dict[str, FeatureValue]] = {}
        self._nets: dict[str, dict[str, FeatureValue]] = {}

    def __len__(self) -> int:
        return len(self._memo)

    def facts(self, ip: str) -> dict[str, FeatureValue]:
        """The facts of a canonical IP address (do not mutate: the dict is shared)."""
        memo = self._memo
        hit = memo.get(ip)
        if hit is not None:
            return hit
        facts = self._compute(ip)
        if len(memo) >= self.size:
            del memo[next(iter(memo))]
        memo[ip] = facts
        return facts

    def _compute(self, ip: str) -> dict[str, FeatureValue]:
        x = ipv4_int(ip)
        net = ip[: ip.rfind(".")]
        if x is None or net in MIXED_V4_24:
            return ip_facts(ip, self.datacenters, self.countries)
        base = self._nets.get(net)
        if base is None:
            base = ip_facts(ip)
            if len(self._nets) >= self.size:
                del self._nets[next(iter(self._nets))]
            self._nets[net] = base
        facts = dict(base)
        if self.datacenters is not None or self.countries is not None:
            if self.datacenters is not None:
                name = self.datacenters.lookup_int(x, 4)
                facts["ip.is_datacenter"] = name is not None
                facts["ip.datacenter"] = name
            if self.countries is not None:
                facts["ip.country"] = self.countries.lookup_int(x, 4)
        return facts
