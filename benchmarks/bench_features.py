"""Cost of the default feature set: µs per event, memory per entity, replay throughput.

    python benchmarks/bench_features.py                 # all four, several minutes
    python benchmarks/bench_features.py --only latency  # latency | enrich | memory | replay
    python benchmarks/bench_features.py --replay-rows 200000

Latency: the default set over a synthetic stream (users with devices, IPs, GPS, money
events, transfers, account changes), timed per event with ``perf_counter_ns`` around
``FeatureEngine.process`` after a warm-up, with the collector off and then on (after
``gc.freeze()``, as a server runs); the device key is given, as the enrich stage provides
it. Enrich: ``EnrichStage.facts`` per event, on the stream and on a repeat of it. Memory:
tracemalloc delta of the engine's state after a month of history for many users, per
entity and per user, and the containers the cyclic GC tracks. Replay: the fraud-detection
handbook's transactions as ``payment`` events, read, validated and through the default
set, with each part's time; CPU time besides wall time, as the machine may be shared.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fengkong.events import Event
from fengkong.features import default_engine
from fengkong.identity import device_key

HANDBOOK = Path(__file__).resolve().parents[1] / "../shared/data/handbook-transactions"
HANDBOOK_FILE = (HANDBOOK / "transactions.csv.gz").resolve()
T0 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
TYPES = ("login", "payment", "payment", "payment", "transfer", "credit_draw", "account_change")
OPS = ("change_phone", "close_credit_line", "add_payee", "change_password")


def synthetic(n_users: int, n_events: int, days: float, seed: int = 7) -> Iterator[Event]:
    """A plausible mixed stream in time order (not a fraud model: a load model)."""
    rnd = random.Random(seed)
    span = days * 86400
    times = sorted(rnd.random() * span for _ in range(n_events))
    for i, t in enumerate(times):
        u = rnd.randrange(n_users)
        typ = "register" if rnd.random() < 0.01 else rnd.choice(TYPES)
        ev: dict[str, Any] = {
            "event_id": f"e{i}",
            "type": typ,
            "occurred_at": datetime.fromtimestamp(T0 + t, UTC),
            "user_id": f"u{u}",
            "ip": f"10.{u % 200}.{(u // 200) % 250}.{rnd.randrange(1, 250)}",
            "device": {
                "device_id": f"d{u}-{rnd.random() < 0.1}",
                "fingerprint": {
                    "platform": "android",
                    "model": "Xiaomi 14",
                    "screen": "1200x2670",
                    "canvas_hash": f"c{u}-{rnd.random() < 0.1}",
                },
            },
        }
        if rnd.random() < 0.7:
            ev["geo"] = {"lat": 30 + (u % 10) + rnd.random() * 0.1, "lon": 110 + (u % 7)}
        if typ in ("payment", "transfer", "credit_draw"):
            ev["amount"] = round(rnd.lognormvariate(4, 1), 2)
        if typ == "payment":
            ev["merchant_id"] = f"m{rnd.randrange(5000)}"
        if typ == "transfer":
            ev["counterparty"] = {"account_id": f"a{rnd.randrange(n_users)}"}
        if typ == "register":
            ev["phone"] = f"tk_phone_{rnd.randrange(n_users)}"
            ev["id_number"] = f"tk_id_number_{u}"
        if typ == "account_change":
            ev["operation"] = rnd.choice(OPS)
        yield Event.model_validate(ev)


def bench_latency(n_events: int) -> None:
    events = list(synthetic(n_users=20_000, n_events=n_events, days=30))
    keys = [device_key(e.device)[0] for e in events]
    warm = n_events // 2
    clock = time.perf_counter_ns
    # "gc off": the features alone. "gc on, frozen": as a server runs after its rebuild
    # (gc.collect(); gc.freeze()), the collector on, walking only what came later.
    for label in ("gc off", "gc on, frozen"):
        engine = default_engine()
        out: dict[str, Any] = {}
        for e, k in zip(events[:warm], keys[:warm], strict=True):
            engine.process(e, out, k)
        gc.collect()
        if label == "gc off":
            gc.disable()
        else:
            gc.freeze()
        costs = []
        for e, k in zip(events[warm:], keys[warm:], strict=True):
            t = clock()
            engine.process(e, out, k)
            costs.append(clock() - t)
        gc.enable()
        gc.unfreeze()
        costs.sort()
        p50 = costs[len(costs) // 2] / 1000
        p99 = costs[int(len(costs) * 0.99)] / 1000
        print(
            f"latency ({label}): {len(engine.names)} default features, {len(costs):,} timed "
            f"events: p50 {p50:.1f} µs, p99 {p99:.1f} µs, "
            f"mean {statistics.fmean(costs) / 1000:.1f} µs"
        )


def bench_enrich(n_events: int) -> None:
    """``EnrichStage.facts`` per event: device key, device signals and IP facts.

    The synthetic stream repeats a (device, IP) pair rarely (2.5 events per user over
    the timed half, four device variants and ~250 IPs per user), so most events miss the
    memos: the first figure is close to the cost of a miss. The second pass runs the same
    events again, every one a hit, as a client that keeps its device and IP would.
    """
    from fengkong.features import load_ip_ranges
    from fengkong.features.stage import EnrichStage

    ranges_file = (HANDBOOK / "../ip-ranges/datacenters.csv").resolve()
    ranges = load_ip_ranges(ranges_file) if ranges_file.is_file() else None
    events = list(synthetic(n_users=20_000, n_events=n_events, days=30, seed=5))
    stage = EnrichStage(ip_ranges=ranges)
    warm = n_events // 2
    for e in events[:warm]:
        stage.facts(e)
    clock = time.perf_counter_ns
    for label in ("stream", "repeat"):
        gc.collect()
        gc.disable()
        costs = []
        for e in events[warm:]:
            t = clock()
            stage.facts(e)
            costs.append(clock() - t)
        gc.enable()
        costs.sort()
        print(
            f"enrich ({label}): {len(costs):,} timed events (ranges: {ranges is not None}): "
            f"p50 {costs[len(costs) // 2] / 1000:.1f} µs, "
            f"p99 {costs[int(len(costs) * 0.99)] / 1000:.1f} µs, "
            f"mean {statistics.fmean(costs) / 1000:.1f} µs"
        )


def bench_memory(n_users: int) -> None:
    # Build the events first so that only the engine's state is in the measurement.
    events = list(synthetic(n_users=n_users, n_events=n_users * 10, days=30, seed=11))
    keys = [device_key(e.device)[0] for e in events]
    gc.collect()
    tracked = len(gc.get_objects())  # containers the cyclic GC has to walk
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    engine = default_engine()
    for e, k in zip(events, keys, strict=True):
        engine.observe(e, k)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    tracked = len(gc.get_objects()) - tracked
    entities = engine.entity_count()
    print(
        f"memory: {n_users:,} users x 10 events over 30 days -> {entities:,} entities, "
        f"{used / 2**20:.0f} MiB: {used / entities:.0f} B per entity "
        f"(~{used / entities * 1e6 / 2**30:.2f} GiB per 1M entities), "
        f"{used / n_users:.0f} B per user with its devices/IPs/merchants; "
        f"{tracked / entities:.1f} GC-tracked containers per entity"
    )


def bench_replay(rows: int | None) -> None:
    from fengkong.sim.datasets import handbook_events

    engine = default_engine()
    out: dict[str, Any] = {}
    n = 0
    feature_ns = validate_ns = 0
    clock = time.perf_counter_ns
    start, cpu_start = time.perf_counter(), time.process_time()
    for raw in handbook_events(HANDBOOK_FILE, progress=False):
        t0 = clock()
        event = Event.model_validate(raw)
        t1 = clock()
        engine.process(event, out, None)
        feature_ns += clock() - t1
        validate_ns += t1 - t0
        n += 1
        if rows is not None and n >= rows:
            break
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    print(
        f"replay: {n:,} handbook payments in {wall:.1f} s wall / {cpu:.1f} s CPU = "
        f"{n / wall:,.0f} events/s end to end (CSV -> dict -> validated Event -> features), "
        f"{n / cpu:,.0f} events/s per CPU second; pydantic validation {validate_ns / 1e9:.1f} s "
        f"({validate_ns / n / 1000:.1f} µs/event); features alone {feature_ns / 1e9:.1f} s = "
        f"{n / (feature_ns / 1e9):,.0f} events/s, {feature_ns / n / 1000:.1f} µs/event; "
        f"CSV reading and mapping (the rest) {wall - (validate_ns + feature_ns) / 1e9:.1f} s; "
        f"{engine.entity_count():,} entities at the end"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("latency", "enrich", "memory", "replay"))
    ap.add_argument("--events", type=int, default=200_000, help="latency stream length")
    ap.add_argument("--users", type=int, default=50_000, help="memory test users")
    ap.add_argument("--replay-rows", type=int, default=None, help="stop replay early")
    args = ap.parse_args()
    if args.only in (None, "latency"):
        bench_latency(args.events)
    if args.only in (None, "enrich"):
        bench_enrich(args.events // 2)
    if args.only in (None, "memory"):
        bench_memory(args.users)
    if args.only in (None, "replay"):
        if HANDBOOK_FILE.is_file():
            bench_replay(args.replay_rows)
        else:
            print(f"replay: skipped, {HANDBOOK_FILE} not found")


if __name__ == "__main__":
    main()
