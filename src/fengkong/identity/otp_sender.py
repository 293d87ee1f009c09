"""Delivery of one-time codes: a pluggable sender, a file sink and a console sink.

A production deployment plugs in its SMS or push gateway by implementing
:class:`OtpSender`; the sinks here are for development and the demo. A code is handed
to the sender once, at issue, and is stored only as a keyed hash.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import orjson

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OtpMessage:
    """One code to deliver to the account holder (``phone`` is the edge's token)."""

    challenge_id: str
    user_id: str
    phone: str | None
    code: str
    expires_at: float


class OtpSender(Protocol):
    def send(self, message: OtpMessage) -> None:
        """Deliver the code; raise to make the issue fail loudly."""
        ...


class FileSender:
    """Appends each message as a JSON line to ``path`` (mode 0600: it holds live codes)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, message: OtpMessage) -> None:
        line = orjson.dumps(
            {
                "challenge_id": message.challenge_id,
                "user_id": message.user_id,
                "phone": message.phone,
                "code": message.code,
                "expires_at": message.expires_at,
            }
        )
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "ab") as out:
                out.write(line + b"\n")


class ConsoleSender:
    """Logs each code (development only: anyone reading the log can answer)."""

    def send(self, message: OtpMessage) -> None:
        log.warning(
            "one-time code for %s (challenge %s): %s",
            message.user_id,
            message.challenge_id,
            message.code,
        )


def read_codes(path: str | Path) -> dict[str, str]:
    """The codes a :class:`FileSender` wrote, by challenge id (tests, demo, simulator)."""
    file = Path(path)
    if not file.exists():
        return {}
    codes: dict[str, str] = {}
    for line in file.read_bytes().splitlines():
        if line.strip():
            item = orjson.loads(line)
            codes[str(item["challenge_id"])] = str(item["code"])
    return codes
