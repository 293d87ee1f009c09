"""HTTP benchmark: a real `fengkong serve` and a separate load-generator process on loopback.

    python benchmarks/bench_http.py --concurrency 1 8 32 --seconds 10

For each concurrency level the load generator (its own process, keep-alive HTTP/1.1
connections on raw asyncio sockets, so it costs little CPU) sends distinct events for a
bounded time and count, and prints decisions/s and p50/p95/p99 request latency, measured
from the client side (durable write included).

In the same run, and with the same load generator, it measures the *floor*: uvicorn
serving a bare ASGI handler that reads the body, parses the same JSON event and answers
a fixed decision. It prints fengkong's throughput as a share of that floor
(``--no-floor`` skips it), and each server's CPU time per answer: on a machine shared
with other jobs wall-clock rates swing with the load, CPU per answer much less. Beside
it, the time the server's threads waited for a core per answer (Linux): when it is as
large as the CPU time, the rate is set by the other jobs, not by the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
sys.path.insert(0, str(HERE.parent))

from server import free_port, start_server  # noqa: E402
from synthetic import events  # noqa: E402
from tests.keys import ADMIN_KEY  # noqa: E402


def _request(body: bytes) -> bytes:
    head = (
        "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {ADMIN_KEY}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return status, await reader.readexactly(length)


def _why(status: int, body: bytes) -> str:
    """An error's kind: its status and the first words of its detail."""
    try:
        detail = orjson.loads(body).get("detail", "")
    except (orjson.JSONDecodeError, AttributeError):
        detail = body[:60].decode(errors="replace")
    # Numbers vary from answer to answer ("lags 612 ms"): keep the words.
    words = " ".join(w for w in str(detail).split()[:6] if not w[:1].isdigit())
    return f"{status} {words}".strip()


