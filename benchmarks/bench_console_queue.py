"""The console's queue page with 100,000 open cases over 10 million stored decisions.

Builds the database synthetically with bulk SQL inserts (decisions, cases, their
members and events; a tenth as many closed cases beside them), then times the queue
page end to end in the server (login session, queries, audit entry, template) through
the ASGI app, first page and a deep keyset page, and the same page on an empty store as
the floor. Target: ≤ 300 ms server time. The page reuses its inbox counts for up to
10 s; their fresh count is timed on its own.

    python benchmarks/bench_console_queue.py --dir /tmp/fk-queue-bench
    python benchmarks/bench_console_queue.py --decisions 1000000 --cases 10000  # quick
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import time
from pathlib import Path

from tqdm import tqdm

from fengkong.storage import SQLiteStore
from fengkong.storage.cases_sqlite import CaseStore

ADMIN = "fk_bench-admin-key-0123456789abcdef"
CHUNK = 500_000


def build(db: Path, decisions: int, cases: int) -> None:
    """Fill ``db`` with ``decisions`` decisions and ``cases`` open cases (bulk SQL)."""
    SQLiteStore(db).close()
    CaseStore(db).close()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    body = '{"decision":"review","reasons":[{"source":"rule","name":"shared_device_money"}]}'
    with tqdm(total=decisions, unit="dec", desc="decisions") as bar:
        for start in range(0, decisions, CHUNK):
            n = min(CHUNK, decisions - start)
            conn.execute("BEGIN")
            conn.execute(
                "WITH RECURSIVE s(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM s WHERE i < ?)"
                " INSERT INTO decisions SELECT printf('e%010d', i), 'h', "
                " CASE WHEN i % 50 = 0 THEN 'review' ELSE 'allow' END, (i % 100) / 100.0,"
                " 1.7e9 + i, CAST(? AS BLOB), CAST('{}' AS BLOB) FROM s",
                (start, start + n - 1, body),
            )
            conn.execute("COMMIT")
            bar.update(n)
    closed = cases // 10
    inboxes = "CASE i % 5 WHEN 0 THEN 'rings' WHEN 1 THEN 'takeover' WHEN 2 THEN 'money'"
    inboxes += " WHEN 3 THEN 'registration' ELSE 'general' END"
    conn.execute("BEGIN")
    conn.execute(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?)"
        " INSERT INTO cases SELECT printf('C%07d', i), 'account', printf('u%09d', i),"
        " CASE WHEN i <= ? THEN 'closed' WHEN i % 3 = 0 THEN 'investigating' ELSE 'open' END,"
        " CASE WHEN i <= ? THEN 0 ELSE 1 END, NULL, " + inboxes + ","
        " CASE WHEN i % 4 = 0 THEN 'analyst-' || (i % 7) ELSE NULL END,"
        " 1.7e9 + i, 1.7e9 + i, 1.7e9 + i * 3.0, NULL, 1 + i % 5, (i % 100) / 100.0,"
        " printf('e%010d', i * 50), 0 FROM s",
        (cases + closed, closed, closed),
    )
    conn.execute(
        "INSERT INTO case_members SELECT case_id, subject FROM cases WHERE kind = 'account'"
    )
    conn.execute(
        "INSERT INTO case_events SELECT case_id, last_event_id, subject, opened_at FROM cases"
    )
    conn.execute("UPDATE case_meta SET value = ? WHERE key = 'next_case'", (str(cases + closed),))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def time_page(db: Path, paths: list[str], rounds: int) -> dict[str, list[float]]:
    """Server time of each path over ``rounds`` requests, after a warm-up."""
    from fastapi.testclient import TestClient

    from fengkong.api.app import create_app
    from fengkong.settings import Settings

    settings = Settings(db_path=db, bootstrap_key=ADMIN, snapshots=False)  # type: ignore[arg-type]
    out: dict[str, list[float]] = {p: [] for p in paths}
    with TestClient(create_app(settings)) as client:
        client.post("/console/login", data={"key": ADMIN}, follow_redirects=False)
        for path in paths:
            client.get(path)  # warm the page cache and the template
            for _ in range(rounds):
                started = time.perf_counter()
                resp = client.get(path)
                out[path].append((time.perf_counter() - started) * 1000)
                assert resp.status_code == 200, resp.text[:300]
    return out


def report(label: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"  {label:<34} p50 {statistics.median(ms):7.1f} ms   p99 {p99:7.1f} ms   n={len(ms)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/fk-queue-bench"))
    parser.add_argument("--decisions", type=int, default=10_000_000)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--reuse", action="store_true", help="keep an existing database")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    big, empty = args.dir / "big.db", args.dir / "empty.db"
    for db in (empty, *(() if args.reuse else (big,))):
        for f in args.dir.glob(db.name + "*"):
            f.unlink()
    if not big.exists():
        started = time.perf_counter()
        build(big, args.decisions, args.cases)
        print(f"built {big} in {time.perf_counter() - started:.0f} s")
    SQLiteStore(empty).close()
    conn = sqlite3.connect(big)
    n_dec = conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    n_open = conn.execute("SELECT COUNT(*) FROM cases WHERE active = 1").fetchone()[0]
    deep = conn.execute(
        "SELECT due_at, case_id FROM cases WHERE active = 1 ORDER BY due_at, case_id"
        " LIMIT 1 OFFSET ?",
        (n_open * 9 // 10,),
    ).fetchone()
    conn.close()
    print(f"store: {n_dec:,} decisions, {n_open:,} open cases")
    paths = ["/console/", "/console/?inbox=rings", f"/console/?after={deep[0]!r}%7C{deep[1]}"]
    timed = time_page(big, paths, args.rounds)
    floor = time_page(empty, ["/console/"], args.rounds)
    cases = CaseStore(big)
    fresh = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        cases.counts()
        fresh.append((time.perf_counter() - started) * 1000)
    cases.close()
    print("queue page, server time (TestClient, in process):")
    report("empty store (floor)", floor["/console/"])
    for label, path in zip(("all inboxes", "one inbox", "deep page (90%)"), paths, strict=True):
        report(label, timed[path])
    print("the inbox counts (reused up to 10 s by the page), counted afresh:")
    report("counts over every active case", fresh)


if __name__ == "__main__":
    main()
