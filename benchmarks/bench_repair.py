"""State repair benchmark (features/state_repair.py) on a throwaway PostgreSQL and Redis.

    python benchmarks/bench_repair.py --events 5000 --lost 500 --repeat 5

Decides ``--events`` events through a runtime on PostgreSQL + Redis (all written and
claimed), then prints, best of ``--repeat``:

- the claims check of those events (the repair's script, 1,000 ids per round trip)
  beside its floor, a plain pipelined ``EXISTS`` per id over the same ids;
- a round that finds them all claimed (the log read, the claims, the cursor), as a
  round finds the events committed by the live workers since the last one;
- a round with nothing new (the lock, one log query, the release);
- a round that recounts ``--lost`` committed events whose write was lost, beside the
  time the live path took to decide and write the same number of events.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.servers import new_database, postgres_server, redis_server  # noqa: E402

SECRET = "bench-repair-secret-0123456789"


def _event(n: int, prefix: str) -> dict[str, Any]:
    minute, sec = divmod(n % 3600, 60)
    return {"event_id": f"{prefix}{n}", "type": "payment", "user_id": f"u{n % 200}",
            "amount": "10", "merchant_id": f"m{n % 20}", "ip": f"10.0.{n % 50}.1",
            "occurred_at": f"2026-11-20T10:{minute:02d}:{sec:02d}+08:00"}  # fmt: skip


def _best(repeat: int, work: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def _settings(root: Path, name: str, pg: str, redis_url: str) -> Any:
    from fengkong.settings import Settings

    (root / name).mkdir(exist_ok=True)
    return Settings(
        db_path=root / name / "fk.db",
        token_secret=SECRET,
        field_key="bench-field-key-0123456789",
        snapshots=False,
        storage={"backend": "postgres", "url": pg},  # type: ignore[arg-type]
        state={"backend": "redis", "redis_url": redis_url, "repair_interval_s": 0},  # type: ignore[arg-type]
    )


def _decide(rt: Any, n: int, prefix: str) -> float:
    start = time.perf_counter()
    for base in range(0, n, 50):
        items = [rt.engine.accept(_event(i, prefix)) for i in range(base, min(base + 50, n))]
        rt.engine.decide_many(items)
    return time.perf_counter() - start


def run(args: argparse.Namespace, pg: str, redis_url: str, root: Path) -> None:
    import redis

    from fengkong.features.state_repair import claimed
    from fengkong.runtime import build_runtime
    from fengkong.runtime_keys import redis_secret
    from fengkong.runtime_repair import open_repair

    settings = _settings(root, "live", pg, redis_url)
    rt = build_runtime(settings)
    decided_s = _decide(rt, args.events, "e")
    client = redis.Redis.from_url(redis_url)
    ids = [f"e{i}" for i in range(args.events)]

    def floor() -> None:
        for start in range(0, len(ids), 1000):
            pipe = client.pipeline(transaction=False)
            for e in ids[start : start + 1000]:
                pipe.exists(f"fk:seen:{e}")
            pipe.execute()

    assert sum(claimed(client, "fk", ids)) == len(ids)
    check = _best(args.repeat, lambda: claimed(client, "fk", ids))
    exists = _best(args.repeat, floor)
    print(f"claims check of {len(ids)} claimed events: {check * 1000:.1f} ms "
          f"({check / len(ids) * 1e6:.1f} µs/event); pipelined EXISTS floor "
          f"{exists * 1000:.1f} ms ({exists / len(ids) * 1e6:.1f} µs/event)")  # fmt: skip

    repair = open_repair(settings, rt.engine, rt.store, redis_secret(settings))
    repair.clock = lambda: time.time() + 60  # every event past the grace

    def full_round() -> None:
        client.delete("fk:repair:cursor")
        result = repair.round()
        assert result is not None and result.checked >= len(ids) and result.lost == 0, result

    whole = _best(args.repeat, full_round)
    print(f"round over {len(ids)} claimed events (log read, claims, cursor): "
          f"{whole * 1000:.1f} ms ({whole / len(ids) * 1e6:.1f} µs/event)")  # fmt: skip
    empty = _best(args.repeat, repair.round)
    print(f"round with nothing new: {empty * 1000:.2f} ms")

    victim = build_runtime(_settings(root, "victim", pg, redis_url))
    victim.engine.pipeline.publish = lambda held: None  # committed, never written
    lost_s = _decide(victim, args.lost, "lost")
    for cycle in victim.engine.pipeline._cycles:
        cycle.pending.clear()  # type: ignore[attr-defined]
        cycle.overlay.clear()  # type: ignore[attr-defined]
    victim.close(save=False)
    start = time.perf_counter()
    result = repair.round()
    took = time.perf_counter() - start
    assert result is not None and result.recounted == args.lost, result
    print(f"round recounting {args.lost} lost events: {took * 1000:.0f} ms "
          f"({took / args.lost * 1000:.2f} ms/event); deciding them live took "
          f"{lost_s / args.lost * 1000:.2f} ms/event ({decided_s / args.events * 1000:.2f} "
          f"ms/event for the first {args.events})")  # fmt: skip
    client.close()
    rt.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--lost", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with postgres_server() as server, redis_server() as url, tempfile.TemporaryDirectory() as tmp:
        run(args, new_database(server), url, Path(tmp))


if __name__ == "__main__":
    main()
