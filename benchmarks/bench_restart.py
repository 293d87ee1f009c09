"""Restart time: a full rebuild from the log vs a snapshot plus the log tail.

    nice -n 10 python benchmarks/build_restart_db.py --events 1000000 --db /tmp/fk-1m.db
    nice -n 10 python benchmarks/bench_restart.py /tmp/fk-1m.db --tail 10000

For a store built by ``build_restart_db.py`` (same token secret): (1) start without a
snapshot: every stored event in the horizon is read, then a snapshot is saved; (2)
start again from the snapshot (no tail); (3) append ``--tail`` events and start again:
snapshot plus tail. Each start is the whole ``build_runtime`` (store, rules, stages,
restore, tail, GC): wall time, and the CPU time of the process over it (the machine
is shared: wall time is CPU time plus waiting). The database file is modified (tail
appended).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_restart_db import SECRET, build

from fengkong.runtime import build_runtime, snapshot_path
from fengkong.settings import Settings


def _start(settings: Settings) -> tuple[str, int]:
    """One start: ``"wall W s (CPU C s)"`` and the events it read."""
    started, cpu = time.perf_counter(), time.process_time()
    rt = build_runtime(settings)
    took = f"{time.perf_counter() - started:.2f} s (CPU {time.process_time() - cpu:.2f} s)"
    count = rt.rebuilt_events
    rt.engine.snapshot_seq = rt.store.last_seq()  # close without saving another one
    rt.close()
    return took, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--tail", type=int, default=10_000)
    parser.add_argument(
        "--keep-snapshot", action="store_true", help="skip (1): start from the saved snapshot"
    )
    args = parser.parse_args()
    settings = Settings(db_path=args.db, token_secret=SECRET, sqlite_synchronous="NORMAL")
    snap = snapshot_path(settings)
    assert snap is not None
    if not args.keep_snapshot:
        snap.unlink(missing_ok=True)
        full, n_full = _start(settings)
        size = snap.stat().st_size if snap.exists() else 0
        print(
            f"{args.db.name}: full rebuild of {n_full:,} events (and saving a snapshot "
            f"of {size / 1e6:.0f} MB): {full}",
            flush=True,
        )
    warm, n_warm = _start(settings)
    print(
        f"{args.db.name}: restart from the snapshot, tail {n_warm:,} events: {warm}",
        flush=True,
    )
    if args.tail:
        build(args.db, args.tail, users=20_000, prefix=f"tail{int(time.time())}")
        tail, n_tail = _start(settings)
        print(
            f"{args.db.name}: restart from the snapshot, tail {n_tail:,} events: {tail}",
            flush=True,
        )


if __name__ == "__main__":
    main()
