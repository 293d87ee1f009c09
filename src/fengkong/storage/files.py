"""Private files: the database and key files are created 0600 and refused when wider.

SQLite gives its ``-wal`` and ``-shm`` files the mode of the database file, so creating
the database private keeps all three private.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

PRIVATE = 0o600


class InsecureFile(PermissionError):
    """A database or key file that others than its owner may read or write."""


def create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists."""
    if str(path) == ":memory:" or path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    except FileExistsError:
        return
    os.close(fd)


def check_private(paths: Iterable[Path]) -> None:
    """Raise :class:`InsecureFile` for any existing file that group or others can access."""
    for path in paths:
        if str(path) == ":memory:" or not path.exists():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise InsecureFile(
                f"{path} has mode {mode:04o}: others can read customer data or keys; "
                f"run `chmod 600 {path}` (fengkong creates its files 0600)"
            )


def store_files(db_path: Path) -> list[Path]:
    """The database and its companions: WAL, shared memory, the state snapshot (which
    holds what the stages learnt) and the default key files."""
    return [
        db_path,
        Path(f"{db_path}-wal"),
        Path(f"{db_path}-shm"),
        Path(f"{db_path}.snapshot"),
        Path(f"{db_path}.key"),
        Path(f"{db_path}.field-key"),
        Path(f"{db_path}.audit-key"),
    ]


def key_from_file(path: Path, nbytes: int = 32) -> bytes:
    """A random key kept in ``path`` (hex), created 0600 when missing."""
    if path.exists():
        check_private([path])
        return bytes.fromhex(path.read_text().strip())
    key = secrets.token_bytes(nbytes)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    with os.fdopen(fd, "w") as out:
        out.write(key.hex())
    return key
