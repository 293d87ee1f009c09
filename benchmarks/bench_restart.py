"""Restart time: a full rebuild from the log vs a snapshot plus the log tail.

    nice -n 10 python benchmarks/build_restart_db.py --events 1000000 --db /tmp/fk-1m.db
    nice -n 10 python benchmarks/bench_restart.py /tmp/fk-1m.db --tail 10000 --repeat 3

For a store built by ``build_restart_db.py`` (same token secret): (1) start without a
snapshot: every stored event in the horizon is read, then a snapshot is saved; (2)
start again from the snapshot (no tail); (3) append ``--tail`` events and start again:
snapshot plus tail. Each start is the whole ``build_runtime`` (store, rules, stages,
restore, tail, integrity check, GC): wall time, and the CPU time of the process over
it (the machine is shared: wall time is CPU time plus waiting; the integrity check's
thread counts in the CPU time too). ``--repeat N`` makes each of (1)-(3) N starts
(the tail is appended once) and prints the median. The database file is modified
(tail appended).

``--serve`` measures what a client sees instead: from launching ``fengkong serve``
(a new process: interpreter, imports, restore beside the integrity check, port) to
the first 200 answer of ``POST /v1/events``, polled every 20 ms; the server is then
stopped with SIGTERM (it saves a snapshot on the way out, as in production, so each
start has a tail of 0). ``--save`` times one snapshot save on a warm runtime.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_restart_db import SECRET, build
from synthetic import events

from fengkong.runtime import build_runtime, snapshot_path
from fengkong.settings import Settings


def _start(settings: Settings) -> tuple[float, float, int]:
    """One start: wall and CPU seconds, and the events it read."""
    started, cpu = time.perf_counter(), time.process_time()
    rt = build_runtime(settings)
    took = time.perf_counter() - started, time.process_time() - cpu
    count = rt.rebuilt_events
    rt.close(save=False)
    return *took, count


def _starts(n: int, start: Callable[[], tuple[float, float, int]]) -> tuple[str, int]:
    """``n`` starts: ``"wall W s (CPU C s)"`` (the median of each when n > 1)."""
    runs = [start() for _ in range(n)]
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    text = f"{wall:.2f} s (CPU {cpu:.2f} s)"
    if n > 1:
        each = ", ".join(f"{w:.2f}/{c:.2f}" for w, c, _ in runs)
        text = f"median {text} of {n} [wall/CPU: {each}]"
    return text, runs[-1][2]


_KEY = "fk_bench-admin-key-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _served_start(db: Path, run: int) -> tuple[float, float, int]:
    """Launch ``fengkong serve``: seconds to the first 200 decision, the server's CPU
    seconds by then, and the events it rebuilt."""
    import datetime as dt

    import httpx
    import psutil

    (event,) = events(1, prefix=f"serve{int(time.time())}-{run}")
    event["occurred_at"] = dt.datetime.now(dt.UTC).isoformat()
    port = _free_port()
    env = {**os.environ, "FENGKONG_TOKEN_SECRET": SECRET, "FENGKONG_BOOTSTRAP_KEY": _KEY}
    cmd = [sys.executable, "-m", "fengkong", "serve", "--db", str(db), "--port", str(port)]
    log = (db.parent / f"{db.name}.serve.log").open("ab")
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, env=env)
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {_KEY}"}
    try:
        while True:
            if proc.poll() is not None:
                sys.exit(f"the server exited with {proc.returncode}: see {log.name}")
            try:
                r = httpx.post(f"{base}/v1/events", json=event, headers=auth, timeout=30)
            except httpx.TransportError:
                time.sleep(0.02)
                continue
            if r.status_code == 200:
                break
            sys.exit(f"the server answered {r.status_code}: {r.text[:300]}")
        took = time.perf_counter() - started
        cpu = sum(psutil.Process(proc.pid).cpu_times()[:2])
        rebuilt = int(httpx.get(f"{base}/healthz", timeout=30).json()["rebuilt_events"])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(600)
        log.close()
    return took, cpu, rebuilt


def _serve_main(db: Path, n: int) -> None:
    """Warm served starts (a cold one first if there is no snapshot), and the floor:
    the same on an empty store (interpreter, imports, app, port: no state to restore)."""
    import tempfile

    settings = Settings(db_path=db, token_secret=SECRET)
    snap = snapshot_path(settings)
    assert snap is not None
    if not snap.exists():
        took, cpu, rebuilt = _served_start(db, 0)
        print(f"{db.name}: served cold start ({rebuilt:,} events): {took:.2f} s (CPU {cpu:.2f} s)")
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.db"
        _served_start(empty, 0)  # the first start creates the store, keys and rules
        floor = [_served_start(empty, i + 1) for i in range(n)]
    runs = [_served_start(db, i + 1) for i in range(n)]
    print(
        f"{db.name}: fengkong serve launch to first 200 decision, tail {runs[-1][2]:,} events: "
        f"{_median([r[0] for r in runs])}, server CPU {_median([r[1] for r in runs])}; "
        f"empty store (floor): {_median([r[0] for r in floor])}, "
        f"server CPU {_median([r[1] for r in floor])}; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )


def _median(took: list[float]) -> str:
    each = ", ".join(f"{t:.2f}" for t in took)
    return f"median {statistics.median(took):.2f} s of {len(took)} [{each}]"


def _save(settings: Settings, n: int) -> None:
    """Seconds to save one snapshot from a warm runtime (median of ``n``)."""
    rt = build_runtime(settings)
    try:
        took = []
        for _ in range(n):
            started = time.perf_counter()
            rt.engine.save_snapshot()
            took.append(time.perf_counter() - started)
    finally:
        rt.close(save=False)
    snap = snapshot_path(settings)
    size = snap.stat().st_size / 1e6 if snap is not None else 0.0
    print(f"{settings.db_path.name}: snapshot save ({size:.0f} MB): {_median(took)}", flush=True)


def _cold(settings: Settings, snap: Path) -> tuple[float, float, int]:
    snap.unlink(missing_ok=True)
    return _start(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--tail", type=int, default=10_000)
    parser.add_argument(
        "--keep-snapshot", action="store_true", help="skip (1): start from the saved snapshot"
    )
    parser.add_argument("--repeat", type=int, default=1, help="starts of each kind (median)")
    parser.add_argument("--no-integrity-check", action="store_true", help="integrity_check = false")
    parser.add_argument("--serve", action="store_true", help="time `fengkong serve` to a 200")
    parser.add_argument("--save", action="store_true", help="time a snapshot save")
    args = parser.parse_args()
    if args.serve:
        _serve_main(args.db, args.repeat)
        return
    settings = Settings(
        db_path=args.db,
        token_secret=SECRET,
        sqlite_synchronous="NORMAL",
        integrity_check=not args.no_integrity_check,
    )
    snap = snapshot_path(settings)
    assert snap is not None
    n = args.repeat
    if args.save:
        _save(settings, n)
        return
    if not args.keep_snapshot:
        full, n_full = _starts(n, lambda: _cold(settings, snap))
        size = snap.stat().st_size if snap.exists() else 0
        print(
            f"{args.db.name}: full rebuild of {n_full:,} events (and saving a snapshot "
            f"of {size / 1e6:.0f} MB): {full}",
            flush=True,
        )
    warm, n_warm = _starts(n, lambda: _start(settings))
    print(
        f"{args.db.name}: restart from the snapshot, tail {n_warm:,} events: {warm}",
        flush=True,
    )
    if args.tail:
        build(args.db, args.tail, users=20_000, prefix=f"tail{int(time.time())}")
        tail, n_tail = _starts(n, lambda: _start(settings))
        print(
            f"{args.db.name}: restart from the snapshot, tail {n_tail:,} events: {tail}",
            flush=True,
        )


if __name__ == "__main__":
    main()
