"""Overload: a real `fengkong serve` driven past saturation on loopback.

    python benchmarks/bench_overload.py --concurrency 64 256 --seconds 20

For each concurrency level a separate load-generator process keeps that many keep-alive
connections busy with distinct events for ``--seconds`` and reports the throughput of
decisions (200s), the share of requests shed with 503, the p50/p99 latency of all
answers and of the 200s, and the server's resident memory before and after. A probe
measures how long ``/healthz`` takes meanwhile (does the event loop stall?).
Run it twice to compare: with the default shedding (``max_inflight`` 32) and with
``--max-inflight 1000000`` (no shedding: requests only queue, the old behaviour).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
sys.path.insert(0, str(HERE.parent))

from bench_http import _read_response, _request  # noqa: E402
from server import free_port, start_server  # noqa: E402
from synthetic import events  # noqa: E402
from tests.keys import ADMIN_KEY  # noqa: E402


async def _worker(
    port: int, bodies: list[bytes], deadline: float, out: list[tuple[int, float]]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for body in bodies:
        if time.perf_counter() > deadline:
            break
        started = time.perf_counter()
        writer.write(_request(body))
        status = await _read_response(reader)
        out.append((status, time.perf_counter() - started))
        if status == 503:
            await asyncio.sleep(1.0)  # a polite client honours Retry-After (1 s)
    writer.close()


async def _probe(port: int, deadline: float, lat: list[float]) -> None:
    """GET /healthz every 100 ms: how long the event loop keeps it waiting."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        writer.write(request)
        await _read_response(reader)
        lat.append(time.perf_counter() - started)
        await asyncio.sleep(0.1)
    writer.close()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


async def _load(port: int, concurrency: int, seconds: float, tag: str) -> dict[str, float]:
    bodies = [orjson.dumps(e) for e in events(200_000, prefix=tag)]
    per = [bodies[i::concurrency] for i in range(concurrency)]
    out: list[tuple[int, float]] = []
    health: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        _probe(port, deadline, health), *(_worker(port, b, deadline, out) for b in per)
    )
    elapsed = time.perf_counter() - started
    ok = [t for s, t in out if s == 200]
    shed = sum(1 for s, _ in out if s == 503)
    return {
        "concurrency": concurrency,
        "requests": len(out),
        "decisions_per_s": len(ok) / elapsed,
        "shed_share": shed / max(1, len(out)),
        "other": sum(1 for s, _ in out if s not in (200, 503)),
        "p50_ms": _pct([t for _, t in out], 0.5),
        "p99_ms": _pct([t for _, t in out], 0.99),
        "p99_ok_ms": _pct(ok, 0.99),
        "healthz_max_ms": max(health) * 1000 if health else float("nan"),
    }


async def _batches(port: int, count: int, size: int, tag: str) -> dict[str, object]:
    """``count`` concurrent batches of ``size`` events while /healthz is probed."""
    reqs = []
    for b in range(count):
        body = orjson.dumps([e for e in events(size, prefix=f"{tag}{b}-")])
        head = (
            "POST /v1/events/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {ADMIN_KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        reqs.append(head.encode() + body)

    async def send(raw: bytes) -> tuple[int, float]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.perf_counter()
        writer.write(raw)
        status = await _read_response(reader)
        writer.close()
        return status, time.perf_counter() - started

    health: list[float] = []
    probe = asyncio.create_task(_probe(port, time.perf_counter() + 30, health))
    await asyncio.sleep(0.3)
    answers = await asyncio.gather(*(send(r) for r in reqs))
    await asyncio.sleep(0.3)
    probe.cancel()
    return {
        "statuses": [s for s, _ in answers],
        "seconds": [round(t, 2) for _, t in answers],
        "healthz_max_ms": round(max(health) * 1000) if health else None,
    }


def _run_loadgen(port: int, concurrency: int, seconds: float, tag: str) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--loadgen", "--port", str(port), "--tag", tag]
    cmd += ["--concurrency", str(concurrency), "--seconds", str(seconds)]
    done = subprocess.run(cmd, capture_output=True, check=True, env=os.environ.copy())
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--max-inflight", type=int, default=None, help="server setting")
    parser.add_argument("--no-shedding", action="store_true", help="baseline: only queue")
    parser.add_argument(
        "--batches", type=int, default=0, help="instead: N concurrent 1,000-event batches"
    )
    parser.add_argument("--loadgen", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="o", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loadgen:
        out = asyncio.run(_load(args.port, args.concurrency[0], args.seconds, args.tag))
        print(json.dumps(out))
        return

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {"FENGKONG_LOG_LEVEL": "WARNING"}
        if args.max_inflight is not None:
            env["FENGKONG_MAX_INFLIGHT"] = str(args.max_inflight)
        if args.no_shedding:
            env.update(FENGKONG_MAX_INFLIGHT="100000000", FENGKONG_SHED_LOOP_LAG_S="0")
        server = start_server(Path(tmp) / "overload.db", port, env)
        proc = psutil.Process(server.pid)
        try:
            shedding = "off" if args.no_shedding else f"max_inflight {args.max_inflight or 32}"
            print(f"server pid {server.pid}, shedding: {shedding}")
            if args.batches:
                res = asyncio.run(_batches(port, args.batches, 1000, "b"))
                print(f"{args.batches} concurrent 1,000-event batches: {res}")
                return
            for level, c in enumerate(args.concurrency):
                before = proc.memory_info().rss / 2**20
                r = _run_loadgen(port, c, args.seconds, f"c{level}")
                after = proc.memory_info().rss / 2**20
                print(
                    f"concurrency {c:>3}: {r['decisions_per_s']:,.0f} decisions/s, "
                    f"{r['shed_share']:.1%} shed with 503, p50 {r['p50_ms']:.1f} ms, "
                    f"p99 {r['p99_ms']:.1f} ms (p99 of 200s {r['p99_ok_ms']:.1f} ms), "
                    f"/healthz max {r['healthz_max_ms']:.0f} ms, {r['requests']:,} requests, "
                    f"{r['other']:.0f} other; RSS {before:.0f} -> {after:.0f} MB",
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
