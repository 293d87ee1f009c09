"""Memory under hostile cardinality: every event brings new entities (user, device, IP,
phone, card, merchant, payee), as a bot farm or an attacker rotating identifiers would.

    python benchmarks/bench_cardinality.py --entities 1000000

Runs the default pipeline (every stage, no store writes: the store holds events on
disk, not in memory) in-process and prints the resident set size (RSS) every
``--every`` events, with the entities each stage keeps. With the per-kind caps
(``max_entities``) RSS levels off; ``--uncapped`` shows the growth without them.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from fengkong.events import Tokenizer, normalise  # noqa: E402
from fengkong.runtime import build_runtime  # noqa: E402
from fengkong.settings import Settings  # noqa: E402

T0 = datetime(2026, 11, 1, tzinfo=UTC).timestamp()


def _event(i: int) -> dict[str, object]:
    kinds = ("payment", "login", "transfer", "register", "withdrawal")
    kind = kinds[i % len(kinds)]
    event: dict[str, object] = {
        "event_id": f"ev{i}",
        "type": kind,
        "user_id": f"user{i}",
        # 1M events over ~12 days: all inside the 30-day windows, nothing expires.
        "occurred_at": datetime.fromtimestamp(T0 + i, UTC).isoformat(),
        "device": {"device_id": f"dev{i}", "fingerprint": {"platform": "android"}},
        "ip": f"{10 + (i >> 24) % 200}.{(i >> 16) % 256}.{(i >> 8) % 256}.{i % 256}",
        "phone": f"138{i:08d}",
        "merchant_id": f"m{i}",
    }
    if kind in ("payment", "transfer", "withdrawal"):
        event["amount"] = str(1 + i % 900)
        event["counterparty"] = {"account_id": f"payee{i}", "bank_card": f"62{i:014d}"}
    return event


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entities", type=int, default=1_000_000, help="events, each all-new")
    ap.add_argument("--every", type=int, default=100_000, help="print a line every N events")
    ap.add_argument("--uncapped", action="store_true", help="no per-kind caps (baseline)")
    ap.add_argument("--max-entities", type=int, default=None, help="cap per entity kind")
    args = ap.parse_args()

    overrides: dict[str, object] = {}
    if args.uncapped:
        overrides["max_entities"] = 0
    elif args.max_entities is not None:
        overrides["max_entities"] = args.max_entities
    settings = Settings(
        db_path=Path(":memory:"), token_secret="b" * 32, integrity_check=False, **overrides
    )
    rt = build_runtime(settings, rebuild=False)
    tokenizer = Tokenizer(b"b" * 32)
    pipeline = rt.engine.pipeline
    gc.collect()
    base = _rss_mb()
    print(f"cap per kind: {'none' if args.uncapped else settings.max_entities}")
    print(f"RSS at start: {base:.0f} MB")
    print(f"{'events':>9} {'RSS MB':>8} {'+MB':>7} {'ev/s':>7}  entities kept per stage")
    started = time.perf_counter()
    for i in range(args.entities):
        pipeline.evaluate(normalise(_event(i), tokenizer))
        if (i + 1) % args.every == 0:
            gc.collect()
            rss = _rss_mb()
            rate = (i + 1) / (time.perf_counter() - started)
            kept = pipeline.entity_counts() if hasattr(pipeline, "entity_counts") else {}
            shown = " ".join(f"{k}={v}" for k, v in kept.items())
            print(f"{i + 1:>9} {rss:>8.0f} {rss - base:>7.0f} {rate:>7.0f}  {shown}", flush=True)
    rt.close()


if __name__ == "__main__":
    main()
