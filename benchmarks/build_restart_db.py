"""Build an embedded store holding N accepted events, for the restart benchmark.

    nice -n 10 python benchmarks/build_restart_db.py --events 1000000 --db /tmp/fk-1m.db

Events come from ``synthetic.py`` and pass through the engine's edge (validation and
tokenisation), so the stored bodies are exactly what a server stores; the decisions
stored with them are placeholders (the restart reads events only). Writes go in
batches of 5,000 with ``synchronous=OFF``: the file is a benchmark fixture, not data.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import orjson
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import events

from fengkong.decisions.engine import Engine
from fengkong.decisions.pipeline import Pipeline
from fengkong.decisions.store import DecisionRecord
from fengkong.decisions.units import Accepted
from fengkong.events import Tokenizer
from fengkong.storage import SQLiteStore

SECRET = "bench-secret-0123456789"
_PLACEHOLDER = orjson.dumps({"decision": "allow", "note": "restart benchmark fixture"})


def _record(item: Accepted) -> DecisionRecord:
    e = item.event
    return DecisionRecord(
        event_id=e.event_id,
        event_type=e.type.value,
        user_id=e.user_id,
        ts=e.ts,
        body_hash=item.digest,
        event_json=item.canonical,
        outcome="allow",
        score=0.0,
        decision_json=_PLACEHOLDER,
        explain_json=b"{}",
    )


def build(db: Path, n: int, users: int, prefix: str = "b", batch: int = 5_000) -> float:
    """Append ``n`` events to ``db``; returns the seconds it took."""
    store = SQLiteStore(db, synchronous="OFF")
    edge = Engine(Pipeline([]), store, Tokenizer(SECRET.encode()))
    started = time.perf_counter()
    pending: list[DecisionRecord] = []
    with tqdm(total=n, unit="ev", desc=f"build {db.name}", disable=None) as bar:
        for raw in events(n, users=users, prefix=prefix):
            pending.append(_record(edge.accept(raw)))
            if len(pending) >= batch:
                store.write(pending)
                bar.update(len(pending))
                pending = []
        if pending:
            store.write(pending)
            bar.update(len(pending))
    store.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args()
    if args.db.exists():
        sys.exit(f"{args.db} exists: remove it first")
    took = build(args.db, args.events, args.users)
    print(f"stored {args.events:,} events in {args.db} in {took:.1f} s")


if __name__ == "__main__":
    main()
