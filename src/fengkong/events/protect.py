"""Customer data protected at rest: field-level encryption of stored event bodies.

The pipeline sees events in clear; what is written to the store goes through
:meth:`FieldProtector.seal` and what is read back (rebuilds, training, exports) through
:meth:`FieldProtector.reveal`. Sealed values are ``"enc:v1:" + base64(nonce || AES-GCM
ciphertext of the value's JSON)``, under a key from settings (docs/security.md).

Encrypted (:data:`PROTECTED_PATHS`): counterparty name and account, device id and
build properties (serials), IP address, geo position, session id, and each
``attributes`` / ``context`` key named in ``protected_keys``. Document images and voice
recordings are not kept: their digest (``fp:<digest>``, what duplicate detection
compares) replaces them, unless ``retain_media`` keeps them encrypted.
Phone, ID and card numbers are tokenised earlier, at the edge (:mod:`.tokens`).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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


def _parent(body: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    node: Any = body
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) and path[-1] in node else None


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
        self.retain_media = retain_media
        self._digest = media_digest

    def _seal_value(self, value: Any) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, orjson.dumps(value), None)
        return SEALED + base64.b64encode(nonce + sealed).decode()

    def _open_value(self, text: str) -> Any:
        blob = base64.b64decode(text[len(SEALED) :])
        return orjson.loads(self._aead.decrypt(blob[:12], blob[12:], None))

    def seal(self, event_json: bytes) -> bytes:
        body = orjson.loads(event_json)
        if not isinstance(body, dict):
            return event_json
        for path in self.paths:
            parent = _parent(body, path)
            if parent is not None and parent[path[-1]] is not None:
                parent[path[-1]] = self._seal_value(parent[path[-1]])
        for path in MEDIA_PATHS:
            parent = _parent(body, path)
            if parent is None or not isinstance(parent[path[-1]], str):
                continue
            raw = parent[path[-1]]
            if self.retain_media:
                parent[path[-1]] = self._seal_value(raw)
            elif self._digest is not None and not raw.startswith(MEDIA_DIGEST):
                parent[path[-1]] = MEDIA_DIGEST + self._digest(raw)
            elif not raw.startswith(MEDIA_DIGEST):
                parent[path[-1]] = MEDIA_DIGEST + "dropped"
        return orjson.dumps(body)

    def reveal(self, stored: bytes) -> bytes:
        """The body in clear (every sealed value, whichever keys were configured then)."""
        if SEALED.encode() not in stored:
            return stored
        return orjson.dumps(self._reveal(orjson.loads(stored)))

    def _reveal(self, node: Any) -> Any:
        if isinstance(node, dict):
            return {k: self._reveal(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self._reveal(v) for v in node]
        if isinstance(node, str) and node.startswith(SEALED):
            try:
                return self._open_value(node)
            except (InvalidTag, ValueError):
                return node  # a client's own text that merely looks sealed
        return node
