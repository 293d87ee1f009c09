"""Signed checkpoints of the audit chain, in the C2SP ``tlog-checkpoint`` format.

A checkpoint is a signed note (C2SP ``signed-note``)::

    fengkong.local/audit            <- origin: names the log
    1234                            <- tree size: entries covered
    Xw2Q...=                        <- base64 RFC 6962 root over those entries
                                    <- blank line ends the signed text
    — fengkong.local/audit AbCdEf...= <- em dash, key name, base64(key hash || Ed25519 sig)

The signature covers the three body lines (with their newlines); the key hash is the
first 4 bytes of ``SHA-256(name || "\\n" || 0x01 || public key)``. The public key is
given as a verifier key ``name+hash+base64(0x01 || key)`` (the Go ``note`` encoding),
which an operator publishes once; each checkpoint is then published (a web page, a
transparency log, a notary) so that the chain can be checked against it later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

_ED25519 = b"\x01"
_DASH = "\u2014 "


class CheckpointError(ValueError):
    """A checkpoint or verifier key that is malformed or does not verify."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def strict_b64(text: str) -> bytes:
    """Decode base64, refusing any text that is not the canonical encoding."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"not base64: {text[:40]!r}") from None
    if _b64(data) != text:
        raise CheckpointError(f"not canonical base64: {text[:40]!r}")
    return data


def key_hash(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public).digest()[:4]


@dataclass(frozen=True, slots=True)
class Verifier:
    name: str
    public: Ed25519PublicKey
    raw: bytes

    @property
    def key_hash(self) -> bytes:
        return key_hash(self.name, self.raw)

    def encode(self) -> str:
        return f"{self.name}+{self.key_hash.hex()}+{_b64(_ED25519 + self.raw)}"


def parse_verifier(text: str) -> Verifier:
    """A verifier key ``name+hash+base64key`` as printed by ``fengkong audit public-key``."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise CheckpointError("a verifier key is name+hash+key")
    name, hexhash, key = parts
    blob = strict_b64(key)
    if len(blob) != 33 or blob[:1] != _ED25519:
        raise CheckpointError("not an Ed25519 verifier key")
    raw = blob[1:]
    if key_hash(name, raw).hex() != hexhash:
        raise CheckpointError("verifier key hash does not match its key")
    return Verifier(name, Ed25519PublicKey.from_public_bytes(raw), raw)


class Signer:
    """An Ed25519 key that signs checkpoints under a key name (the log's origin)."""

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        self.name = name
        self._private = private
        raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = Verifier(name, private.public_key(), raw)

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)


def load_signer(path: Path, name: str) -> Signer:
    """The signing key in ``path`` (raw 32 bytes, hex), created 0600 when missing."""
    if path.exists():
        text = path.read_text().strip()
        try:
            private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(text))
        except ValueError:
            raise CheckpointError(f"{path}: not an Ed25519 key (64 hex digits)") from None
        return Signer(name, private)
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(raw.hex())
    return Signer(name, private)


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{_b64(root)}\n"


def format_checkpoint(signer: Signer, size: int, root: bytes) -> str:
    body = checkpoint_body(signer.name, size, root)
    sig = signer.sign(body.encode())
    return f"{body}\n{_DASH}{signer.name} {_b64(signer.verifier.key_hash + sig)}\n"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes


def verify_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    """Parse a checkpoint and check its signature by ``verifier``; raises on any fault."""
    body, sep, sigs = note.partition("\n\n")
    if not sep:
        raise CheckpointError("checkpoint has no signature block")
    lines = body.split("\n")
    if len(lines) != 3:
        raise CheckpointError("checkpoint body is origin, size and root")
    origin, size_text, root_text = lines
    if not size_text.isdigit() or str(int(size_text)) != size_text:
        raise CheckpointError("checkpoint size is not a decimal number")
    root = strict_b64(root_text)
    if len(root) != 32:
        raise CheckpointError("checkpoint root is not 32 bytes")
    if origin != verifier.name:
        raise CheckpointError(f"checkpoint of {origin!r}, not of {verifier.name!r}")
    signed = (body + "\n").encode()
    if not sigs.endswith("\n"):
        raise CheckpointError("checkpoint does not end with a newline")
    found = False
    for line in sigs[:-1].split("\n"):
        if not line.startswith(_DASH):
            raise CheckpointError("malformed signature line")
        name, _, blob_text = line[len(_DASH) :].partition(" ")
        blob = strict_b64(blob_text)
        if name != verifier.name or blob[:4] != verifier.key_hash:
            continue
        try:
            verifier.public.verify(blob[4:], signed)
        except InvalidSignature:
            raise CheckpointError("checkpoint signature does not verify") from None
        found = True
    if not found:
        raise CheckpointError(f"checkpoint is not signed by {verifier.name}")
    return Checkpoint(origin, int(size_text), root)
