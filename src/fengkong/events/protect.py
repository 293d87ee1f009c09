"""Customer data protected at rest: field-level encryption of stored event bodies.

The pipeline sees events in clear; what is written to the store goes through
:meth:`FieldProtector.seal` and what is read back (rebuilds, training, exports) through
:meth:`FieldProtector.reveal`. Sealing moves the protected fields of a body into one
envelope, ``"sealed": "enc:v1:" + base64(nonce || AES-GCM ciphertext)`` of a JSON object
``{"counterparty.name": ..., ...}``, under a key from settings (docs/security.md): one
encryption per event, whatever the number of fields.

Encrypted (:data:`PROTECTED_PATHS`): counterparty name and account, device id and
build properties (serials), IP address, geo position, session id, and each
``attributes`` / ``context`` key named in ``protected_keys``. Document images and voice
recordings are not kept: their digest (``fp:<digest>``, what duplicate detection
compares) replaces them, unless ``retain_media`` seals them too.
Phone, ID and card numbers are tokenised earlier, at the edge (:mod:`.tokens`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENVELOPE = "sealed"
SEALED = "enc:v1:"
MEDIA_DIGEST = "fp:"

PROTECTED_PATHS: tuple[tuple[str, ...], ...] = (
    ("counterparty", "name"),
    ("counterparty", "account_id"),
    ("device", "device_id"),
    ("device", "fingerprint", "build_props"),
    ("ip",),
    ("geo",),
    ("session_id",),
)
MEDIA_PATHS: tuple[tuple[str, ...], ...] = (("document", "image_b64"), ("voice", "audio_b64"))
DEFAULT_PROTECTED_KEYS: tuple[str, ...] = (
    "name",
    "full_name",
    "email",
    "address",
    "contact_name",
    "contact_phone",
)


def media_fingerprint(image_b64: str) -> str:
    """A digest of a media field's bytes (of the text itself when it is not valid base64);
    a stored body's ``fp:<digest>`` gives that same digest back, so what is learnt from
    live events and from the stored log agrees."""
    if image_b64.startswith(MEDIA_DIGEST):
        return image_b64[len(MEDIA_DIGEST) :]
    compact = "".join(image_b64.split())
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        data = compact.encode()
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _parent(body: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    node: Any = body
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) and path[-1] in node else None


def _place(body: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = body
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


_Tree = dict[str, "_Tree | None"]


def _take(node: dict[str, Any], tree: _Tree, prefix: str, out: dict[str, Any]) -> None:
    """Move the values at ``tree``'s leaves out of ``node`` into ``out`` (dotted keys)."""
    small = node if len(node) < len(tree) else tree
    for key in list(small):
        if key not in node or key not in tree:
            continue
        sub = tree[key]
        if sub is None:
            out[prefix + key] = node.pop(key)
        elif isinstance(node[key], dict):
            _take(node[key], sub, f"{prefix}{key}.", out)


class SealError(ValueError):
    """A stored envelope that does not open under this key (wrong key, or tampered)."""


class FieldProtector:
    """Seals and reveals the protected fields of stored event bodies (JSON bytes)."""

    def __init__(
        self,
        key: bytes,
        *,
        protected_keys: Iterable[str] = DEFAULT_PROTECTED_KEYS,
        retain_media: bool = False,
        media_digest: Callable[[str], str] | None = None,
    ) -> None:
        if len(key) < 16:
            raise ValueError("the field key must be at least 16 bytes")
        self._aead = AESGCM(key[:32] if len(key) >= 32 else key[:16])
        keys = tuple(dict.fromkeys(protected_keys))
        self.paths = PROTECTED_PATHS + tuple(
            (top, k) for top in ("attributes", "context") for k in keys
        )
        # The paths as a tree, walked only where the body has the keys (the hot path).
        self._tree: _Tree = {}
        for path in self.paths:
            node = self._tree
            for part in path[:-1]:
                child = node.setdefault(part, {})
                assert child is not None
                node = child
            node[path[-1]] = None
        self.retain_media = retain_media
        self._digest = media_digest

    def seal(self, event_json: bytes) -> bytes:
        body = orjson.loads(event_json)
        if not isinstance(body, dict):
            return event_json
        secret: dict[str, Any] = {}
        _take(body, self._tree, "", secret)
        for path in MEDIA_PATHS:
            parent = _parent(body, path)
            if parent is None or not isinstance(parent[path[-1]], str):
                continue
            raw = parent[path[-1]]
            if raw.startswith(MEDIA_DIGEST):
                continue
            digest = self._digest(raw) if self._digest is not None else "dropped"
            if self.retain_media:
                secret[".".join(path)] = raw
            parent[path[-1]] = MEDIA_DIGEST + digest
        if secret:
            nonce = os.urandom(12)
            sealed = self._aead.encrypt(nonce, orjson.dumps(secret), None)
            body[ENVELOPE] = SEALED + base64.b64encode(nonce + sealed).decode()
        return orjson.dumps(body)

    def seal_blob(self, data: bytes, label: bytes) -> bytes:
        """``data`` encrypted whole (nonce first), bound to ``label`` (what it is)."""
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, data, label)

    def open_blob(self, blob: bytes, label: bytes) -> bytes:
        """The data :meth:`seal_blob` sealed with ``label``; :class:`SealError` otherwise."""
        try:
            return self._aead.decrypt(blob[:12], blob[12:], label)
        except (InvalidTag, ValueError) as exc:
            raise SealError(f"a sealed {label.decode()} does not open under this key") from exc

    def reveal(self, stored: bytes) -> bytes:
        """The body in clear, as it was sealed (whichever keys were configured then)."""
        if SEALED.encode() not in stored:
            return stored
        body = orjson.loads(stored)
        envelope = body.pop(ENVELOPE, None) if isinstance(body, dict) else None
        if not isinstance(envelope, str) or not envelope.startswith(SEALED):
            return stored
        try:
            blob = base64.b64decode(envelope[len(SEALED) :])
            secret = orjson.loads(self._aead.decrypt(blob[:12], blob[12:], None))
        except (InvalidTag, ValueError) as exc:
            raise SealError("a stored event does not open under this field_key") from exc
        for dotted, value in secret.items():
            _place(body, tuple(dotted.split(".")), value)
        return orjson.dumps(body)
