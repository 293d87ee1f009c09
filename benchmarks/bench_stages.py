"""Per-stage cost of the default pipeline: where one decision's time goes.

    python benchmarks/bench_stages.py --events 60000

Builds the stages exactly as `fengkong serve` does (empty store, default rule pack,
data-centre list when found), runs the benchmark stream through them, and prints p50 /
p99 per stage and for all stages, after a warm-up third and with the GC frozen.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import events

from fengkong.decisions import DecisionContext
from fengkong.events import Tokenizer, normalise
from fengkong.runtime import build_stages, open_rule_store
from fengkong.settings import Settings
from fengkong.storage import SQLiteStore

DATACENTERS = Path(__file__).resolve().parents[2] / "shared/data/ip-ranges/datacenters.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000)
    args = parser.parse_args()
    tokenizer = Tokenizer(b"bench-secret-0123456789")
    stream = [normalise(e, tokenizer) for e in events(args.events)]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            db_path=Path(tmp) / "stages.db",
            ip_ranges_path=DATACENTERS if DATACENTERS.exists() else None,
        )
        stages = build_stages(settings, open_rule_store(settings), SQLiteStore(settings.db_path))
        gc.collect()
        gc.freeze()
        per: dict[str, list[int]] = {s.name: [] for s in stages}
        whole: list[int] = []
        clock = time.perf_counter_ns
        for event in stream:
            ctx = DecisionContext(event)
            start = clock()
            for stage in stages:
                t = clock()
                stage.run(ctx)
                per[stage.name].append(clock() - t)
            whole.append(clock() - start)
    warm = len(stream) // 3

    def pct(values: list[int], q: float) -> float:
        kept = sorted(values[warm:])
        return kept[int(q * (len(kept) - 1))] / 1000

    for name, values in [*per.items(), ("all stages", whole)]:
        print(f"{name:<11} p50 {pct(values, 0.5):7.1f} µs   p99 {pct(values, 0.99):7.1f} µs")


if __name__ == "__main__":
    main()
