"""Start a real ``fengkong serve`` process on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.keys import ADMIN_KEY, AUTH

__all__ = ["AUTH", "free_port", "start_server"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# A start takes a few seconds on a quiet machine and over 20 s on a loaded 2-core one.
START_WAIT_S = 120.0


def start_server(
    db: Path, port: int, env: dict[str, str] | None = None, *, wait_s: float = START_WAIT_S
) -> subprocess.Popen[bytes]:
    """Start the server and wait until /healthz answers (at most ``wait_s``)."""
    # The server's log goes to a file beside its database: a pipe nobody reads fills up
    # (the console OTP sender logs every code) and blocks the server mid-request.
    log = open(db.parent / f"server-{port}.log", "wb")  # noqa: SIM115 (the child keeps it)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fengkong", "serve", "--db", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env={
            **os.environ,
            "FENGKONG_TOKEN_SECRET": "integration-test-secret",
            "FENGKONG_BOOTSTRAP_KEY": ADMIN_KEY,
            **(env or {}),
        },
    )
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.close()
            raise RuntimeError(f"server exited: {Path(log.name).read_text(errors='replace')}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not start within {wait_s:.0f} s")
