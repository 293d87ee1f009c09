"""Keys: the consortium's HMAC keys (with ids, for rotation) and members' Ed25519 keys.

An entry is ``HMAC-SHA256(consortium key, "fengkong-share/1" | kind | canonical value)``,
truncated to 128 bits: equal identities match across members holding the key; without
the key a phone number cannot be tested by hashing guesses (docs/sharing.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DOMAIN = b"fengkong-share/1"
DIGEST_BYTES = 16


class ShareKeyError(ValueError):
    """A missing, unknown or revoked key."""


class ConsortiumKeys:
    """The consortium HMAC keys by id; ``current`` is the one exports use.

    Rotation: the consortium hands out the next key with a new id; members add it, switch
    ``current`` to it and keep the old one while bundles under it are still live.
    """

    def __init__(self, keys: Mapping[str, bytes], current: str | None = None) -> None:
        for key_id, secret in keys.items():
            if len(secret) < 16:
                raise ShareKeyError(f"consortium key {key_id!r} is shorter than 16 bytes")
        self._keys = dict(keys)
        if current is None and len(self._keys) == 1:
            current = next(iter(self._keys))
        if current is not None and current not in self._keys:
            raise ShareKeyError(f"current consortium key {current!r} is not configured")
        self.current = current

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._keys))

    def __bool__(self) -> bool:
        return bool(self._keys)

    def digest(self, key_id: str, kind: str, value: str) -> str:
        """The keyed hash of a canonical value under key ``key_id`` (hex)."""
        secret = self._keys.get(key_id)
        if secret is None:
            raise ShareKeyError(f"unknown consortium key {key_id!r}")
        data = b"\x1f".join((DOMAIN, kind.encode(), value.encode()))
        return hmac.new(secret, data, hashlib.sha256).digest()[:DIGEST_BYTES].hex()

    def digests(self, kind: str, value: str) -> dict[str, str]:
        """The hash under every configured key (matching works across a rotation)."""
        return {key_id: self.digest(key_id, kind, value) for key_id in self._keys}


def load_signing_key(path: Path, *, create: bool = True) -> Ed25519PrivateKey:
    """The member's Ed25519 signing key (raw 32 bytes, hex, 0600), created on first use."""
    if path.exists():
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(path.read_text().strip()))
    if not create:
        raise ShareKeyError(f"no member signing key at {path}")
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(raw.hex())
    return key


def public_key_text(key: Ed25519PrivateKey) -> str:
    """The public half, base64 of the raw 32 bytes (what the member directory holds)."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def key_id_of(public_b64: str) -> str:
    """A short id of a public key: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(base64.b64decode(public_b64)).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class MemberKey:
    member: str
    key_id: str
    public: Ed25519PublicKey
    revoked: bool = False


class MemberDirectory:
    """The consortium's members and their public keys (a TOML file each member holds).

    ``[[members]] id = "bank-a"  keys = ["<base64>", ...]  revoked_keys = ["<base64>"]``
    and optionally ``trust`` (0..1, default 1: each of its confidences is multiplied by
    it) and ``max_entries`` (a bundle with more is refused): a member whose reports
    proved wrong weighs less without being cut off.
    """

    def __init__(
        self,
        keys: list[MemberKey],
        trust: dict[str, float] | None = None,
        max_entries: dict[str, int] | None = None,
    ) -> None:
        self._keys = {(k.member, k.key_id): k for k in keys}
        self._trust = trust or {}
        self._max = max_entries or {}

    def trust(self, member: str) -> float:
        return self._trust.get(member, 1.0)

    def max_entries(self, member: str) -> int | None:
        return self._max.get(member)

    @classmethod
    def load(cls, path: Path) -> MemberDirectory:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        keys: list[MemberKey] = []
        trust: dict[str, float] = {}
        limits: dict[str, int] = {}
        for item in data.get("members", []):
            member = str(item["id"])
            if "trust" in item:
                trust[member] = min(1.0, max(0.0, float(item["trust"])))
            if "max_entries" in item:
                limits[member] = int(item["max_entries"])
            for revoked, field in ((False, "keys"), (True, "revoked_keys")):
                for text in item.get(field, []):
                    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(text))
                    keys.append(MemberKey(member, key_id_of(text), public, revoked))
        return cls(keys, trust, limits)

    def members(self) -> list[str]:
        return sorted({m for m, _ in self._keys})

    def verify(self, member: str, key_id: str, signature: bytes, data: bytes) -> None:
        """Raises :class:`ShareKeyError` unless ``signature`` is the member key's over ``data``."""
        key = self._keys.get((member, key_id))
        if key is None:
            raise ShareKeyError(f"member {member!r} has no key {key_id!r} in the directory")
        if key.revoked:
            raise ShareKeyError(f"key {key_id!r} of member {member!r} is revoked")
        try:
            key.public.verify(signature, data)
        except InvalidSignature:
            raise ShareKeyError(f"bad signature: not signed by {member!r} key {key_id!r}") from None
