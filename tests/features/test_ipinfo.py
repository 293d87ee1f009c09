"""IP facts and the range loader."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fengkong.features import IpRanges, ip_facts, ip_prefix, load_ip_ranges

SHARED = Path(__file__).resolve().parents[2] / "../shared/data/ip-ranges/datacenters.csv"


def test_loader_reads_csv_with_header_comments_and_ipv6(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_text(
        "start,end,name,url\n# comment\n\n"
        "3.0.0.0,3.1.255.255,Amazon AWS,http://aws\n"
        "3.0.5.0,3.0.5.255,Nested,\n"
        "2001:db8::,2001:db8::ffff,Docs v6,\n"
    )
    r = load_ip_ranges(f)
    assert len(r) == 3
    assert r.lookup("3.0.5.7") == "Nested"
    assert r.lookup("3.0.6.1") == "Amazon AWS"  # after the nested range, still inside AWS
    assert r.lookup("3.2.0.0") is None
    assert r.lookup("2001:db8::12") == "Docs v6"
    assert r.lookup("2001:db9::") is None


def test_loader_names_bad_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text("1.0.0.0,1.0.0.255,A\nnot-an-ip,2.0.0.0,B\n")
    with pytest.raises(ValueError, match=":2:"):
        load_ip_ranges(f)
    f.write_text("1.0.0.9,1.0.0.1,Backwards\n")
    with pytest.raises(ValueError, match="bad range"):
        load_ip_ranges(f)


RANGES = st.lists(st.tuples(st.integers(0, 2**16), st.integers(0, 2**12)), min_size=0, max_size=30)


@given(RANGES, st.lists(st.integers(0, 2**16 + 2**12), max_size=40))
def test_lookup_equals_linear_scan(ranges: list[tuple[int, int]], probes: list[int]) -> None:
    base = int(ipaddress.IPv4Address("10.0.0.0"))
    rows = [
        (str(ipaddress.IPv4Address(base + lo)), str(ipaddress.IPv4Address(base + lo + n)), f"r{i}")
        for i, (lo, n) in enumerate(ranges)
    ]
    table = IpRanges(rows)
    for p in probes:
        hits = {f"r{i}" for i, (lo, n) in enumerate(ranges) if lo <= p <= lo + n}
        got = table.lookup(str(ipaddress.IPv4Address(base + p)))
        assert (got is None) == (not hits)
        assert got is None or got in hits


@pytest.mark.skipif(not SHARED.is_file(), reason="shared data not present")
def test_public_datacenter_list() -> None:
    r = load_ip_ranges(SHARED)
    assert len(r) > 3000
    assert r.lookup("3.0.0.1") == "Amazon AWS"
    facts = ip_facts("3.0.0.1", r)
    assert facts["ip.is_datacenter"] is True and facts["ip.datacenter"] == "Amazon AWS"
    assert ip_facts("223.104.3.17", r)["ip.is_datacenter"] is False


def test_ip_facts_without_lists() -> None:
    f = ip_facts("192.168.1.20")
    assert f == {
        "ip.version": 4,
        "ip.is_private": True,
        "ip.is_reserved": False,
        "ip.prefix": "192.168.1.0/24",
    }
    assert ip_facts("240.0.0.1")["ip.is_reserved"] is True
    assert ip_facts("8.8.8.8")["ip.is_private"] is False
    v6 = ip_facts("2408:8456:3a1:5e::7")
    assert v6["ip.version"] == 6 and v6["ip.prefix"] == "2408:8456:3a1:5e::/64"
    assert ip_prefix("1.2.3.4") == "1.2.3.0/24"


def test_mixed_v4_24s_are_all_known() -> None:
    """Every special IPv4 network smaller than a /24 lies in a /24 the cache skips."""
    from fengkong.features.ipinfo import MIXED_V4_24

    consts: Any = ipaddress._IPv4Constants  # type: ignore[attr-defined]
    special = [
        *consts._private_networks,
        *getattr(consts, "_private_networks_exceptions", ()),
        consts._linklocal_network,
        consts._loopback_network,
        ipaddress.IPv4Network("0.0.0.0/32"),  # unspecified
        ipaddress.IPv4Network("224.0.0.0/4"),  # multicast
        ipaddress.IPv4Network("240.0.0.0/4"),  # reserved
    ]
    for net in special:
        if net.version == 4 and net.prefixlen > 24:
            assert str(net.network_address).rsplit(".", 1)[0] in MIXED_V4_24, net


IPV4 = st.integers(0, 2**32 - 1).map(lambda x: str(ipaddress.IPv4Address(x)))
NEAR = st.sampled_from(["0.0.0.0", "192.0.0.5", "192.0.0.171", "255.255.255.255", "3.0.0.1"])
IPV6 = st.sampled_from(["2408:8456:3a1:5e::7", "::1", "fe80::1", "2001:db8::12"])


@given(st.lists(st.one_of(IPV4, NEAR, IPV6), max_size=30))
def test_cache_equals_ip_facts(ips: list[str]) -> None:
    from fengkong.features.ipinfo import IpFactsCache

    ranges = IpRanges(
        [("3.0.0.0", "3.1.255.255", "Amazon AWS"), ("2001:db8::", "2001:db8::ff", "V6")]
    )
    countries = IpRanges([("1.0.0.0", "126.255.255.255", "AA"), ("::", "ffff::", "BB")])
    for dc, cc in ((None, None), (ranges, countries)):
        cache = IpFactsCache(dc, cc, size=4)
        for ip in ips * 2:
            assert cache.facts(ip) == ip_facts(ip, dc, cc), ip


@pytest.mark.parametrize(
    "text",
    [
        "01.2.3.4",  # leading zero: refused by ipaddress too
        "1.2.3.004",
        "00.0.0.0",
        "256.1.1.1",  # octet out of range
        "1.2.3.999",
        "1.2.3",  # three octets
        "1.2.3.4.5",
        "1..3.4",
        "1.2.3.",
        " 1.2.3.4",
        "1.2.3.4\n",
        "+1.2.3.4",
        "-1.2.3.4",
        "1.2.3.٤",  # an Arabic-Indic digit: str.isdigit() says yes
        "1.2.3.0x1",
        "::ffff:1.2.3.4",  # v4-mapped IPv6: not an IPv4 text
        "::1",
        "",
    ],
)
def test_ipv4_int_refuses_what_is_not_canonical_ipv4(text: str) -> None:
    from fengkong.features.ipinfo import ipv4_int

    assert ipv4_int(text) is None


@given(st.integers(0, 2**32 - 1))
def test_ipv4_int_equals_ipaddress(x: int) -> None:
    from fengkong.features.ipinfo import ipv4_int, parse_ip

    text = str(ipaddress.IPv4Address(x))
    assert ipv4_int(text) == x == int(ipaddress.ip_address(text))
    assert parse_ip(text) == ipaddress.ip_address(text)


@given(st.text(alphabet="0123456789.:abcdef", max_size=20))
def test_parse_ip_equals_ip_address_on_any_text(text: str) -> None:
    """Same address or the same refusal as ``ipaddress.ip_address``, whatever the text."""
    from fengkong.features.ipinfo import parse_ip

    try:
        want: Any = ipaddress.ip_address(text)
    except ValueError:
        want = ValueError
    try:
        got: Any = parse_ip(text)
    except ValueError:
        got = ValueError
    assert got == want


def test_mobile_carrier_on_v4_mapped_and_bad_addresses() -> None:
    from fengkong.features.baserates import is_mobile_carrier

    assert is_mobile_carrier("223.104.3.17") and is_mobile_carrier("100.64.0.1")
    assert not is_mobile_carrier("8.8.8.8")
    assert is_mobile_carrier("2409:8000::1") and not is_mobile_carrier("2001:db8::1")
    # A v4-mapped IPv6 address is an IPv6 address: outside the IPv4 ranges, as before.
    assert not is_mobile_carrier("::ffff:223.104.3.17")
    assert not is_mobile_carrier("223.104.3.017") and not is_mobile_carrier("not an ip")


def _reference_facts(ip: str, dc: IpRanges | None, cc: IpRanges | None) -> dict[str, Any]:
    """ip_facts as ``ipaddress`` classifies every address (the tables' reference)."""
    addr = ipaddress.ip_address(ip)
    reserved = addr.is_reserved or addr.is_multicast or addr.is_unspecified
    out: dict[str, Any] = {
        "ip.version": addr.version,
        "ip.is_private": addr.is_private and not reserved,
        "ip.is_reserved": reserved,
        "ip.prefix": ip_prefix(ip),
    }
    if dc is not None:
        out["ip.is_datacenter"] = dc.lookup(addr) is not None
        out["ip.datacenter"] = dc.lookup(addr)
    if cc is not None:
        out["ip.country"] = cc.lookup(addr)
    return out


def _edges() -> list[str]:
    from fengkong.features.ipinfo import _V4_TABLES

    assert _V4_TABLES is not None  # this Python's tables were read
    out = []
    for spans in _V4_TABLES:
        for lo, hi in spans:
            for x in (lo - 1, lo, lo + 1, hi - 1, hi, hi + 1):
                if 0 <= x < 2**32:
                    out.append(str(ipaddress.IPv4Address(x)))
    return out


def test_ipv4_classes_equal_ipaddress_at_every_edge() -> None:
    ranges = IpRanges([("3.0.0.0", "3.1.255.255", "Amazon AWS")])
    for ip in _edges():
        for dc in (None, ranges):
            assert ip_facts(ip, dc, dc) == _reference_facts(ip, dc, dc), ip


@given(st.one_of(IPV4, IPV6, st.sampled_from(["::ffff:10.0.0.1", "::ffff:8.8.8.8", "::"])))
def test_ip_facts_equal_ipaddress(ip: str) -> None:
    ranges = IpRanges([("3.0.0.0", "3.1.255.255", "Amazon AWS"), ("::", "1::", "V6")])
    assert ip_facts(ip) == _reference_facts(ip, None, None)
    assert ip_facts(ip, ranges, ranges) == _reference_facts(ip, ranges, ranges)
