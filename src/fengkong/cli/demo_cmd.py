"""``fengkong demo``: simulate every attack, decide on it with a real server, evaluate.

One command, no setup: a small population goes through ``fengkong serve`` (a separate
process on a free loopback port, with its own embedded store) over HTTP, exactly as a
client's traffic would, and the decisions are judged against the simulator's labels.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import httpx
import orjson
from tqdm import tqdm

from fengkong.cli.sim_cmd import find_shared_data
from fengkong.evaluation import evaluate_files, format_table, write_html
from fengkong.evaluation.challenges import evaluate_challenges, format_challenges
from fengkong.sim import SimConfig, write_simulation
from fengkong.sim.challenges import ChallengeResponder, fraud_events
from fengkong.sim.world import WORLDS

# Files the demo writes into its directory; only these are removed on a fresh start.
_OWN_FILES = (
    "events.jsonl",
    "labels.jsonl",
    "decisions.jsonl",
    "report.html",
    "server.log",
    "fengkong.toml",
    "fengkong.db",
    "fengkong.db-wal",
    "fengkong.db-shm",
    "fengkong.db.key",
    "fengkong.db.audit-key",
    "fengkong.db.field-key",
    "otp.jsonl",
    "challenges.jsonl",
    "rings.json",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _batches(path: Path, size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                batch.append(line.rstrip(b"\n"))
                if len(batch) == size:
                    yield batch
                    batch = []
    if batch:
        yield batch


def demo_keys(db: Path) -> tuple[str, str]:
    """The demo's own keys in its fresh store: an admin key and an ingest-only key."""
    from fengkong.api.auth import bootstrap_admin
    from fengkong.storage.files import create_private
    from fengkong.storage.keys_sqlite import KeyStore, new_key

    create_private(db)
    store = KeyStore(db)
    try:
        admin = new_key()
        bootstrap_admin(store, admin)
        ingest, _ = store.create("demo-ingest", ("ingest",), actor="demo")
    finally:
        store.close()
    return admin, ingest


