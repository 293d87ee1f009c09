"""Issue 10's protocol in one command: tuning streams, hold-out streams, honest-only.

    python benchmarks/bench_protocol.py                          # the default streams
    python benchmarks/bench_protocol.py --streams A1,B4,BH9 --users 500 --days 7
    python benchmarks/bench_protocol.py --src /tmp/base/src      # another tree's pack

A stream is named by world, an optional ``H`` for honest-only, and the seed: ``A1`` is
``fengkong sim --world A --seed 1 --attack-rate 0.05``, ``BH9`` is ``--world B --seed 9
--honest-only``. Streams are generated once into ``--cache`` and reused, so two trees
compare on the same events. Each replay starts from an empty database with the
data-centre list configured when ``../shared`` has it (docs/evaluation.md), through the
CLI only, as a user would run it. Tune on A; B is the hold-out.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

DEFAULT_STREAMS = "A1,A2,AH3,B4,B5,B6,BH7"
SCENARIOS = {
    "batch_registration": "batch reg.",
    "account_takeover": "takeover",
    "cash_out_ring": "cash-out",
    "layered_laundering": "layering",
    "fake_customer_service": "scam call",
    "fake_high_credit": "fake credit",
    "complaint_agents": "agents",
    "phishing_qr": "QR",
}
ROOT = Path(__file__).resolve().parent.parent
DATACENTRES = ROOT.parent / "shared" / "data" / "ip-ranges" / "datacenters.csv"
STREAM_NAME = re.compile(r"^(?P<world>[AB])(?P<honest>H?)(?P<seed>\d+)$")


def stream_files(name: str, cache: Path, users: int, days: int) -> tuple[Path, Path]:
    """Generate (once) the stream ``name`` and return its events and labels files."""
    match = STREAM_NAME.match(name)
    if match is None:
        raise SystemExit(f"--streams: {name!r} is not WORLD[H]SEED, for example A1 or BH9")
    stem = cache / f"{name}-{users}x{days}"
    events, labels = stem.with_suffix(".ev.jsonl"), stem.with_suffix(".lab.jsonl")
    if events.exists() and labels.exists():
        return events, labels
    # Written under other names and renamed at the end, so an interrupted run leaves
    # nothing that a later run would take for a whole stream.
    part_events, part_labels = stem.with_suffix(".ev.part"), stem.with_suffix(".lab.part")
    command = ["sim", "--world", match["world"], "--seed", match["seed"],
               "--users", str(users), "--days", str(days),
               "--out", str(part_events), "--labels", str(part_labels), "--quiet"]  # fmt: skip
    command += ["--honest-only"] if match["honest"] else ["--attack-rate", "0.05"]
    if DATACENTRES.exists():
        command += ["--ip-ranges", str(DATACENTRES)]
    # The installed tree simulates, whatever --src says: both trees see the same events.
    cli(command, dict(os.environ))
    part_labels.replace(labels)
    part_events.replace(events)
    return events, labels


def cli(arguments: list[str], env: dict[str, str]) -> None:
    """Run ``fengkong ARGUMENTS``; its output is shown only if it fails."""
    done = subprocess.run([sys.executable, "-m", "fengkong", *arguments], env=env,
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"fengkong {arguments[0]} failed:\n{done.stderr[-4000:]}")


def replay_and_evaluate(events: Path, labels: Path, src: Path | None) -> dict[str, Any]:
    """Replay ``events`` into an empty database and return ``fengkong evaluate``'s JSON."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # A JSON string is a valid TOML basic string, whatever the path holds.
        config = f'db_path = {json.dumps(str(work / "run.db"))}\nsqlite_synchronous = "OFF"\n'
        if DATACENTRES.exists():
            config += f"ip_ranges_path = {json.dumps(str(DATACENTRES))}\n"
        (work / "run.toml").write_text(config)
        decisions, figures = work / "dec.jsonl", work / "figures.json"
        cli(["replay", str(events), "--out", str(decisions),
             "--config", str(work / "run.toml"), "--restart"], env)  # fmt: skip
        cli(["evaluate", "--events", str(events), "--labels", str(labels),
             "--decisions", str(decisions), "--json", str(figures)], env)  # fmt: skip
        result: dict[str, Any] = json.loads(figures.read_text())
        return result


def cell(scenario: dict[str, Any] | None) -> str:
    """Event recall with account recall in brackets, in %, as docs/evaluation.md prints."""
    if not scenario or not scenario.get("events"):
        return "—"
    return f"{100 * scenario['event_recall']:.0f} ({100 * scenario['account_recall']:.0f})"


def table(figures: dict[str, dict[str, Any]]) -> str:
    """A Markdown table: one row per stream."""
    head = ["stream", *SCENARIOS.values(), "honest events not allowed",
            "honest accounts not allowed (14 d)", "honest accounts warned"]  # fmt: skip
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, result in figures.items():
        honest = result["honest"]
        cells = [cell(result["scenarios"].get(key)) for key in SCENARIOS]
        cells += [
            f"{100 * honest['events_not_allowed']:.3f} %",
            f"{100 * honest['accounts_not_allowed_14d']:.2f} %",
            f"{100 * honest['accounts_warned']:.1f} %",
        ]
        rows.append("| " + " | ".join([name, *cells]) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", default=DEFAULT_STREAMS, help="comma-separated names")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--cache", type=Path, default=Path("protocol-streams"))
    parser.add_argument("--src", type=Path, help="run the replays on this src tree")
    parser.add_argument("--jobs", type=int, default=2, help="replays run at once")
    parser.add_argument("--json", type=Path, help="write every stream's figures here")
    args = parser.parse_args()
    names = list(dict.fromkeys(name.strip() for name in args.streams.split(",") if name.strip()))
    args.cache.mkdir(parents=True, exist_ok=True)

    def run(name: str) -> dict[str, Any]:
        events, labels = stream_files(name, args.cache, args.users, args.days)
        result = replay_and_evaluate(events, labels, args.src)
        print(f"{name}: done", file=sys.stderr, flush=True)
        return result

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        figures = dict(zip(names, pool.map(run, names), strict=True))
    print(f"{args.users} users × {args.days} days; src: {args.src or ROOT / 'src'}")
    print(table(figures))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
