"""In-process replay benchmark: events/s and per-decision p50/p99 through the full pipeline.

    python benchmarks/bench_replay.py --events 50000

Runs the pipeline `fengkong replay` runs (same settings object, same stages), on a
temporary embedded store, in batches of 1,000 with one durable commit each. Per-decision
time is the engine's own ``latency_ms`` (stages and policy); throughput is wall time
including validation, tokenisation and the SQLite writes; CPU time per event (the
process's, all threads) beside it, which a shared machine's load moves less.

The floor, measured in the same run on the same lines: a JSON read-and-write round trip
(each line parsed with orjson, the parser the replay uses, written back to a file as
JSON, one line each). The replay's cost is printed as a multiple of it, and beside it
the same round trip with the standard library's ``json`` (about 7x slower than orjson),
for comparison with figures measured against that floor.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_instructions import set_gc
from synthetic import events

from fengkong.decisions.replay import replay
from fengkong.runtime import build_runtime
from fengkong.settings import Settings


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _json_floor(
    lines: list[tuple[int, bytes]], directory: str, runs: int, stdlib: bool = False
) -> float:
    """Lines per second of parsing each line and writing it back as JSON (median)."""
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        with open(Path(directory) / "floor.jsonl", "wb") as out:
            if stdlib:
                for _, raw in lines:
                    out.write(json.dumps(json.loads(raw)).encode() + b"\n")
            else:
                for _, raw in lines:
                    out.write(orjson.dumps(orjson.loads(raw)) + b"\n")
        rates.append(len(lines) / (time.perf_counter() - started))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--synchronous", default="NORMAL", choices=["FULL", "NORMAL", "OFF"])
    parser.add_argument("--runs", type=int, default=3, help="repeat and report the median")
    parser.add_argument(
        "--gc-young",
        type=int,
        default=None,
        help="young-generation GC threshold [default: the one `fengkong replay` sets]",
    )
    args = parser.parse_args()
    set_gc(args.gc_young)
    load_before = os.getloadavg()[0]

    lines = [(i, orjson.dumps(e)) for i, e in enumerate(events(args.events), 1)]
    rates: list[float] = []
    # CPU time per event (all threads): on a shared machine it moves less than wall time.
    cpu: list[float] = []
    latencies: list[float] = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                db_path=Path(tmp) / "bench.db",
                token_secret="bench-secret-0123456789",
                sqlite_synchronous=args.synchronous,
            )
            rt = build_runtime(settings)
            stages = [s.name for s in rt.engine.pipeline.stages]
            started, cpu_started = time.perf_counter(), time.process_time()
            run_lat: list[float] = []
            for answers in replay(rt.engine, lines, args.batch):
                run_lat.extend(a["latency_ms"] for a in answers if "latency_ms" in a)
            elapsed = time.perf_counter() - started
            cpu.append((time.process_time() - cpu_started) / len(lines) * 1e6)
            rt.close()
        rates.append(len(lines) / elapsed)
        latencies = run_lat
        print(
            f"run {run + 1}: {len(lines) / elapsed:,.0f} events/s, CPU {cpu[-1]:.0f} µs per event",
            file=sys.stderr,
        )
    with tempfile.TemporaryDirectory() as tmp:
        floor = _json_floor(lines, tmp, args.runs)
        slow_floor = _json_floor(lines, tmp, args.runs, stdlib=True)
    replay_rate = statistics.median(rates)
    print(
        f"stages: {' -> '.join(stages) or '(none)'}; synchronous={args.synchronous}; "
        f"GC thresholds {gc.get_threshold()}; load average {load_before:.2f} at the start, "
        f"{os.getloadavg()[0]:.2f} at the end"
    )
    print(
        f"replay: {replay_rate:,.0f} events/s (median of {args.runs}), "
        f"per decision p50 {_pct(latencies, 0.5) * 1000:.1f} µs, "
        f"p99 {_pct(latencies, 0.99) * 1000:.1f} µs over {len(latencies):,} events; "
        f"CPU {statistics.median(cpu):.0f} µs per event (median)"
    )
    print(
        f"floor: JSON read-and-write round trip {floor:,.0f} lines/s; "
        f"the replay costs {floor / replay_rate:.1f}x the floor "
        f"(with the standard library's json: {slow_floor:,.0f} lines/s, "
        f"{slow_floor / replay_rate:.1f}x)"
    )


if __name__ == "__main__":
    main()
