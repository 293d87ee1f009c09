"""A real server with simulated traffic, and headless Chromium driven by Playwright.

Skips (with the reason) when Debian's ``chromium`` or the ``playwright`` package is
absent. Screenshots go to ``$FENGKONG_SCREENSHOTS`` or ``<tmp>/console-screenshots``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.server import free_port, start_server
from tests.keys import ADMIN_KEY

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def screenshots_dir() -> Path:
    out = Path(os.environ.get("FENGKONG_SCREENSHOTS", Path(tempfile.gettempdir())))
    out = out / "console-screenshots" if "FENGKONG_SCREENSHOTS" not in os.environ else out
    out.mkdir(parents=True, exist_ok=True)
    return out


def need_browser() -> Any:
    """The Playwright sync API, or a skip naming what is missing."""
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    try:
        from playwright import sync_api
    except ImportError:
        pytest.skip("the playwright package is not installed")
    return sync_api


@dataclass
class Served:
    base: str
    db: Path
    workdir: Path


def simulate_and_serve(workdir: Path) -> Iterator[Served]:
    """A small simulated world (with a cash-out ring) decided by a real server."""
    from fengkong.cli.demo_cmd import stream_events
    from fengkong.sim import SimConfig, write_simulation

    events, labels = workdir / "events.jsonl", workdir / "labels.jsonl"
    cfg = SimConfig(
        users=160,
        days=12,
        seed=3,
        attack_rate=0.15,
        scenarios=("cash_out_ring", "account_takeover", "layered_laundering"),
    )
    write_simulation(cfg, events, labels, progress=False)
    db, port = workdir / "fk.db", free_port()
    proc = _serve(db, port)
    base = f"http://127.0.0.1:{port}"
    try:
        stream_events(base, events, workdir / "decisions.jsonl", 500, False, ADMIN_KEY)
        yield Served(base, db, workdir)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _serve(db: Path, port: int, wait_s: float = 180.0) -> subprocess.Popen[bytes]:
    """``fengkong serve`` on ``port``, once healthy (a loaded machine starts it slowly)."""
    return start_server(db, port, {"FENGKONG_TOKEN_SECRET": "t" * 32}, wait_s=wait_s)


def browser_page(sync_api: Any, user_data: Path) -> Iterator[Any]:
    """A fresh Chromium profile; yields a page."""
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(user_data),
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = context.new_page()
            page.set_default_timeout(30_000)
            yield page
        finally:
            context.close()
    shutil.rmtree(user_data, ignore_errors=True)


def login(page: Any, base: str, key: str = ADMIN_KEY) -> None:
    page.goto(f"{base}/console/login")
    page.fill("#key", key)
    page.click("#login-button")
    page.wait_for_selector("#inboxes")


def labels_in(db: Path) -> list[tuple[Any, ...]]:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT event_id, user_id, label, source FROM labels").fetchall()
    finally:
        conn.close()


def get(base: str, path: str) -> httpx.Response:
    return httpx.get(base + path, timeout=30)