async def _worker(
    port: int, bodies: list[bytes], deadline: float, lat: list[float], why: Counter[str]
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors = 0
    for body in bodies:
        if time.perf_counter() > deadline:
            break
        started = time.perf_counter()
        writer.write(_request(body))
        status, answer = await _read_response(reader)
        lat.append(time.perf_counter() - started)
        if status != 200:
            errors += 1
            why[_why(status, answer)] += 1
    writer.close()
    return errors


async def _load(
    port: int, concurrency: int, seconds: float, total: int, tag: str
) -> dict[str, Any]:
    bodies = [orjson.dumps(e) for e in events(total, prefix=tag)]
    per = [bodies[i::concurrency] for i in range(concurrency)]
    lat: list[float] = []
    why: Counter[str] = Counter()
    started = time.perf_counter()
    deadline = started + seconds
    errors = await asyncio.gather(*(_worker(port, b, deadline, lat, why) for b in per))
    elapsed = time.perf_counter() - started
    lat.sort()

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000

    out: dict[str, Any] = {
        "concurrency": concurrency,
        "requests": len(lat),
        "errors": sum(errors),
        "error_kinds": dict(why.most_common()),
        "rps": len(lat) / elapsed,
        "p50_ms": pct(0.5),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
    }
    return out


_FIXED = orjson.dumps(
    {"event_id": "x", "decision": "allow", "score": 0.0, "reasons": [], "durable": True}
)


async def _bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The floor: read the body, parse the event, answer a fixed decision."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    event = orjson.loads(body) if body else {}
    status = 200 if isinstance(event, dict) else 422
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(_FIXED)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": _FIXED})


def _start_floor(port: int) -> subprocess.Popen[bytes]:
    """The bare uvicorn server in its own process; waits until it answers."""
    cmd = [sys.executable, __file__, "--floor-server", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the floor server did not start")


def _measure(
    port: int, levels: list[int], args: argparse.Namespace, tag: str, pid: int
) -> list[dict[str, float]]:
    """Each level's figures, with the server's CPU time per answer (user + system)."""
    server = psutil.Process(pid)
    results = []
    for level, c in enumerate(levels):
        if args.warmup:
            _run_loadgen(port, c, args.warmup, f"{tag}w{level}")
        before, waited = _cpu(server), _runq_wait(server)
        res = _run_loadgen(port, c, args.seconds, f"{tag}c{level}", args.max_requests)
        res["cpu_ms"] = (_cpu(server) - before) / max(res["requests"], 1) * 1000
        res["wait_ms"] = (_runq_wait(server) - waited) / max(res["requests"], 1) * 1000
        results.append(res)
    return results


def _runq_wait(proc: psutil.Process) -> float:
    """Seconds the server's threads spent ready to run but waiting for a core (Linux
    schedstat; 0 elsewhere): what other jobs on a shared machine cost it."""
    total = 0
    for thread in proc.threads():
        try:
            with open(f"/proc/{proc.pid}/task/{thread.id}/schedstat") as fh:
                total += int(fh.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def _cpu(proc: psutil.Process) -> float:
    """CPU seconds of a process and its threads (less sensitive to load than wall time)."""
    times = proc.cpu_times()
    return float(times.user + times.system)


def _line(name: str, res: dict[str, float]) -> str:
    return (
        f"{name} concurrency {res['concurrency']:>3}: {res['rps']:,.0f} decisions/s, "
        f"p50 {res['p50_ms']:.2f} ms, p95 {res['p95_ms']:.2f} ms, "
        f"p99 {res['p99_ms']:.2f} ms ({res['requests']:,} requests, {res['errors']} errors); "
        f"server CPU {res['cpu_ms']:.3f} ms per answer, "
        f"{res['wait_ms']:.3f} ms waiting for a core"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=60_000)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL", "OFF"])
    parser.add_argument("--no-floor", action="store_true", help="skip the bare-uvicorn floor")
    parser.add_argument("--loadgen", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--floor-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="h", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.floor_server:
        import uvicorn

        uvicorn.run(_bare_app, host="127.0.0.1", port=args.port, log_level="warning")
        return
    if args.loadgen:  # the separate load-generator process
        out = asyncio.run(
            _load(args.port, args.concurrency[0], args.seconds, args.max_requests, args.tag)
        )
        print(json.dumps(out))
        return

    floor: list[dict[str, float]] = []
    if not args.no_floor:
        port = free_port()
        bare = _start_floor(port)
        try:
            floor = _measure(port, args.concurrency, args, "f", bare.pid)
        finally:
            bare.terminate()
            bare.wait(10)
        for res in floor:
            print(_line("floor   ", res))
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {"FENGKONG_SQLITE_SYNCHRONOUS": args.synchronous, "FENGKONG_LOG_LEVEL": "WARNING"}
        server = start_server(Path(tmp) / "http.db", port, env)
        try:
            print(f"server pid {server.pid}, synchronous={args.synchronous}")
            ours = _measure(port, args.concurrency, args, "h", server.pid)
        finally:
            server.terminate()
            server.wait(10)
    for i, res in enumerate(ours):
        ratio = (
            f"; {res['rps'] / floor[i]['rps']:.2f} of the floor's rate, "
            f"{res['cpu_ms'] / floor[i]['cpu_ms']:.1f}x its CPU per answer"
            if floor
            else ""
        )
        print(_line("fengkong", res) + ratio)


def _run_loadgen(
    port: int, concurrency: int, seconds: float, tag: str, total: int = 20_000
) -> dict[str, float]:
    cmd = [
        sys.executable,
        __file__,
        "--loadgen",
        "--port",
        str(port),
        "--tag",
        tag,
        "--concurrency",
        str(concurrency),
        "--seconds",
        str(seconds),
        "--max-requests",
        str(total),
        "--warmup",
        "0",
    ]
    done = subprocess.run(cmd, capture_output=True, check=True, env=os.environ.copy())
    result: dict[str, float] = json.loads(done.stdout)
    return result


if __name__ == "__main__":
    main()
