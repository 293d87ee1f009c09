"""Per-event digests of the default pipeline's decisions and features on a demo stream.

``python tests/integration/golden.py OUT`` writes them; the test compares the current
code's digests with the committed ones (computed before the state redesign).
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

import orjson

from fengkong.runtime import build_runtime
from fengkong.settings import Settings
from fengkong.sim import SimConfig, simulate

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden_demo_digests.txt"


def stream() -> list[bytes]:
    """The demo stream: every attack scenario, 80 users over 6 days."""
    cfg = SimConfig(users=80, days=6, seed=3, attack_rate=0.3)
    return [ev for ev, _ in simulate(cfg) if ev]


def digests(db: Path, events: list[bytes], batch: int = 97) -> list[str]:
    """``event_id sha256(decision without latency, features and facts)`` per event."""
    rt = build_runtime(Settings(db_path=db, token_secret="golden-secret-0123456789"))
    out: list[str] = []
    try:
        for start in range(0, len(events), batch):
            items = [rt.engine.accept(e) for e in events[start : start + batch]]
            for answer in rt.engine.decide_many(items):
                answer.pop("latency_ms", None)
                stored = rt.store.decision(answer["event_id"])
                assert stored is not None
                explain = orjson.loads(stored[1])
                payload = orjson.dumps(
                    {"decision": answer, "explain": explain}, option=orjson.OPT_SORT_KEYS
                )
                out.append(f"{answer['event_id']} {hashlib.sha256(payload).hexdigest()[:20]}")
    finally:
        rt.close()
    return out


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        lines = digests(Path(tmp) / "golden.db", stream())
    Path(sys.argv[1]).write_text("\n".join(lines) + "\n")
    print(f"{len(lines)} digests")
