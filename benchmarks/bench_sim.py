"""Simulator speed: events per second (and peak memory) for a given population.

    python benchmarks/bench_sim.py                      # 5,000 users × 7 days
    python benchmarks/bench_sim.py --users 50000 --days 30
    python benchmarks/bench_sim.py --spill              # force the on-disk merge path

Events are generated, serialised and written to a temporary file, as ``fengkong sim``
does; the figure includes all of that. The memory is the process's peak resident size.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from fengkong.sim import SimConfig, engine, write_simulation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--attack-rate", type=float, default=0.01)
    parser.add_argument("--spill", action="store_true", help="spill every block to disk")
    args = parser.parse_args()
    if args.spill:
        engine.SPILL_ABOVE_USERS = 0
    cfg = SimConfig(users=args.users, days=args.days, seed=args.seed, attack_rate=args.attack_rate)
    with tempfile.TemporaryDirectory() as tmp:
        events, labels = Path(tmp) / "events.jsonl", Path(tmp) / "labels.jsonl"
        started = time.perf_counter()
        stats = write_simulation(cfg, events, labels)
        elapsed = time.perf_counter() - started
        size = events.stat().st_size
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    fraud = sum(stats.fraud_events.values())
    print(f"users={args.users} days={args.days} events={stats.events} fraud_events={fraud}")
    print(
        f"time={elapsed:.1f}s rate={stats.events / elapsed:,.0f} events/s "
        f"file={size / 2**20:.0f} MiB peak_rss={peak_mb:.0f} MiB"
    )
    for name in sorted(stats.fraud_events):
        print(
            f"  {name:<24} events={stats.fraud_events[name]:>7} "
            f"accounts={stats.fraud_accounts[name]:>5} campaigns={stats.campaigns[name]:>4}"
        )


if __name__ == "__main__":
    main()
