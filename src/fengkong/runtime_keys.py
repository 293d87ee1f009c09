"""The deployment's keys and files: tokenisation, Redis state tags, field sealing.

Each key comes from the settings, else from a private file beside the database
(generated on first use, 0600), so a restart decides and reveals as before.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from pathlib import Path

from fengkong.events.protect import DEFAULT_PROTECTED_KEYS, FieldProtector
from fengkong.settings import Settings
from fengkong.storage.files import check_private, create_private, key_from_file, store_files

log = logging.getLogger(__name__)


def token_secret(settings: Settings) -> bytes:
    """The tokenisation key: from settings, else a random one kept beside the database."""
    if settings.token_secret is not None:
        return settings.token_secret.get_secret_value().encode()
    if str(settings.db_path) == ":memory:":
        return secrets.token_bytes(32)
    key_file = Path(f"{settings.db_path}.key")
    if key_file.exists():
        return bytes.fromhex(key_file.read_text().strip())
    key = secrets.token_bytes(32)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    # Created private from the start: the key must never be readable by others.
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key.hex())
    log.warning("no token_secret set: generated one in %s (keep it with the database)", key_file)
    return key


def redis_secret(settings: Settings) -> bytes:
    """The tag key of the Redis states, derived from the tokenisation key."""
    return hashlib.sha256(b"fengkong redis state\0" + token_secret(settings)).digest()


def field_key(settings: Settings) -> bytes:
    """The key of stored events' protected fields: from settings, else ``<db>.field-key``."""
    if settings.field_key is not None:
        return settings.field_key.get_secret_value().encode()
    if str(settings.db_path) == ":memory:":
        return secrets.token_bytes(32)
    key_file = Path(f"{settings.db_path}.field-key")
    if not key_file.exists():
        log.warning("no field_key set: generated one in %s (keep it elsewhere)", key_file)
    return key_from_file(key_file)


def field_protector(settings: Settings) -> FieldProtector:
    """Field-level encryption of stored events, under :func:`field_key`."""
    from fengkong.documents import image_fingerprint

    return FieldProtector(
        field_key(settings),
        protected_keys=[*DEFAULT_PROTECTED_KEYS, *settings.protected_attributes],
        retain_media=settings.retain_media,
        media_digest=image_fingerprint,
    )


def secure_files(settings: Settings) -> None:
    """Create the database 0600 and refuse to start on any wider database or key file."""
    if str(settings.db_path) == ":memory:":
        return
    create_private(Path(settings.db_path))
    extra = [p for p in (settings.audit_key_path,) if p is not None]
    check_private([*store_files(Path(settings.db_path)), *extra])
