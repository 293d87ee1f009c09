"""Identifiers masked in analyst-facing answers, unless the key may unmask.

What is masked: tokens (``tk_phone_3f9a…``), IP addresses (last octets), and the values
of fields that name a person or an account (names, device ids, account ids, cards,
phones, ID numbers, session ids, geo coordinates). Counts, scores, rule names and
feature values stay readable, so an analyst can work a case without seeing whom it is
about; ``unmask=true`` needs the ``unmask`` role and is recorded in the audit chain.

>>> mask({"ip": "203.0.113.7", "note": "tk_phone_0123456789abcdef01234567"})
{'ip': '203.0.*.*', 'note': 'tk_phone_0123…'}
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

_TOKEN = re.compile(r"\btk_([a-z_]+?)_([0-9a-f]{4})[0-9a-f]{8,}\b")
_IPV4 = re.compile(r"\b(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}\b")
_SENSITIVE_KEYS = frozenset(
    {
        "counterparty.name",
        "counterparty_name",
        "account_id",
        "device_id",
        "session_id",
        "phone",
        "id_number",
        "bank_card",
        "ip",
        "lat",
        "lon",
        "serial",
        "imei",
        "payload",
    }
)


def _mask_text(text: str) -> str:
    text = _TOKEN.sub(lambda m: f"tk_{m.group(1)}_{m.group(2)}…", text)
    return _IPV4.sub(lambda m: f"{m.group(1)}.{m.group(2)}.*.*", text)


def _mask_scalar(key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    last = key if key in _SENSITIVE_KEYS else key.rsplit(".", 1)[-1]
    if last in _SENSITIVE_KEYS:
        if last == "ip" and isinstance(value, str):
            try:
                ip = ipaddress.ip_address(value)
            except ValueError:
                return "***"
            return _mask_text(value) if ip.version == 4 else value.split(":")[0] + ":…"
        if isinstance(value, int | float):
            return round(float(value), 1)  # about 10 km: the city, not the house
        text = str(value)
        return _mask_text(text) if text.startswith("tk_") else text[:1] + "***"
    if isinstance(value, str):
        return _mask_text(value)
    return value


def mask(value: Any, key: str = "") -> Any:
    """A copy of a JSON value with identifiers masked."""
    if isinstance(value, dict):
        return {
            k: mask(v, f"{key}.{k}" if key == "counterparty" else str(k)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask(v, key) for v in value]
    return _mask_scalar(key, value)


def mask_value(value: Any) -> Any:
    """A list or freeze value (a token, an IP, a device or user id) masked."""
    if not isinstance(value, str):
        return value
    masked = _mask_text(value)
    return masked if masked != value else value[:2] + "***"
