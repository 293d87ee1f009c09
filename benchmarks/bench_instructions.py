"""Instructions per replayed event, counted by valgrind's callgrind: a load-proof figure.

    python benchmarks/bench_instructions.py --events 3000 [--src OTHER/src]

On a machine shared with other jobs, CPU time per event moves by ±30 % from run to run
(caches, a sibling hyperthread); the number of instructions executed does not (0.2 %
between runs of the same code with the same hash seed). The script starts itself under
``valgrind --tool=callgrind`` with instrumentation off, replays the first third of the
benchmark stream as a warm-up, turns counting on (``callgrind_control``) for the other
two thirds, and prints instructions per counted event. ``--src`` runs another checkout's
``src`` (a "before") with the same stream. About 2-4 minutes for 3,000 events.
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
from callgrind import instructions_per_unit

HERE = Path(__file__).resolve().parent


def set_gc(gc_young: int | None) -> None:
    """The young-generation GC threshold: ``gc_young``, or (``None``) the one the CLI's
    ``serve`` and ``replay`` set, Python's default for a checkout that sets none."""
    if gc_young is None:
        try:
            from fengkong.cli.common import GC_YOUNG_THRESHOLD
        except ImportError:
            return
        gc_young = GC_YOUNG_THRESHOLD
    _, middle, old = gc.get_threshold()
    gc.set_threshold(gc_young, middle, old)


def _replay_counted(count: int, gc_young: int | None) -> None:
    """Inside valgrind: warm up, then replay with counting on."""
    sys.path.insert(0, str(HERE))
    set_gc(gc_young)
    from synthetic import events

    from fengkong.decisions.replay import replay
    from fengkong.runtime import build_runtime
    from fengkong.settings import Settings

    lines = [(i, orjson.dumps(e)) for i, e in enumerate(events(count), 1)]
    warm, counted = lines[: count // 3], lines[count // 3 :]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            db_path=Path(tmp) / "bench.db",
            token_secret="bench-secret-0123456789",
            sqlite_synchronous="NORMAL",
        )
        rt = build_runtime(settings)
        for _ in replay(rt.engine, warm, 1000):
            pass
        pid = str(os.getpid())
        subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
        for _ in replay(rt.engine, counted, 1000):
            pass
        subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)
        rt.close()
    print(f"counted {len(counted)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--src", type=Path, default=HERE.parent / "src")
    parser.add_argument(
        "--gc-young",
        type=int,
        default=None,
        help="young-generation GC threshold [default: the one `fengkong replay` sets]",
    )
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        _replay_counted(args.events, args.gc_young)
        return
    gc_args = [] if args.gc_young is None else ["--gc-young", str(args.gc_young)]
    per_event, events = instructions_per_unit(
        __file__, args.src, ["--events", str(args.events), *gc_args]
    )
    young = "as `fengkong replay`" if args.gc_young is None else str(args.gc_young)
    print(
        f"{per_event:,.0f} instructions per replayed event ({events} events, {args.src}, "
        f"GC young threshold {young})"
    )


if __name__ == "__main__":
    main()
