"""Laundering shapes, dense blocks, communities and tracing on small hand-built graphs."""

from __future__ import annotations

import random

import pandas as pd

from fengkong.graph.mining import MineParams, find_communities, find_dense_blocks, peel
from fengkong.graph.shapes import (
    ShapeParams,
    find_chains,
    find_cycles,
    find_fans,
    find_scatter_gather,
)
from fengkong.graph.trace import FlowIndex, trace

H = 3600.0
P = ShapeParams(min_fan=5, min_chain_len=4, min_scatter=3)


def money(rows: list[tuple[str, str, float, float]], kind: str = "transfer") -> pd.DataFrame:
    return pd.DataFrame(
        [(s, d, a, t * H, kind, f"e{i}") for i, (s, d, a, t) in enumerate(rows)],
        columns=["src", "dst", "amount", "ts", "kind", "event_id"],
    )


def noise(n: int, seed: int = 1) -> list[tuple[str, str, float, float]]:
    rng = random.Random(seed)
    return [
        (f"a:n{rng.randrange(40)}", f"a:n{rng.randrange(40, 80)}", 200.0, rng.uniform(0, 2000))
        for _ in range(n)
    ]


def test_cycle_found_only_when_time_respecting() -> None:
    ring = [("a:x1", "a:x2", 900.0, 10), ("a:x2", "a:x3", 880.0, 20), ("a:x3", "a:x1", 860.0, 30)]
    found = find_cycles(money(ring + noise(150)), P)
    assert [sorted(r.members) for r in found] == [["a:x1", "a:x2", "a:x3"]]
    backwards = [("a:x1", "a:x2", 900.0, 30), ("a:x2", "a:x3", 880.0, 20), ("a:x3", "a:x1", 1, 10)]
    assert find_cycles(money(backwards + noise(150)), P) == []


def test_fan_in_and_fan_out_need_partners_within_the_window() -> None:
    fan = [(f"a:s{i}", "a:hub", 300.0, 5 + i) for i in range(6)]
    rings = find_fans(money(fan + noise(100)), P, "in")
    assert [r.evidence["centre"] for r in rings] == ["a:hub"]
    assert set(rings[0].members) == {"a:hub"} | {f"a:s{i}" for i in range(6)}
    spread = [(f"a:s{i}", "a:hub", 300.0, 24 * 10 * i) for i in range(6)]
    assert find_fans(money(spread), P, "in") == []
    out = [("a:boss", f"a:m{i}", 300.0, 5 + i) for i in range(6)]
    assert [r.evidence["centre"] for r in find_fans(money(out), P, "out")] == ["a:boss"]


def test_scatter_gather() -> None:
    rows = [("a:src", f"a:m{i}", 1000.0, 1) for i in range(3)]
    rows += [(f"a:m{i}", "a:dst", 950.0, 5 + i) for i in range(3)]
    rows += [("a:src", "a:m9", 1000.0, 1), ("a:m9", "a:other", 900.0, 3)]
    rings = find_scatter_gather(money(rows + noise(100)), P)
    assert len(rings) == 1
    assert rings[0].evidence["source"] == "a:src" and rings[0].evidence["target"] == "a:dst"
    assert rings[0].evidence["intermediaries"] == 3
    late = [*rows[:3], *[(f"a:m{i}", "a:dst", 950.0, 24 * 5 + i) for i in range(3)]]
    assert find_scatter_gather(money(late), P) == []


def test_chain_through_pass_through_accounts() -> None:
    hops = ["a:c0", "a:c1", "a:c2", "a:c3", "a:c4"]
    rows = [(hops[i], hops[i + 1], 5000.0 - 50 * i, 10 + 6 * i) for i in range(4)]
    rings = find_chains(money(rows + noise(60, seed=3)), P)
    assert any(set(hops) == set(r.members) for r in rings)
    slow = [(hops[i], hops[i + 1], 5000.0, 10 + 24 * 5 * i) for i in range(4)]
    assert find_chains(money(slow), P) == []
    # With amount checks on, a hop that forwards far more than it got breaks the chain.
    jump = [*rows[:2], (hops[2], hops[3], 90000.0, 22), rows[3]]
    strict = ShapeParams(min_chain_len=4, amount_ratio=(0.5, 1.0))
    assert find_chains(money(jump), strict) == []
    assert len(find_chains(money(rows), strict)) == 1


