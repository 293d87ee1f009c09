"""Device identity: the app's ``device_id`` when it has one, fingerprint evidence else.

In the field every phone of one model and OS version renders the same canvas and WebGL
hash, so fingerprint components cannot tell two such phones apart: they are *evidence*
about a device (how common its fingerprint is, see :mod:`fengkong.identity.fingerprints`),
not its identity. The key is therefore the app's ``device_id`` when present and not a
known placeholder (strength ``client_id``). Without one (web without a cookie, a stripped
or placeholder id) the key falls back to the whole fingerprint, software components
included (strength ``fingerprint``: strangers with one phone model and OS may share it,
so rules never count users per such a key), and failing that to a weak key of model,
screen, timezone and language (strength ``weak``).

>>> from fengkong.events import Device
>>> fp = {"platform": "android", "model": "Xiaomi 14", "screen": "1200x2670", "canvas_hash": "c1"}
>>> a = Device.model_validate({"device_id": "a1f3-77c2", "fingerprint": fp})
>>> b = Device.model_validate({"device_id": "b9e0-12d4", "fingerprint": fp})
>>> device_key(a) != device_key(b), device_key(a)[1]
(True, 'client_id')
>>> device_key(Device.model_validate({"device_id": "unknown", "fingerprint": fp}))[1]
'fingerprint'
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fengkong.events import Device, Fingerprint

FeatureValue = float | int | str | bool | None

# Android build properties that name the hardware, not the software build.
_HARDWARE_PROPS = (
    "ro.serialno",
    "ro.boot.serialno",
    "ro.hardware",
    "ro.product.board",
    "ro.product.device",
    "ro.product.manufacturer",
)
_EMULATOR_HARDWARE = frozenset({"goldfish", "ranchu", "vbox86", "nox", "ttvm_x86", "android_x86"})
_EMULATOR_MODEL = re.compile(
    r"(sdk_gphone|google_sdk|android sdk built for|emulator|genymotion|\bmumu\b|bluestacks"
    r"|nox|ldplayer|memu|virtualbox|vbox)",
    re.IGNORECASE,
)
_SOFTWARE_GPU = re.compile(r"(swiftshader|llvmpipe|virgl|software|mesa offscreen)", re.IGNORECASE)
_AUTOMATION_UA = re.compile(
    r"(headlesschrome|phantomjs|selenium|webdriver|puppeteer|playwright|electron|python-requests"
    r"|okhttp/|curl/|go-http-client)",
    re.IGNORECASE,
)
_UA_PLATFORM = {
    "android": re.compile(r"android|okhttp|dalvik", re.IGNORECASE),
    "ios": re.compile(r"iphone|ipad|ipod|ios|cfnetwork|darwin", re.IGNORECASE),
}
_UA_OTHER_MOBILE = {
    "android": re.compile(r"iphone|ipad|cfnetwork", re.IGNORECASE),
    "ios": re.compile(r"android|dalvik", re.IGNORECASE),
}


def _digest(kind: str, parts: list[str]) -> str:
    data = "\x1f".join([kind, *parts]).encode()
    return "dk_" + hashlib.blake2b(data, digest_size=10).hexdigest()


# Ids that SDKs report when the real one is unavailable or denied: the famous Android ID
# of one buggy build, zeroed IMEIs/IDFAs, and the strings of unset variables.
_PLACEHOLDER_IDS = frozenset(
    {
        "",
        "0",
        "-1",
        "null",
        "none",
        "nil",
        "undefined",
        "unknown",
        "default",
        "n/a",
        "9774d56d682e549c",
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "02:00:00:00:00:00",  # the MAC address apps get since Android 6 / iOS 7
    }
)


def usable_device_id(device_id: str | None) -> str | None:
    """The app's device id, or ``None`` when absent or a known placeholder (all zeros,
    ``unknown``, the 9774d56d682e549c Android ID, shorter than 6 characters)."""
    if device_id is None:
        return None
    text = device_id.strip()
    low = text.lower()
    if low in _PLACEHOLDER_IDS or len(text) < 6 or not low.strip("0-:"):
        return None
    return text


def normal_platform(platform: str | None) -> str | None:
    """Platforms as fingerprints group them (HarmonyOS phones report ``android``)."""
    if platform is None:
        return None
    low = platform.lower()
    return "android" if low in ("harmonyos", "harmony", "openharmony") else low


def device_key(device: Device | None) -> tuple[str | None, str | None]:
    """``(key, strength)`` of a device: strength ``client_id``, ``fingerprint`` or ``weak``."""
    if device is None:
        return None, None
    own = usable_device_id(device.device_id)
    if own is not None:
        return _digest("id", [own]), "client_id"
    model = device.fingerprint
    if model is None:
        return None, None
    # The declared fields from the model's instance dict: one model attribute read, not
    # fourteen (each goes through pydantic's ``__getattr__`` hook).
    fp = model.__dict__
    props = fp["build_props"] or {}
    hardware = [fp["canvas_hash"], fp["webgl_hash"], *(props.get(p) for p in _HARDWARE_PROPS)]
    if any(h for h in hardware):
        software = (fp["os_version"], fp["user_agent"], fp["language"], fp["timezone"])
        parts = [
            str(x or "")
            for x in (
                normal_platform(fp["platform"]),
                fp["model"],
                fp["screen"],
                *hardware,
                *software,
                fp["fonts_hash"],
            )
        ]
        return _digest("fp", parts), "fingerprint"
    weak = [fp["platform"], fp["model"], fp["screen"], fp["timezone"], fp["language"]]
    if sum(1 for w in weak if w) >= 3:
        return _digest("weak", [str(w or "") for w in weak]), "weak"
    return None, None


def client_device_key(device: Device | None) -> str | None:
    """The device key when it comes from the app's own ``device_id``, else ``None``.

    Counts that follow one device (failed challenges, bound devices) must not follow a
    fingerprint key: one popular phone model shares it among thousands of strangers.
    """
    key, strength = device_key(device)
    return key if strength == "client_id" else None


def _extra(fp: Fingerprint, name: str) -> Any:
    """An undeclared fingerprint field the app sent (``None`` when absent).

    Read from the model's extras directly: ``getattr`` with a default on a pydantic
    model raises and formats two ``AttributeError``s per missing name.
    """
    extra = fp.__pydantic_extra__
    return None if extra is None else extra.get(name)


def _prop(props: dict[str, Any], name: str) -> str:
    return str(props.get(name, "")).strip().lower()


def is_emulator(fp: Fingerprint) -> bool:
    """The app says so, or the build, model or GPU is an emulator's."""
    if fp.is_emulator:
        return True
    props = fp.build_props or {}
    if _prop(props, "ro.kernel.qemu") == "1" or _prop(props, "ro.hardware") in _EMULATOR_HARDWARE:
        return True
    texts = [fp.model or "", _prop(props, "ro.product.model"), _prop(props, "ro.product.brand")]
    if any(_EMULATOR_MODEL.search(t) for t in texts if t):
        return True
    renderer = str(_extra(fp, "webgl_renderer") or _prop(props, "ro.hardware.egl"))
    return bool(renderer and _SOFTWARE_GPU.search(renderer))


