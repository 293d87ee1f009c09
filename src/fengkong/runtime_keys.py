"""The deployment's keys and files: tokenisation, Redis state tags, field sealing.

Each key comes from the settings, else from a private file beside the database
(generated on first use, 0600), so a restart decides and reveals as before.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from pathlib import Path

from pydantic import SecretStr

from fengkong.events.protect import DEFAULT_PROTECTED_KEYS, FieldProtector
from fengkong.settings import Settings
from fengkong.storage.files import check_private, create_private, key_from_file, store_files

log = logging.getLogger(__name__)


def _deployment_key(
    configured: SecretStr | None, db_path: Path, suffix: str, name: str, advice: str
) -> bytes:
    """``configured``, else a random key kept 0600 in ``<db><suffix>`` (one per run in memory)."""
    if configured is not None:
        return configured.get_secret_value().encode()
    if str(db_path) == ":memory:":
        return secrets.token_bytes(32)
    key_file = Path(f"{db_path}{suffix}")
    if not key_file.exists():
        log.warning("no %s set: generated one in %s (%s)", name, key_file, advice)
    return key_from_file(key_file)


def token_secret(settings: Settings) -> bytes:
    """The tokenisation key: from settings, else ``<db>.key`` (kept with the database)."""
    return _deployment_key(
        settings.token_secret, settings.db_path, ".key", "token_secret", "keep it with the database"
    )


def redis_secret(settings: Settings) -> bytes:
    """The tag key of the Redis states, derived from the tokenisation key."""
    return hashlib.sha256(b"fengkong redis state\0" + token_secret(settings)).digest()


def field_key(settings: Settings) -> bytes:
    """The key of stored events' protected fields: from settings, else ``<db>.field-key``
    (keep it elsewhere than the database)."""
    return _deployment_key(
        settings.field_key, settings.db_path, ".field-key", "field_key", "keep it elsewhere"
    )


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
