"""Per-event cost of the online graph update + ring features on a 1M-edge graph.

    python benchmarks/bench_graph_online.py [--edges 1000000] [--events 20000]

Builds a synthetic population (households sharing devices and cards, device farms, a
few carrier-NAT addresses shared by thousands), loads it into the live graph until it
holds the requested number of account–identifier edges, then times ``GraphStage.run``
(features from the state before + the update) on fresh events and prints p50/p99 in µs.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime

from fengkong.decisions.types import DecisionContext
from fengkong.events import Event
from fengkong.graph import OnlineGraph, account_key, identifier_keys
from fengkong.graph.stage import GraphStage


def _event(rng: random.Random, i: int, ts: float, n_accounts: int) -> Event:
    u = rng.randrange(n_accounts)
    farm = u % 97 == 0  # about 1 % of accounts sit on device farms shared by dozens
    device = f"farm{u % 50}" if farm else f"dev{u // 2 if u % 3 == 0 else u}"
    ip = (
        f"100.64.0.{rng.randrange(8)}"
        if rng.random() < 0.2
        else (f"10.{u % 200}.{(u // 200) % 250}.{rng.randrange(250)}")
    )
    kind = rng.choice(("login", "login", "payment", "transfer", "withdrawal"))
    body: dict[str, object] = {
        "event_id": f"e{i}",
        "type": kind,
        "occurred_at": datetime.fromtimestamp(ts, UTC),
        "user_id": f"u{u}",
        "device": {"device_id": device},
        "ip": ip,
        "phone": f"tk_phone_{u // 3 if u % 5 == 0 else u}",
        "bank_card": f"tk_bank_card_{u // 2 if u % 4 == 0 else u}",
    }
    if kind != "login":
        body["amount"] = round(rng.uniform(10, 5000), 2)
    if kind == "payment":
        body["merchant_id"] = f"m{rng.randrange(20000)}"
    elif kind in ("transfer", "withdrawal"):
        body["counterparty"] = {
            "account_id": f"u{rng.randrange(n_accounts)}",
            "bank_card": f"tk_bank_card_p{rng.randrange(n_accounts)}",
        }
    return Event.model_validate(body)


def _edges(graph: OnlineGraph) -> int:
    gen = graph.oldest()
    return 0 if gen is None else sum(len(m) for m in gen.members.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edges", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    n_accounts = max(1000, args.edges // 5)
    stage = GraphStage(OnlineGraph(horizon=30 * 86400.0))
    graph = stage.graph
    ts = 1_767_225_600.0
    i = 0
    t0 = time.perf_counter()
    # Load through the same update path (minus pydantic parsing, which is not ours to time).
    while _edges(graph) < args.edges:
        for _ in range(20_000):
            ev = _event(rng, i, ts, n_accounts)
            stage.observe(ev)
            i += 1
            ts += 0.5
    load_s = time.perf_counter() - t0
    for n in range(200):  # some known-fraud accounts so the share features do work
        stage.mark(f"u{n * 97}")
    events = [_event(rng, i + n, ts + n * 0.5, n_accounts) for n in range(args.events)]
    costs: list[int] = []
    for ev in events:
        ctx = DecisionContext(ev)
        t = time.perf_counter_ns()
        stage.run(ctx)
        costs.append(time.perf_counter_ns() - t)
    costs.sort()
    gen = graph.oldest()
    assert gen is not None
    p50 = costs[len(costs) // 2] / 1000
    p99 = costs[int(len(costs) * 0.99)] / 1000
    print(
        f"graph: {_edges(graph):,} account–identifier edges, {len(gen.parent):,} union-find "
        f"nodes, {len(gen.size):,} clusters, loaded {i:,} events in {load_s:.1f} s"
    )
    print(
        f"GraphStage.run (features + update), {len(costs):,} events: "
        f"p50 {p50:.1f} µs, p99 {p99:.1f} µs, mean {sum(costs) / len(costs) / 1000:.1f} µs"
    )
    print(
        "keys per event (mean):",
        round(sum(len(identifier_keys(e)) for e in events) / len(events), 2),
        "| example features:",
        {k: v for k, v in _sample(stage, events[-1]).items() if v},
    )


def _sample(stage: GraphStage, ev: Event) -> dict[str, object]:
    return dict(stage.graph.features(ev.ts, account_key(ev.user_id), identifier_keys(ev)))


if __name__ == "__main__":
    main()
