"""Canonical JSON: the exact bytes that are hashed and signed.

Keys sorted, no whitespace, UTF-8, numbers in their shortest form (orjson). The same
value always gives the same bytes, so anyone can recompute a hash from the data.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``value``."""
    return sha256_hex(canonical(value))
