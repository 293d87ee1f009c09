"""Scale-out benchmark: embedded vs PostgreSQL + Redis, 1 and 2 workers, over HTTP.

    python benchmarks/bench_scaleout.py --concurrency 8 32 --seconds 8 --repeat 3

Starts a throwaway PostgreSQL cluster and redis-server (tests/servers.py), then for
each configuration a real ``fengkong serve`` (``--workers N``), and drives it with the
load generator of bench_http.py (its own process) at each concurrency: decisions/s and
p99 from the client side, durable writes included, ``--repeat`` runs per row (each
printed with the load average, then the medians). Also prints the Redis commands run
per decision (INFO stats: the calls inside scripts count too, so this is Redis's work,
not what the client sent) and the Redis round trips per decision of all the
Redis-backed stages (one cycle), counted in-process on the same kind of events decided
one at a time and in units of 8 and 32 (as a server's group of concurrent requests).
``--in-process-only``: the state's own cost, in-process, in memory vs on Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from synthetic import events  # noqa: E402
from tests.integration.server import free_port  # noqa: E402
from tests.keys import ADMIN_KEY  # noqa: E402
from tests.servers import new_database, postgres_server, redis_server  # noqa: E402

SECRET = "bench-scaleout-secret-0123"


def _serve(db: Path, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "fengkong", "serve", "--db", str(db), "--port", str(port),
         "--workers", str(workers)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "FENGKONG_TOKEN_SECRET": SECRET, "FENGKONG_BOOTSTRAP_KEY": ADMIN_KEY,
             "FENGKONG_LOG_LEVEL": "WARNING", **env},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                time.sleep(2.0 if workers > 1 else 0.0)  # let the other workers come up
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def _loadgen(port: int, concurrency: int, seconds: float, tag: str, total: int) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE / "bench_http.py"), "--loadgen", "--port", str(port),
           "--concurrency", str(concurrency), "--seconds", str(seconds),
           "--max-requests", str(total), "--tag", tag]  # fmt: skip
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _round_trips(pg: str, redis_url: str, n: int, unit: int, concurrency: int = 0) -> float:
    """Redis round trips per decision of all the Redis-backed stages together (one
    cycle), in-process, deciding ``unit`` events at a time (a server's unit is the
    requests that arrived together: 1 when they come one by one). ``concurrency``: as
    a server does (``decide_async``, the group committer), that many requests of one
    event each in flight at once; 0: units one after the other (``decide_many``)."""
    import orjson

    from fengkong.runtime import build_runtime
    from fengkong.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            db_path=Path(tmp) / "rt.db",
            token_secret=SECRET,
            storage={"backend": "postgres", "url": new_database(pg)},  # type: ignore[arg-type]
            state={"backend": "redis", "redis_url": redis_url},  # type: ignore[arg-type]
        )
        rt = build_runtime(settings, server=concurrency > 0)
        try:
            raws = [orjson.dumps(e) for e in events(n, prefix=f"rt{unit}-{concurrency}-")]
            if concurrency:
                asyncio.run(_serve_in_process(rt, raws, concurrency))
            else:
                for start in range(0, n, unit):
                    chunk = raws[start : start + unit]
                    rt.engine.decide_many([rt.engine.accept(r) for r in chunk])
            stages = rt.engine.pipeline.stages
            cycles = {id(c): c for s in stages if (c := getattr(s, "cycle", None)) is not None}
            if not cycles:  # code before the one cycle (a "before" run): each stage's own
                cycles = {
                    id(c): c
                    for s in stages
                    for c in (getattr(getattr(s, "engine", None), "state", None),
                              getattr(s, "session", None))
                    if isinstance(getattr(c, "round_trips", None), int)
                }  # fmt: skip
            return sum(int(c.round_trips) for c in cycles.values()) / n
        finally:
            rt.close()


async def _serve_in_process(rt: Any, raws: list[bytes], concurrency: int) -> None:
    """``concurrency`` clients, each sending the next event once answered."""
    todo = iter(raws)

    async def client() -> None:
        for raw in todo:
            await rt.engine.decide_async([rt.engine.accept(raw)])

    await asyncio.gather(*(client() for _ in range(concurrency)))


def _in_process(redis_url: str | None, unit: int, n: int = 640) -> tuple[float, float]:
    """(ms per decision, kB sent to Redis per decision) deciding ``n`` events in units of
    ``unit`` in-process on the embedded store (commits off: the state's cost alone),
    with the state in memory (``redis_url`` None) or on Redis."""
    import orjson

    from fengkong.runtime import build_runtime
    from fengkong.settings import Settings

    client = None if redis_url is None else redis.Redis.from_url(redis_url)
    with tempfile.TemporaryDirectory() as tmp:
        state = {} if redis_url is None else {"backend": "redis", "redis_url": redis_url}
        settings = Settings(
            db_path=Path(tmp) / "ip.db",
            token_secret=SECRET,
            snapshots=False,
            durable=False,
            state=state,  # type: ignore[arg-type]
        )
        rt = build_runtime(settings)
        try:
            items = [rt.engine.accept(orjson.dumps(e)) for e in events(n, prefix=f"ip{unit}-")]
            sent = 0 if client is None else int(client.info("stats")["total_net_input_bytes"])
            started = time.perf_counter()
            for start in range(0, n, unit):
                rt.engine.decide_many(items[start : start + unit])
            ms = (time.perf_counter() - started) / n * 1000
            if client is not None:
                sent = int(client.info("stats")["total_net_input_bytes"]) - sent
            return ms, sent / n / 1000
        finally:
            rt.close()


def _in_process_rows(redis_url: str, repeat: int) -> None:
    client = redis.Redis.from_url(redis_url)
    for unit in (1, 32):
        memory, shared, sent = [], [], []
        for _ in range(repeat):
            memory.append(_in_process(None, unit)[0])
            client.flushall()
            ms, kb = _in_process(redis_url, unit)
            shared.append(ms)
            sent.append(kb)
        print(
            f"in process, units of {unit:>2}: state in memory {_median(memory):.2f} ms/decision, "
            f"on Redis {_median(shared):.2f} ms/decision ({_median(sent):.1f} kB sent to Redis "
            f"per decision; load {os.getloadavg()[0]:.1f})"
        )


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def _measure(
    port: int, c: int, args: argparse.Namespace, tag: str, client: redis.Redis, on_redis: bool
) -> list[dict[str, Any]]:
    """``args.repeat`` runs at concurrency ``c`` after one warm-up, each printed."""
    if args.warmup:
        _loadgen(port, c, args.warmup, f"w{tag}", args.max_requests)
    runs = []
    for r in range(args.repeat):
        before = int(client.info("stats")["total_commands_processed"])
        res = _loadgen(port, c, args.seconds, f"c{tag}{r}", args.max_requests)
        res["commands"] = (int(client.info("stats")["total_commands_processed"]) - before) / max(
            res["requests"], 1
        )
        res["load"] = os.getloadavg()[0]
        note = f", {res['commands']:.1f} Redis commands run/decision" if on_redis else ""
        print(
            f"    run {r + 1}: {res['rps']:,.0f} decisions/s, p99 {res['p99_ms']:.1f} ms "
            f"({res['requests']:,} requests, {res['errors']} errors{note}, "
            f"load {res['load']:.1f})"
        )
        for why, count in res.get("error_kinds", {}).items():
            print(f"        {count:>6} x {why}")
        runs.append(res)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=1, help="runs per row (median shown)")
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument(
        "--in-process-only",
        action="store_true",
        help="only the in-process cost of the state, in memory vs on Redis (no HTTP)",
    )
    parser.add_argument(
        "--round-trips-only",
        action="store_true",
        help="only the Redis round trips per decision, in-process (no HTTP)",
    )
    args = parser.parse_args()
    if args.round_trips_only:
        with postgres_server(fsync=True) as pg, redis_server() as rurl:
            print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
            _round_trip_rows(pg, rurl)
        return
    if args.in_process_only:
        with redis_server() as rurl:
            print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
            _in_process_rows(rurl, args.repeat)
        return

    with (
        postgres_server(fsync=True) as pg,
        redis_server() as rurl,
        tempfile.TemporaryDirectory() as tmp,
    ):
        client = redis.Redis.from_url(rurl)
        configs = [
            ("embedded", 1, {"FENGKONG_SQLITE_SYNCHRONOUS": "FULL"}),
            ("postgres+redis", 1, None),
            ("postgres+redis", 2, None),
        ]
        print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
        rows = []
        for n, (name, workers, env) in enumerate(configs):
            if env is None:
                client.flushall()
                env = {
                    "FENGKONG_STORAGE__BACKEND": "postgres",
                    "FENGKONG_STORAGE__URL": new_database(pg),
                    "FENGKONG_STATE__BACKEND": "redis",
                    "FENGKONG_STATE__REDIS_URL": rurl,
                }
            port = free_port()
            server = _serve(Path(tmp) / f"s{n}.db", port, workers, env)
            try:
                for level, c in enumerate(args.concurrency):
                    print(f"{name} workers {workers} concurrency {c}:")
                    on_redis = "FENGKONG_STATE__BACKEND" in env
                    runs = _measure(port, c, args, f"{n}{level}", client, on_redis)
                    rows.append((name, workers, c, on_redis, runs))
            finally:
                server.terminate()
                server.wait(30)
        print(f"medians of {args.repeat}:")
        for name, workers, c, on_redis, runs in rows:
            note = (
                f", {_median([r['commands'] for r in runs]):.1f} Redis commands run/decision"
                if on_redis
                else ""
            )
            print(
                f"{name:<15} workers {workers} concurrency {c:>3}: "
                f"{_median([r['rps'] for r in runs]):,.0f} decisions/s, "
                f"p99 {_median([r['p99_ms'] for r in runs]):.1f} ms "
                f"({_median([r['errors'] for r in runs]):.0f} errors{note}, "
                f"load {_median([r['load'] for r in runs]):.1f})"
            )
        _round_trip_rows(pg, rurl)


def _round_trip_rows(pg: str, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    for unit in (1, 8, 32):
        client.flushall()
        trips = _round_trips(pg, redis_url, 320, unit)
        print(f"Redis round trips per decision, units of {unit:>2}: {trips:.2f}")
    for concurrency in (1, 8, 32):
        client.flushall()
        trips = _round_trips(pg, redis_url, 320, 1, concurrency)
        print(
            f"Redis round trips per decision, served, 1 event per request, "
            f"concurrency {concurrency:>2}: {trips:.2f}"
        )


if __name__ == "__main__":
    main()
