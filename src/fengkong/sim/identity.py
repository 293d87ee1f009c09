"""Realistic identifiers for simulated traffic: cities, phones, ID numbers, cards, IPs, devices.

Everything here is a pure function of its integer arguments (through :func:`h64`), so a
user's phone number or device can be recomputed whenever it is needed instead of being
stored: that is what keeps the simulator's memory bounded at a million users.
"""

from __future__ import annotations

import csv
import hashlib
import ipaddress
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any


def h64(*parts: int | str) -> int:
    """A stable 64-bit hash of the parts (blake2b; independent of PYTHONHASHSEED)."""
    data = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def hexid(*parts: int | str, n: int = 20) -> str:
    """``n`` hex digits derived from the parts; used for event and device ids."""
    data = "\x1f".join(str(p) for p in parts).encode()
    return hashlib.blake2b(data, digest_size=(n + 1) // 2).hexdigest()[:n]


_LOCAL_OFFSET = 8 * 3600


def iso_local(ts: int) -> str:
    """RFC 3339 in China Standard Time (+08:00) for a UTC epoch second."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(ts + _LOCAL_OFFSET))


@dataclass(frozen=True, slots=True)
class City:
    name: str
    lat: float
    lon: float
    region: str  # first six digits of ID numbers issued there
    ip_blocks: tuple[str, ...]  # residential broadband blocks (CIDR) of local ISPs


# Residential broadband blocks are well-known provincial allocations of China Telecom /
# Unicom; exact borders do not matter, only that each city has its own few prefixes.
CITIES: tuple[City, ...] = (
    City("北京", 39.9042, 116.4074, "110105", ("123.112.0.0/14", "114.240.0.0/13")),
    City("上海", 31.2304, 121.4737, "310115", ("101.80.0.0/13", "180.152.0.0/14")),
    City("广州", 23.1291, 113.2644, "440106", ("113.64.0.0/12", "183.0.0.0/13")),
    City("深圳", 22.5431, 114.0579, "440305", ("116.24.0.0/14", "119.136.0.0/14")),
    City("杭州", 30.2741, 120.1551, "330106", ("115.192.0.0/13", "122.224.0.0/14")),
    City("成都", 30.5728, 104.0668, "510107", ("171.208.0.0/13", "125.70.0.0/15")),
    City("武汉", 30.5928, 114.3055, "420106", ("27.16.0.0/14", "59.172.0.0/14")),
    City("南京", 32.0603, 118.7969, "320106", ("180.108.0.0/14", "121.229.0.0/16")),
    City("西安", 34.3416, 108.9398, "610113", ("113.132.0.0/14", "117.32.0.0/14")),
    City("重庆", 29.5630, 106.5516, "500103", ("113.248.0.0/14", "222.176.0.0/14")),
    City("天津", 39.3434, 117.3616, "120101", ("111.160.0.0/13", "60.24.0.0/14")),
    City("长沙", 28.2282, 112.9388, "430104", ("175.8.0.0/14", "222.240.0.0/14")),
    City("济南", 36.6512, 117.1201, "370102", ("119.162.0.0/15", "27.192.0.0/14")),
    City("厦门", 24.4798, 118.0894, "350203", ("27.148.0.0/14", "110.80.0.0/14")),
    City("沈阳", 41.8057, 123.4315, "210102", ("175.160.0.0/14", "124.94.0.0/15")),
    City("郑州", 34.7466, 113.6254, "410105", ("171.8.0.0/14", "42.224.0.0/13")),
    City("昆明", 25.0389, 102.7183, "530102", ("116.52.0.0/14", "182.240.0.0/14")),
    City("哈尔滨", 45.8038, 126.5350, "230102", ("1.56.0.0/14", "221.208.0.0/14")),
    City("苏州", 31.2990, 120.5853, "320508", ("58.208.0.0/14", "114.216.0.0/14")),
    City("合肥", 31.8206, 117.2272, "340104", ("114.96.0.0/13", "60.166.0.0/15")),
)
# Bigger cities are home to more users.
# fmt: off
CITY_WEIGHTS: tuple[float, ...] = (
    10, 10, 8, 8, 6, 6, 5, 5, 4, 5, 4, 4, 3, 2, 3, 4, 2, 2, 4, 3,
)
# fmt: on

# Mobile data (4G/5G) gateways of the three carriers: shared by many users, any city.
# fmt: off
MOBILE_BLOCKS: tuple[str, ...] = (
    "223.104.0.0/14", "117.136.0.0/13", "112.96.0.0/13", "39.144.0.0/14", "106.120.0.0/14",
)
# fmt: on

# Used when ../shared/data/ip-ranges/datacenters.csv is not available: blocks of
# well-known cloud providers (Alibaba, Tencent, AWS, DigitalOcean, OVH, Vultr).
# fmt: off
FALLBACK_DATACENTER_BLOCKS: tuple[str, ...] = (
    "47.92.0.0/14", "120.76.0.0/14", "121.40.0.0/14", "139.196.0.0/16", "118.89.0.0/16",
    "129.204.0.0/16", "3.80.0.0/12", "54.64.0.0/13", "159.65.0.0/16", "167.99.0.0/16",
    "51.68.0.0/16", "45.32.0.0/16",
)
# fmt: on


def _block_bounds(cidr: str) -> tuple[int, int]:
    net = ipaddress.ip_network(cidr)
    return int(net.network_address) + 1, net.num_addresses - 2


class IpPool:
    """Addresses drawn deterministically from a list of (start, size) IPv4 blocks."""

    def __init__(self, blocks: list[tuple[int, int]]) -> None:
        if not blocks:
            raise ValueError("an IP pool needs at least one block")
        self.blocks = blocks

    @classmethod
    def from_cidrs(cls, cidrs: tuple[str, ...]) -> IpPool:
        return cls([_block_bounds(c) for c in cidrs])

    def pick(self, key: int) -> str:
        start, size = self.blocks[key % len(self.blocks)]
        return str(ipaddress.IPv4Address(start + (key >> 20) % max(size, 1)))


def load_datacenter_pool(path: Path | None) -> IpPool:
    """Data-centre ranges from an ipcat-style CSV (start,end,name,url), else the fallback.

    Only ranges of at least 256 addresses are kept, in file order, so the pool (and
    hence the simulated bytes) depends only on the file's content.
    """
    blocks: list[tuple[int, int]] = []
    if path is not None and path.is_file():
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                if len(row) < 2:
                    continue
                try:
                    lo = int(ipaddress.IPv4Address(row[0].strip()))
                    hi = int(ipaddress.IPv4Address(row[1].strip()))
                except ValueError:
                    continue
                if hi - lo >= 255:
                    blocks.append((lo + 1, hi - lo - 1))
    if not blocks:
        return IpPool.from_cidrs(FALLBACK_DATACENTER_BLOCKS)
    return IpPool(blocks)


_RESIDENTIAL = [IpPool.from_cidrs(c.ip_blocks) for c in CITIES]
_MOBILE = IpPool.from_cidrs(MOBILE_BLOCKS)


def residential_ip(city: int, key: int) -> str:
    return _RESIDENTIAL[city].pick(key)


def mobile_ip(key: int, city: int = -1, gateways: int = 0, ipv6: bool = False) -> str:
    """A mobile-data address. With ``gateways``, carriers' CGNAT: each city's subscribers
    leave through ``gateways`` /24s (or /64s over IPv6) per carrier, thousands behind each."""
    if gateways <= 0 or city < 0:
        return _MOBILE.pick(key)
    carrier = key % 3
    gw = (key >> 2) % gateways
    host = 1 + (key >> 8) % 254
    if ipv6:
        prefix = ("2409:8a", "2408:84", "240e:3b")[carrier]
        return f"{prefix}{city:02x}:{gw:x}0:{city:x}::{host:x}"
    base = h64("gateway", carrier, city, gw)
    start, size = _MOBILE.blocks[carrier % len(_MOBILE.blocks)]
    net = (start + base % max(size - 256, 1)) & ~0xFF
    return str(ipaddress.IPv4Address(net + host))


# fmt: off
_PHONE_PREFIXES = (
    "134", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159",
    "182", "183", "187", "188", "130", "131", "132", "155", "156", "185", "186", "133",
    "153", "180", "181", "189", "177", "199", "191", "166",
)
# fmt: on


def phone_number(key: int) -> str:
    """An 11-digit mainland mobile number."""
    return _PHONE_PREFIXES[key % len(_PHONE_PREFIXES)] + f"{(key >> 8) % 10**8:08d}"


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_number(city: int, key: int, birth_year: int) -> str:
    """An 18-digit resident ID: region, birth date, sequence, ISO 7064 MOD 11-2 check."""
    month = 1 + key % 12
    day = 1 + (key >> 4) % 28
    seq = (key >> 10) % 1000
    body = f"{CITIES[city].region}{birth_year:04d}{month:02d}{day:02d}{seq:03d}"
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + _ID_CHECK[total % 11]


_CARD_BINS = ("622202", "621700", "622848", "621661", "622588", "621483", "622609", "623668")


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return str((10 - total % 10) % 10)


def bank_card(key: int) -> str:
    """A 19-digit UnionPay debit card number with a valid Luhn digit."""
    body = _CARD_BINS[key % len(_CARD_BINS)] + f"{(key >> 8) % 10**12:012d}"
    return body + _luhn_digit(body)


_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋"
    "唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
    "英华玉兰建国文辉鹏飞婷雪慧晨宇浩然欣怡子涵梓轩佳琪思远"
)


def person_name(key: int) -> str:
    given = _GIVEN[(key >> 8) % len(_GIVEN)]
    if key & 1:
        given += _GIVEN[(key >> 16) % len(_GIVEN)]
    return _SURNAMES[key % len(_SURNAMES)] + given


@dataclass(frozen=True, slots=True)
class DeviceModel:
    platform: str
    model: str
    os_versions: tuple[str, ...]
    screen: str
    gpu: str


DEVICE_MODELS: tuple[DeviceModel, ...] = (
    DeviceModel("ios", "iPhone15,2", ("17.5", "17.6", "18.1"), "1179x2556", "apple-a16"),
    DeviceModel("ios", "iPhone14,5", ("16.7", "17.6", "18.1"), "1170x2532", "apple-a15"),
    DeviceModel("ios", "iPhone16,1", ("17.6", "18.1", "18.2"), "1179x2556", "apple-a17"),
    DeviceModel("ios", "iPhone12,1", ("15.8", "16.7", "17.6"), "828x1792", "apple-a13"),
    DeviceModel("android", "Xiaomi 14", ("14", "15"), "1200x2670", "adreno-750"),
    DeviceModel("android", "Redmi K70", ("14",), "1440x3200", "adreno-740"),
    DeviceModel("android", "Redmi Note 12", ("13", "14"), "1080x2400", "adreno-619"),
    DeviceModel("android", "HUAWEI Mate 60", ("12", "13"), "1260x2720", "maleoon-910"),
    DeviceModel("android", "HUAWEI nova 11", ("12",), "1084x2412", "adreno-642"),
    DeviceModel("android", "OPPO Reno11", ("14",), "1080x2412", "mali-g610"),
    DeviceModel("android", "OPPO A58", ("13",), "720x1612", "mali-g57"),
    DeviceModel("android", "vivo X100", ("14", "15"), "1260x2800", "immortalis-g720"),
    DeviceModel("android", "vivo Y78", ("13",), "1080x2400", "adreno-619"),
    DeviceModel("android", "HONOR 90", ("13", "14"), "1200x2664", "adreno-644"),
    DeviceModel("android", "OnePlus 12", ("14",), "1440x3168", "adreno-750"),
    DeviceModel("web", "Chrome/Windows", ("10", "11"), "1920x1080", "angle-d3d11"),
    DeviceModel("web", "Safari/macOS", ("14.6", "15.1"), "2560x1600", "apple-m2"),
    DeviceModel("mini_program", "WeChat/Android", ("8.0.50",), "1080x2400", "adreno-660"),
)
# Emulators and farm tools report plausible models but share a software renderer.
EMULATOR_MODELS: tuple[DeviceModel, ...] = (
    DeviceModel("android", "SM-G9750", ("9", "12"), "1080x2280", "swiftshader"),
    DeviceModel("android", "Pixel 4", ("11", "12"), "1080x2280", "swiftshader"),
    DeviceModel("android", "Redmi Note 12", ("13",), "1080x2400", "virgl"),
    DeviceModel("android", "MuMu", ("12",), "900x1600", "virgl"),
)
_HONEST_MODEL_WEIGHTS = (5, 5, 4, 3, 5, 3, 5, 6, 3, 4, 3, 4, 3, 3, 2, 2, 1, 2)
# Old or cheap models and custom builds that farms buy by the crate; a few honest users
# own one too, so their fingerprints exist but are rare.
RARE_MODELS: tuple[DeviceModel, ...] = (
    DeviceModel("android", "Redmi 9A", ("10",), "720x1600", "powervr-ge8320"),
    DeviceModel("android", "vivo Y3s", ("10",), "720x1544", "powervr-ge8320"),
    DeviceModel("android", "OPPO A5", ("8.1",), "720x1520", "adreno-506"),
    DeviceModel("android", "Lenovo K5", ("9",), "720x1440", "mali-t860"),
    DeviceModel("android", "Meizu M6", ("7.0",), "720x1280", "mali-t860"),
    DeviceModel("ios", "iPhone9,1", ("15.8",), "750x1334", "apple-a10"),
)
RARE_MODEL_SHARE = 0.01  # of honest devices


@lru_cache(maxsize=200_000)
def fingerprint(
    key: int,
    *,
    emulator: bool = False,
    rooted: bool = False,
    model_idx: int = -1,
    rare: bool = False,
    os_gen: int = 0,
    per_model_canvas: bool = True,
    harmonyos: bool = True,
) -> dict[str, Any]:
    """A device fingerprint derived from ``key``; the same key is the same device.

    The model is chosen by popularity unless ``model_idx`` names one (``rare``: among
    :data:`RARE_MODELS`). The WebGL hash depends only on the GPU. With
    ``per_model_canvas`` the canvas hash depends on model and OS version only, as in the
    field (every phone of one model and OS renders the same canvas); otherwise on the
    device. Emulators share their software renderer's. ``os_gen`` counts OS/app updates:
    each moves the OS version (and so the canvas hash). HUAWEI phones report ``android``
    with a HarmonyOS version when ``harmonyos``.
    """
    models = EMULATOR_MODELS if emulator else RARE_MODELS if rare else DEVICE_MODELS
    if model_idx >= 0:
        m = models[model_idx % len(models)]
    elif emulator or rare:
        m = models[key % len(models)]
    elif (key >> 40) % 1000 < RARE_MODEL_SHARE * 1000:
        m = RARE_MODELS[(key >> 24) % len(RARE_MODELS)]
    else:
        r = key % sum(_HONEST_MODEL_WEIGHTS)
        idx = 0
        while r >= _HONEST_MODEL_WEIGHTS[idx]:
            r -= _HONEST_MODEL_WEIGHTS[idx]
            idx += 1
        m = models[idx]
    os_version = m.os_versions[((key >> 12) + os_gen) % len(m.os_versions)]
    if os_gen >= len(m.os_versions):
        os_version = f"{os_version}.{os_gen}"
    language = "en-US" if (key >> 20) % 40 == 0 else "zh-CN"
    canvas_src: int | str
    if emulator:
        canvas_src = m.gpu
    elif per_model_canvas:
        canvas_src = f"{m.model}/{os_version}"
    else:
        canvas_src = key
    if harmonyos and m.model.startswith("HUAWEI"):
        os_version = f"HarmonyOS {4 + (key >> 30) % 2}.{(key >> 33) % 3}"
    fp: dict[str, Any] = {
        "platform": m.platform,
        "os_version": os_version,
        "model": m.model,
        "screen": m.screen,
        "timezone": "Asia/Shanghai",
        "language": language,
        "canvas_hash": hexid("canvas", canvas_src, n=16),
        "webgl_hash": hexid("webgl", m.gpu, n=16),
        "is_emulator": emulator,
        "is_rooted": rooted,
    }
    if m.platform == "web":
        fp["user_agent"] = f"Mozilla/5.0 ({m.model}) AppleWebKit/537.36"
    elif harmonyos and m.model.startswith("HUAWEI"):
        fp["user_agent"] = f"Mozilla/5.0 (Linux; Android 12; HarmonyOS; {m.model}) ArkWeb/4.1"
    return fp


def device_id(key: int) -> str:
    return hexid("device", key, n=16)
