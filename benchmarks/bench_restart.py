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
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_restart_db import SECRET, build

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
    args = parser.parse_args()
    settings = Settings(
        db_path=args.db,
        token_secret=SECRET,
        sqlite_synchronous="NORMAL",
        integrity_check=not args.no_integrity_check,
    )
    snap = snapshot_path(settings)
    assert snap is not None
    n = args.repeat
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
