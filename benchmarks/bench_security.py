"""What the security controls cost: sealing, the audit chain, key checks, verification.

    python benchmarks/bench_security.py --events 20000

Writes the same synthetic events (in batches, as group commit does) to four fresh
stores: no chain and no sealing (the floor), chain only, sealing only, both; then
times ``KeyStore.check`` per request, ``audit verify`` and one user's bundle export.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from synthetic import events  # noqa: E402

from fengkong.audit.bundle import export_bundle  # noqa: E402
from fengkong.audit.checkpoint import load_signer  # noqa: E402
from fengkong.audit.trail import AuditTrail  # noqa: E402
from fengkong.audit.verify import verify_database  # noqa: E402
from fengkong.decisions.store import DecisionRecord  # noqa: E402
from fengkong.documents import image_fingerprint  # noqa: E402
from fengkong.events.protect import FieldProtector  # noqa: E402
from fengkong.storage import SQLiteStore, audit_hooks  # noqa: E402
from fengkong.storage.keys_sqlite import KeyStore  # noqa: E402


def _records(n: int) -> list[DecisionRecord]:
    out = []
    for ev in events(n, seed=3):
        body = orjson.dumps(ev)
        decision = orjson.dumps({"event_id": ev["event_id"], "decision": "allow", "score": 0.1})
        out.append(
            DecisionRecord(
                ev["event_id"],
                ev["type"],
                ev["user_id"],
                0.0,
                "h",
                body,
                "allow",
                0.1,
                decision,
                b'{"features":{"user.events_1h":3}}',
            )
        )
    return out


def _write(path: Path, records: list[DecisionRecord], *, chain: bool, seal: bool) -> float:
    protector = FieldProtector(b"k" * 32, media_digest=image_fingerprint) if seal else None
    store = SQLiteStore(path, synchronous="NORMAL", protector=protector)
    started = time.perf_counter()
    if chain:
        for i in range(0, len(records), 100):
            store.write(records[i : i + 100])
    else:
        with mock.patch.object(audit_hooks, "chain_decisions", lambda *a: None):
            for i in range(0, len(records), 100):
                store.write(records[i : i + 100])
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    records = _records(args.events)
    n = len(records)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        print(f"{n} events written in batches of 100 (synchronous=NORMAL)")
        floor = None
        for name, chain, seal in (
            ("floor (no chain, no sealing)", False, False),
            ("audit chain", True, False),
            ("field sealing", False, True),
            ("chain + sealing (default)", True, True),
        ):
            s = _write(d / f"{name[:5]}-{chain}-{seal}.db", records, chain=chain, seal=seal)
            floor = floor or s
            print(
                f"  {name:<30} {n / s:>9,.0f} events/s  {s / n * 1e6:6.1f} µs/event"
                f"  (+{(s - floor) / n * 1e6:5.1f} µs)"
            )
        keys = KeyStore(d / "keys.db")
        key, _ = keys.create("bench", ("ingest",))
        started = time.perf_counter()
        for _ in range(20_000):
            keys.check(key)
        per_check = (time.perf_counter() - started) / 20_000
        print(f"  key check per request           {per_check * 1e6:6.1f} µs")
        db = next(p for p in d.iterdir() if p.name.endswith("True-True.db"))
        conn = sqlite3.connect(db)
        started = time.perf_counter()
        report = verify_database(conn)
        s = time.perf_counter() - started
        print(
            f"  audit verify                    {report.entries:,} entries in {s:.2f} s"
            f" ({report.entries / s:,.0f} entries/s, ok={report.ok})"
        )
        signer = load_signer(d / "audit-key", "bench/audit")
        trail = AuditTrail(db, signer)
        started = time.perf_counter()
        note = trail.checkpoint()
        s_cp = time.perf_counter() - started
        user = records[0].user_id
        started = time.perf_counter()
        bundle = export_bundle(trail.conn, signer, note or "", user)
        s_ex = time.perf_counter() - started
        print(f"  checkpoint (tree head + sign)   {s_cp:.2f} s")
        print(f"  export one user's bundle        {len(bundle['items'])} entries in {s_ex:.2f} s")


if __name__ == "__main__":
    main()
