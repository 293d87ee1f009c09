"""The idempotency check of a new event: the store's look-up against the Bloom filter.

As in the server, the writes (group commits of 8) run on another thread than the
look-ups, so each look-up follows a commit that invalidated its connection's cache.
Prints the CPU time of each per check.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson

from fengkong.decisions.seen import SeenIds
from fengkong.decisions.store import DecisionRecord
from fengkong.storage import SQLiteStore


def _record(i: int) -> DecisionRecord:
    event = {"event_id": f"e{i}", "type": "payment", "user_id": f"u{i % 997}", "amount": "9.50"}
    return DecisionRecord(
        event_id=f"e{i}",
        event_type="payment",
        user_id=f"u{i % 997}",
        ts=1000.0 + i,
        body_hash=f"h{i}",
        event_json=orjson.dumps(event),
        outcome="allow",
        score=0.0,
        decision_json=b'{"decision":"allow"}',
        explain_json=b'{"rules":[]}',
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=20_000)
    parser.add_argument("--checks", type=int, default=4_000)
    args = parser.parse_args()
    pool = ThreadPoolExecutor(1)  # the commit thread
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "idem.db", synchronous="OFF")
        for start in range(0, args.stored, 500):
            store.write([_record(i) for i in range(start, start + 500)])
        seen = SeenIds(store.event_ids())
        lookup = check = 0.0
        n = 0
        for start in range(args.stored, args.stored + args.checks, 8):
            pool.submit(store.write, [_record(i) for i in range(start, start + 8)]).result()
            for i in range(start + 8, start + 16):
                t = time.process_time()
                store.lookup([f"e{i}"])
                lookup += time.process_time() - t
                t = time.process_time()
                seen.maybe(f"e{i}")
                check += time.process_time() - t
                n += 1
        store.close()
    print(
        f"new event's idempotency check after a group commit ({args.stored:,} stored, {n:,} "
        f"checks): store look-up {lookup / n * 1e6:.1f} us CPU, "
        f"filter {check / n * 1e6:.2f} us CPU (timer included)"
    )


if __name__ == "__main__":
    main()
