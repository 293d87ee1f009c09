"""Throwaway PostgreSQL and Redis servers for the tests of those backends.

Each starts on a free port in a temporary directory and is stopped at the end of the
session. PostgreSQL refuses to run as root: as root the cluster belongs to the
``postgres`` user (Debian's package creates it) or ``nobody``. Tests that need a server
skip with the reason when its binaries are absent (``.ci/run`` installs both).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bindir() -> Path | None:
    """A directory with both ``initdb`` and ``postgres`` (Debian's first)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if (found := shutil.which("initdb")) is not None:
        candidates.append(str(Path(found).parent))
    for d in candidates:
        if (Path(d) / "initdb").exists() and (Path(d) / "postgres").exists():
            return Path(d)
    return None


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} in {timeout} s")


def _as_user() -> tuple[list[str], int | None, int | None]:
    """The command prefix and ids to run PostgreSQL unprivileged."""
    if os.geteuid() != 0:
        return [], None, None
    for name in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"], pw.pw_uid, pw.pw_gid
    raise RuntimeError("no unprivileged user to run PostgreSQL as")


@contextmanager
def postgres_server(fsync: bool = False) -> Iterator[str]:
    """A fresh cluster; yields the URL of its ``postgres`` database (trust auth).

    ``fsync``: durable commits (off by default: tests need no power-loss safety).
    """
    bindir = pg_bindir()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL binaries (initdb, postgres) not found")
    prefix, uid, gid = _as_user()
    root = Path(tempfile.mkdtemp(prefix="fk-pg-"))
    data = root / "data"
    if uid is not None and gid is not None:
        os.chown(root, uid, gid)
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "fk",
         "-E", "UTF8", "--no-sync"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    proc = subprocess.Popen(
        [*prefix, str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(root),
         "-c", "listen_addresses=127.0.0.1", "-c", f"fsync={'on' if fsync else 'off'}",
         "-c", "max_connections=200"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_port(port, proc, "postgres")
        url = f"postgresql://fk@127.0.0.1:{port}/postgres"
        _wait_ready(url)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(url: str, timeout: float = 60) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(url).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def new_database(server_url: str) -> str:
    """A new empty database on the server; returns its URL."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    return server_url.rsplit("/", 1)[0] + "/" + name


@contextmanager
def redis_server() -> Iterator[str]:
    """A redis-server without persistence on a free port; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server not found")
    root = Path(tempfile.mkdtemp(prefix="fk-redis-"))
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_port(port, proc, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    try:
        with postgres_server() as url:
            yield url
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture()
def pg_url(pg_server: str) -> str:
    """An empty database of the session's PostgreSQL server."""
    return new_database(pg_server)


@pytest.fixture(scope="session")
def redis_session() -> Iterator[str]:
    try:
        with redis_server() as url:
            yield url
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture()
def redis_url(redis_session: str) -> str:
    """The session's Redis server, emptied."""
    import redis

    client = redis.Redis.from_url(redis_session)
    client.flushall()
    client.close()
    return redis_session
