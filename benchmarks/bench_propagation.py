"""How long a change made on one worker takes to reach another (PostgreSQL backend).

    python benchmarks/bench_propagation.py --changes 40

Starts a throwaway PostgreSQL cluster (tests/servers.py) and two server runtimes on
it, as two workers on two hosts would be (each its own ``db_path``, no file in common).
For each change made through worker A (a freeze, a list entry, a model role, a label),
the time from A's commit returning until worker B's next decision would see it: B's
rule snapshot is reloaded (rules, lists, freezes), B's change feed moved (model roles,
which the models stage reloads on), B's log follower read it (labels). Measured with
the LISTEN/NOTIFY feed as served, then with notifications off (the feed's 1 s poll
alone), the floor they improve on, in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.servers import new_database, postgres_server  # noqa: E402

from fengkong.decisions.store import LabelRecord  # noqa: E402
from fengkong.runtime import Runtime, build_runtime  # noqa: E402
from fengkong.settings import Settings  # noqa: E402
from fengkong.storage.changes import PgChangeFeed  # noqa: E402
from fengkong.storage.models_sqlite import SQLiteModelStore  # noqa: E402


def _worker(url: str, root: Path, name: str) -> Runtime:
    (root / name).mkdir()
    settings = Settings(
        db_path=root / name / "fk.db",
        token_secret="bench-propagation-secret",
        field_key="bench-propagation-field-key",
        storage={"backend": "postgres", "url": url},  # type: ignore[arg-type]
        image_workers=0,
    )
    return build_runtime(settings, server=True)


def _wait(seen: Callable[[], bool], timeout: float = 10.0) -> float:
    """Seconds until ``seen()`` holds, asked as often as a busy worker's decisions would."""
    start = time.perf_counter()
    while not seen():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("the change did not arrive")
        time.sleep(0.0005)
    return time.perf_counter() - start


def _measure(a: Runtime, b: Runtime, feed: PgChangeFeed, n: int) -> dict[str, list[float]]:
    """``feed``: B's (the rule store asks it, as the runtime wires it)."""
    b.rule_store.changes = feed.version
    models = SQLiteModelStore(a.settings.shared_db(), Path(f"{a.settings.db_path}.models"))
    follower = b.engine.follower
    assert follower is not None
    out: dict[str, list[float]] = {"freeze": [], "list entry": [], "model role": [], "label": []}
    for i in range(n):
        writes: list[tuple[str, Callable[[], object]]] = [
            ("freeze", lambda i=i: a.rule_store.freeze("user", f"p{i}", "block", "bench")),
            ("list entry", lambda i=i: a.rule_store.add_to_list("bench", [f"v{i}"])),
        ]
        for kind, write in writes:
            old = b.rule_store.snapshot()
            write()
            out[kind].append(_wait(lambda old=old: b.rule_store.snapshot() is not old))
        before = feed.version("models")
        models.set_role("challenger", None, author="bench", action="shadow")
        out["model role"].append(_wait(lambda before=before: feed.version("models") > before))
        a.store.add_labels([LabelRecord(f"x{i}", None, "fraud", "analyst", float(i))])
        target = a.store.last_label_id()

        def label_seen(target: int = target) -> bool:
            follower.catch_up()
            return follower.label_id >= target

        out["label"].append(_wait(label_seen))
    models.close()
    return out


def _report(title: str, out: dict[str, list[float]]) -> None:
    print(title)
    for kind, times in out.items():
        ms = sorted(t * 1000 for t in times)
        p90 = ms[max(0, int(len(ms) * 0.9) - 1)]
        print(
            f"  {kind:<10}  median {statistics.median(ms):7.1f} ms  p90 {p90:7.1f} ms"
            f"  max {ms[-1]:7.1f} ms  (n={len(ms)})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=40, help="changes of each kind")
    args = parser.parse_args()
    with postgres_server() as server, tempfile.TemporaryDirectory() as tmp:
        url = new_database(server)
        a, b = _worker(url, Path(tmp), "a"), _worker(url, Path(tmp), "b")
        served = b.changes
        assert isinstance(served, PgChangeFeed)
        _report("LISTEN/NOTIFY (as served):", _measure(a, b, served, args.changes))
        polled = PgChangeFeed(url, listen=False)
        _report("notifications off (1 s poll, the floor):", _measure(a, b, polled, args.changes))
        polled.close()
        a.close()
        b.close()


if __name__ == "__main__":
    main()