def test_trace_follows_a_draw_forward_in_time() -> None:
    rows = [
        ("L:credit", "a:u1", 1000.0, 10, "credit_draw"),
        ("a:u1", "a:u9", 500.0, 5, "transfer"),  # before the draw: not its money
        ("a:u1", "a:u2", 600.0, 11, "transfer"),
        ("a:u1", "a:u3", 400.0, 12, "transfer"),
        ("a:u2", "m:shop", 600.0, 13, "payment"),
        ("a:u3", "c:card", 300.0, 14, "withdrawal"),
    ]
    df = pd.DataFrame(
        [(s, d, a, t * H, k, f"e{i}") for i, (s, d, a, t, k) in enumerate(rows)],
        columns=["src", "dst", "amount", "ts", "kind", "event_id"],
    )
    index = FlowIndex(df)
    origin, amount, ts = index.draw("e0")
    assert (origin, amount) == ("a:u1", 1000.0)
    res = trace(index, origin, amount, ts, hops=3).to_dict()
    landed = {x["node"]: x["amount"] for x in res["landings"]}
    assert landed == {"m:shop": 600.0, "c:card": 300.0, "a:u3": 100.0}
    assert res["landed_by_kind"] == {"account": 100.0, "bank_card": 300.0, "merchant": 600.0}
    one_hop = trace(index, origin, amount, ts, hops=1).to_dict()
    assert {x["node"]: x["amount"] for x in one_hop["landings"]} == {"a:u2": 600.0, "a:u3": 400.0}


def test_communities_over_shared_identifiers_skip_hubs() -> None:
    rows = [(f"a:r{i}", "d:farm", 1.0) for i in range(5)]
    rows += [(f"a:r{i}", "p:shared", 2.0) for i in range(3)]
    rows += [(f"a:h{i}", "c:fam", 3.0) for i in range(2)]
    rows += [(f"a:z{i}", "d:nat", 4.0) for i in range(40)]  # a hub: above the device cap
    links = pd.DataFrame(rows, columns=["account", "key", "ts"])
    rings = find_communities(links, MineParams())
    assert [sorted(r.members) for r in rings] == [[f"a:r{i}" for i in range(5)]]
    assert rings[0].evidence["shared_by_kind"] == {"device": 1, "phone": 1}


def test_peeling_finds_the_planted_dense_block() -> None:
    rng = random.Random(5)
    block = [(f"a:b{i}", f"m:b{j}", 100.0, float(i + j)) for i in range(8) for j in range(6)]
    noise = [
        (f"a:n{rng.randrange(400)}", f"m:n{rng.randrange(200)}", 50.0, 1.0) for _ in range(300)
    ]
    rings = find_dense_blocks(money(block + noise, "payment"), MineParams(n_blocks=2))
    assert len(rings) == 1
    assert set(rings[0].members) == {f"a:b{i}" for i in range(8)}
    assert set(rings[0].entities) == {f"m:b{j}" for j in range(6)}
    # Random purchases alone hold no block well above the graph's own density.
    assert find_dense_blocks(money(noise, "payment"), MineParams()) == []


def test_peel_keeps_the_densest_set() -> None:
    import numpy as np

    # A 3x3 complete block plus a pendant edge: the block (density 9/6) beats all (10/8).
    u = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3])
    v = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 3])
    mask, g = peel(u, v, np.ones(10), 4, 4)
    assert mask.tolist() == [True, True, True, False, True, True, True, False]
    assert g == 1.5