def start_server(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    """``fengkong serve`` in a subprocess, logging to ``server.log``; waits until healthy."""
    config = workdir / "fengkong.toml"
    lines = [f'db_path = "{(workdir / "fengkong.db").as_posix()}"', 'sqlite_synchronous = "NORMAL"']
    ip_ranges = find_shared_data("ip-ranges/datacenters.csv")
    if ip_ranges is not None:
        lines.append(f'ip_ranges_path = "{ip_ranges.as_posix()}"')
    # The simulated customers read their one-time codes from this sink.
    lines += ["[challenges]", f'otp_sink = "{(workdir / "otp.jsonl").as_posix()}"']
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    log = (workdir / "server.log").open("wb")
    cmd = [
        sys.executable,
        "-m",
        "fengkong",
        "serve",
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    # Its own session: with --keep-serving it outlives this command and the terminal's ^C.
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    url = f"http://127.0.0.1:{port}/healthz"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(
                f"the server exited (code {proc.returncode}); see {workdir / 'server.log'}"
            )
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise click.ClickException(f"the server did not become healthy; see {workdir / 'server.log'}")


def stream_events(
    base_url: str,
    events: Path,
    decisions: Path,
    batch_size: int,
    progress: bool,
    key: str,
    on_batch: Callable[[httpx.Client, list[dict[str, Any]]], None] | None = None,
) -> int:
    """POST the events in batches to ``/v1/events/batch``; write decisions in order.

    ``on_batch`` sees each batch's decisions before the next batch goes out (the
    simulated customers answer their challenges there).
    """
    total = sum(1 for line in events.open("rb") if line.strip())
    done = 0
    auth = {"Authorization": f"Bearer {key}"}
    with (
        httpx.Client(base_url=base_url, timeout=120.0, headers=auth) as client,
        decisions.open("wb") as out,
        tqdm(total=total, unit="ev", file=sys.stderr, disable=not progress, desc="deciding") as bar,
    ):
        for batch in _batches(events, batch_size):
            body = b"[" + b",".join(batch) + b"]"
            resp = client.post(
                "/v1/events/batch", content=body, headers={"content-type": "application/json"}
            )
            if resp.status_code != 200:
                raise click.ClickException(
                    f"the server answered {resp.status_code}: {resp.text[:500]}"
                )
            answer = orjson.loads(resp.content)
            if not isinstance(answer, list) or len(answer) != len(batch):
                raise click.ClickException("the server's answer does not match the batch")
            for decision in answer:
                out.write(orjson.dumps(decision) + b"\n")
            if on_batch is not None:
                on_batch(client, answer)
            done += len(batch)
            bar.update(len(batch))
    return done


def ring_cases(workdir: Path) -> None:
    """Mine the demo's events for rings and open a case for each of the strongest."""
    rings = workdir / "rings.json"
    for args in (
        ["graph", "mine", "--events", str(workdir / "events.jsonl"), "--out", str(rings)],
        ["cases", "rings", str(rings), "--db", str(workdir / "fengkong.db"), "--top", "20"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "fengkong", *args], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            click.echo(f"    ring mining skipped: {done.stderr.strip()[-300:]}", err=True)
            return
    click.echo(f"    ring cases opened from {rings}", err=True)


@click.command()
@click.option("--users", type=click.IntRange(min=10), default=1000, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=14, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--attack-rate",
    type=click.FloatRange(0, 1),
    default=0.03,
    show_default=True,
    help="Share of users who are attackers or victims per 30 days.",
)
@click.option(
    "--dir",
    "workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("fengkong-demo"),
    show_default=True,
    help="Working directory (its earlier demo files are replaced).",
)
@click.option("--batch-size", type=click.IntRange(1, 1000), default=500, show_default=True)
@click.option(
    "--world",
    type=click.Choice(sorted(WORLDS)),
    default="A",
    show_default=True,
    help="Realism config of the simulated world (B: the hold-out ranges).",
)
@click.option("--honest-only", is_flag=True, help="No attacks: honest friction only.")
@click.option("--keep-serving", is_flag=True, help="Leave the server running afterwards.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def demo(
    users: int,
    days: int,
    seed: int,
    attack_rate: float,
    workdir: Path,
    batch_size: int,
    world: str,
    honest_only: bool,
    keep_serving: bool,
    quiet: bool,
) -> None:
    """Simulate every attack, decide on it with a real server, and print the evaluation."""
    workdir.mkdir(parents=True, exist_ok=True)
    for name in _OWN_FILES:
        (workdir / name).unlink(missing_ok=True)
    events, labels = workdir / "events.jsonl", workdir / "labels.jsonl"
    decisions, report = workdir / "decisions.jsonl", workdir / "report.html"
    cfg = SimConfig(
        users=users,
        days=days,
        seed=seed,
        attack_rate=0.0 if honest_only else attack_rate,
        datacenter_csv=find_shared_data("ip-ranges/datacenters.csv"),
        world=WORLDS[world],
    )
    what = "honest users only" if honest_only else "every attack"
    click.echo(
        f"1/3 simulating {users} users over {days} days (world {world}) with {what} ...", err=True
    )
    stats = write_simulation(cfg, events, labels, progress=not quiet)
    click.echo(
        f"    {stats.events} events, {sum(stats.fraud_events.values())} of them fraud", err=True
    )
    port = free_port()
    click.echo(
        f"2/3 starting fengkong serve on 127.0.0.1:{port} (store in {workdir}) ...", err=True
    )
    admin_key, ingest_key = demo_keys(workdir / "fengkong.db")
    server = start_server(workdir, port)
    base_url = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        responder = ChallengeResponder(fraud_events(labels), workdir / "otp.jsonl", seed)
        n = stream_events(
            base_url,
            events,
            decisions,
            batch_size,
            not quiet,
            ingest_key,
            on_batch=responder.answer_all,
        )
        responder.write(workdir / "challenges.jsonl")
        rate = n / max(time.perf_counter() - started, 1e-9)
        click.echo(f"    {n} decisions at {rate:,.0f} events/s over HTTP", err=True)
        click.echo("3/3 evaluating ...", err=True)
        ev = evaluate_files(events, labels, decisions)
        write_html(ev, report, title="fengkong demo")
        click.echo(format_table(ev))
        outcomes = evaluate_challenges(events, labels, workdir / "challenges.jsonl")
        click.echo(format_challenges(outcomes))
        click.echo(f"\nReport: {report.resolve()}")
        click.echo(f"Events, labels, decisions: {workdir.resolve()}")
    except BaseException:
        server.terminate()
        server.wait(timeout=30)
        raise
    if keep_serving:
        ring_cases(workdir)
        click.echo(
            f"Server: {base_url} (API docs at {base_url}/docs), still running as pid "
            f"{server.pid}; stop it with: kill {server.pid}\n"
            f"Its admin API key (Authorization: Bearer KEY): {admin_key}\n"
            f"Analyst console: {base_url}/console/ (log in with that key; the review"
            " decisions' cases and the mined rings wait in the queue)"
        )
        return
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
    click.echo("Server stopped (run with --keep-serving to keep it).")