def is_rooted(fp: Fingerprint) -> bool:
    """The app says so, or the build is debuggable / insecure / signed with test keys."""
    if fp.is_rooted:
        return True
    props = fp.build_props or {}
    return (
        _prop(props, "ro.debuggable") == "1"
        or _prop(props, "ro.secure") == "0"
        or "test-keys" in _prop(props, "ro.build.tags")
    )


def is_automation(fp: Fingerprint) -> bool:
    """A headless browser or automation driver (user agent or ``webdriver`` flag)."""
    if _extra(fp, "webdriver") is True:
        return True
    return bool(fp.user_agent and _AUTOMATION_UA.search(fp.user_agent))


def platform_ua_mismatch(fp: Fingerprint) -> bool | None:
    """The declared mobile platform contradicts the user agent; ``None`` if unknowable."""
    if fp.user_agent is None or fp.platform not in _UA_PLATFORM:
        return None
    ua = fp.user_agent
    if _UA_OTHER_MOBILE[fp.platform].search(ua):
        return True
    # A desktop browser UA (Windows NT / Macintosh / X11) claiming to be a phone app.
    return not _UA_PLATFORM[fp.platform].search(ua) and bool(
        re.search(r"windows nt|macintosh|x11", ua, re.IGNORECASE)
    )


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # Not an IANA zone ("Asia" is a directory of zones, "../x" a path): unknown.
        return None


def utc_offset_hours(tz_name: str, at: datetime) -> float | None:
    """The UTC offset of an IANA timezone at a moment, in hours; ``None`` if unknown."""
    zone = _zone(tz_name)
    if zone is None:
        return None
    offset = at.astimezone(zone).utcoffset()
    return None if offset is None else offset.total_seconds() / 3600


def tz_geo_mismatch(tz_name: str | None, lon: float | None, at: datetime) -> bool | None:
    """Timezone more than 3 h from the longitude's solar time (lon / 15)."""
    if tz_name is None or lon is None:
        return None
    offset = utc_offset_hours(tz_name, at)
    if offset is None:
        return None
    diff = abs(offset - lon / 15.0)
    diff = min(diff, 24 - diff)  # across the date line
    return diff > 3.0


