"""Instructions per answered ``POST /v1/events``, counted by callgrind: a load-proof figure.

    python benchmarks/bench_route_instructions.py --requests 1500 [--src OTHER/src]

``bench_http.py`` measures the real server, but on a shared machine its CPU per answer
moves by ±15 % from run to run, more than most cuts of the request path. This drives
the application itself in process (``create_app``, its lifespan, the hot route, the
engine and the commit thread; no sockets, so uvicorn's parsing and writing are not
counted), eight requests in flight as in ``bench_http.py --concurrency 8``, under
``valgrind --tool=callgrind``: a third of the requests warm up, the others are counted
(every thread's instructions). ``--src`` runs another checkout's ``src`` (a "before").
About 2-4 minutes for 1,500 requests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson
from callgrind import instructions_per_unit

HERE = Path(__file__).resolve().parent
CONCURRENCY = 8


async def _answer(app: Any, body: bytes, auth: bytes) -> int:
    """One request through the ASGI app: its status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/events",
        "raw_path": b"/v1/events",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"authorization", auth),
            (b"content-length", b"%d" % len(body)),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    given = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal given
        if given:  # the body is read once; a second read waits for a disconnect
            await asyncio.Event().wait()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _drive(app: Any, bodies: list[bytes], auth: bytes) -> None:
    async def worker(mine: list[bytes]) -> None:
        for body in mine:
            status = await _answer(app, body, auth)
            if status != 200:
                raise RuntimeError(f"answered {status}")

    await asyncio.gather(*(worker(bodies[i::CONCURRENCY]) for i in range(CONCURRENCY)))


def _counted(requests: int) -> None:
    """Inside valgrind: warm up, then answer with counting on."""
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    from synthetic import events
    from tests.keys import ADMIN_KEY

    from fengkong.api.app import create_app
    from fengkong.cli.common import tune_gc
    from fengkong.settings import Settings

    bodies = [orjson.dumps(e) for e in events(requests, prefix="r")]
    warm, counted = bodies[: requests // 3], bodies[requests // 3 :]
    auth = f"Bearer {ADMIN_KEY}".encode()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            db_path=Path(tmp) / "bench.db",
            token_secret="bench-secret-0123456789",
            sqlite_synchronous="FULL",
            bootstrap_key=ADMIN_KEY,
        )
        app = create_app(settings)

        async def main() -> None:
            async with app.router.lifespan_context(app):
                await _drive(app, warm, auth)
                tune_gc()
                pid = str(os.getpid())
                subprocess.run(["callgrind_control", "-i", "on", pid], check=True)
                await _drive(app, counted, auth)
                subprocess.run(["callgrind_control", "-i", "off", pid], check=True)

        asyncio.run(main())
    print(f"counted {len(counted)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--src", type=Path, default=HERE.parent / "src")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        _counted(args.requests)
        return
    per_request, requests = instructions_per_unit(
        __file__, args.src, ["--requests", str(args.requests)]
    )
    print(f"{per_request:,.0f} instructions per answered request ({requests} requests, {args.src})")


if __name__ == "__main__":
    main()