@lru_cache(maxsize=1)
def _zone_countries() -> dict[str, str]:
    """IANA zone -> ISO country, from the system's ``zone.tab`` when present."""
    out: dict[str, str] = {}
    for path in ("/usr/share/zoneinfo/zone.tab", "/usr/lib/zoneinfo/zone.tab"):
        try:
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    if line.startswith("#"):
                        continue
                    parts = line.split("\t")
                    if len(parts) >= 3:
                        out[parts[2].strip()] = parts[0].strip()
        except OSError:
            continue
        break
    return out


def zone_country(tz_name: str) -> str | None:
    """ISO country of an IANA zone (``Asia/Shanghai`` -> ``CN``), if known."""
    return _zone_countries().get(tz_name)


def device_facts(
    device: Device | None,
    *,
    at: datetime,
    lon: float | None = None,
    ip_country: str | None = None,
    cache: DeviceCache | None = None,
) -> dict[str, FeatureValue]:
    """The ``device.*`` facts of docs/features.md for one event's device.

    ``cache`` memoises the part that depends on the device alone (see
    :class:`DeviceCache`); the timezone checks depend on the event and are computed.
    """
    if device is None:
        return {"device.key": None, "device.key_strength": None}
    facts = dict(cache.static_facts(device) if cache is not None else _static_facts(device))
    fp = device.fingerprint
    if fp is None:
        return facts
    facts["device.tz_geo_mismatch"] = tz_geo_mismatch(fp.timezone, lon, at)
    if ip_country is not None and fp.timezone is not None:
        tz_country = zone_country(fp.timezone)
        facts["device.tz_ip_mismatch"] = (
            None if tz_country is None else tz_country != ip_country.upper()
        )
    return facts


def _content_key(device: Device) -> tuple[Any, ...] | None:
    """A hashable tuple of everything a device's own facts depend on; ``None`` if the
    fingerprint holds unhashable values (those devices are simply not cached)."""
    fp = device.fingerprint
    if fp is None:
        return (device.device_id,)
    values: dict[str, Any] = fp.__dict__
    key: tuple[Any, ...]
    if values.get("build_props") is None:
        key = (device.device_id, *values.values())
    else:  # the one dict-valued field, as a tuple in its own position
        key = (
            device.device_id,
            *(tuple(v.items()) if k == "build_props" else v for k, v in values.items()),
        )
    extra = fp.__pydantic_extra__
    if extra:
        key = (*key, *extra.items())
    try:
        hash(key)
    except TypeError:
        return None
    return key


class DeviceCache:
    """Bounded memo of the facts that depend on the device alone (key, strength,
    emulator / rooted / automation, platform vs UA), keyed by the fingerprint's content.

    The same phone sends the same fingerprint event after event, and the key's hash and
    the regular expressions cost far more than building the tuple. The oldest entry
    goes first when ``size`` is reached (insertion order: cheap, and good enough for a
    memo whose misses only cost the computation).
    """

    __slots__ = ("_memo", "size")

    def __init__(self, size: int = 65_536) -> None:
        self.size = size
        self._memo: dict[tuple[Any, ...], dict[str, FeatureValue]] = {}

    def __len__(self) -> int:
        return len(self._memo)

    def static_facts(self, device: Device) -> dict[str, FeatureValue]:
        """The device-only facts (do not mutate the returned dict: it is shared)."""
        ck = _content_key(device)
        if ck is not None:
            hit = self._memo.get(ck)
            if hit is not None:
                return hit
        facts = _static_facts(device)
        if ck is not None:
            memo = self._memo
            if len(memo) >= self.size:
                del memo[next(iter(memo))]
            memo[ck] = facts
        return facts

    def key(self, device: Device | None) -> str | None:
        """:func:`device_key`'s key, memoised."""
        if device is None:
            return None
        key = self.static_facts(device)["device.key"]
        return key if isinstance(key, str) else None


def _static_facts(device: Device) -> dict[str, FeatureValue]:
    key, strength = device_key(device)
    facts: dict[str, FeatureValue] = {"device.key": key, "device.key_strength": strength}
    fp = device.fingerprint
    if fp is not None:
        facts["device.is_emulator"] = is_emulator(fp)
        facts["device.is_rooted"] = is_rooted(fp)
        facts["device.is_automation"] = is_automation(fp)
        facts["device.platform_ua_mismatch"] = platform_ua_mismatch(fp)
    return facts
