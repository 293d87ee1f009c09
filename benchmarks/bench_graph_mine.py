"""Batch mining time on a synthetic 1M-edge graph with planted rings.

    python benchmarks/bench_graph_mine.py [--edges 1000000]

Half the edges are account–identifier links (households share devices and cards,
device farms and card rings are planted), half are money edges (purchases at a few
thousand merchants, P2P transfers; planted: cash-out blocks at colluding merchants,
transfer cycles, fan-ins). Prints the time of each detector and how many planted ring
accounts each one recovers. Event parsing is not timed (``GraphTables`` is built directly).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from fengkong.graph.mining import MineParams, find_communities, find_dense_blocks
from fengkong.graph.shapes import find_shapes
from fengkong.graph.tables import MONEY_COLUMNS

DAY = 86400.0


def synth(n_edges: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, set[str]]]:
    rng = np.random.default_rng(seed)
    n_acc = n_edges // 6
    t_end = 60 * DAY
    acc = np.arange(n_acc)
    # Identifier links: own phone, a household device and card, a few IPs (weak).
    n_links = n_edges // 2
    k = n_links // 4
    links = [
        pd.DataFrame({"account": acc, "key": [f"p:{i}" for i in acc]}),
        # Households are pairs (2h, 2h+1): a third share a device, a quarter a card.
        pd.DataFrame(
            {
                "account": acc,
                "key": [f"d:h{i // 2}" if (i // 2) % 3 == 0 else f"d:{i}" for i in acc],
            }
        ),
        pd.DataFrame(
            {
                "account": acc,
                "key": [f"c:h{i // 2}" if (i // 2) % 4 == 0 else f"c:{i}" for i in acc],
            }
        ),
        pd.DataFrame(
            {
                "account": rng.integers(0, n_acc, n_links - 3 * n_acc),
                "key": [f"i:{j}" for j in rng.integers(0, k, n_links - 3 * n_acc)],
            }
        ),
    ]
    planted: dict[str, set[str]] = {k: set() for k in ("farm", "cashout", "cycle", "fan_in")}
    farms = []
    for f in range(40):  # device farms: 12 accounts on one device, sharing two cards
        members = rng.choice(n_acc, 12, replace=False)
        planted["farm"].update(f"a:{m}" for m in members)
        farms.append(pd.DataFrame({"account": members, "key": f"d:farm{f}"}))
        farms.append(
            pd.DataFrame({"account": members, "key": [f"c:ring{f}-{j % 2}" for j in range(12)]})
        )
    lk = pd.concat(links + farms, ignore_index=True)
    lk["account"] = "a:" + lk["account"].astype(str)
    lk["ts"] = rng.uniform(0, t_end, len(lk))
    # Money: purchases (Zipf-ish merchant popularity) and transfers between accounts.
    n_money = n_edges - len(lk)
    n_pay = int(n_money * 0.7)
    merch = np.minimum(rng.zipf(1.3, n_pay), 5000)
    pay = pd.DataFrame(
        {
            "src": "a:" + pd.Series(rng.integers(0, n_acc, n_pay)).astype(str),
            "dst": "m:" + pd.Series(merch).astype(str),
            "kind": "payment",
        }
    )
    n_tr = n_money - n_pay
    tr = pd.DataFrame(
        {
            "src": "a:" + pd.Series(rng.integers(0, n_acc, n_tr)).astype(str),
            "dst": "a:" + pd.Series(rng.integers(0, n_acc, n_tr)).astype(str),
            "kind": "transfer",
        }
    )
    money = pd.concat([pay, tr], ignore_index=True)
    money["amount"] = rng.lognormal(5, 1, len(money)).round(2)
    money["ts"] = rng.uniform(0, t_end, len(money))
    extra = []
    for b in range(5):  # cash-out: 25 accounts each pay 4 colluding merchants repeatedly
        members = rng.choice(n_acc, 25, replace=False)
        planted["cashout"].update(f"a:{m}" for m in members)
        for m in members:
            for j in range(4):
                for _ in range(3):
                    extra.append(
                        (f"a:{m}", f"m:collude{b}-{j}", 4000.0, rng.uniform(0, t_end), "payment")
                    )
    for _ in range(50):  # cycles of 4 accounts within two days
        members = rng.choice(n_acc, 4, replace=False)
        planted["cycle"].update(f"a:{m}" for m in members)
        t = rng.uniform(0, t_end - 2 * DAY)
        for j in range(4):
            extra.append(
                (
                    f"a:{members[j]}",
                    f"a:{members[(j + 1) % 4]}",
                    9000.0 - 100 * j,
                    t + j * 3600.0,
                    "transfer",
                )
            )
    for _ in range(50):  # fan-in: 8 accounts to one collector within a day
        members = rng.choice(n_acc, 9, replace=False)
        planted["fan_in"].update(f"a:{m}" for m in members)
        t = rng.uniform(0, t_end - DAY)
        for j in range(1, 9):
            extra.append((f"a:{members[j]}", f"a:{members[0]}", 3000.0, t + j * 600.0, "transfer"))
    money = pd.concat(
        [money, pd.DataFrame(extra, columns=["src", "dst", "amount", "ts", "kind"])],
        ignore_index=True,
    )
    money["event_id"] = money.index.astype(str)
    return lk, money[MONEY_COLUMNS], planted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edges", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    links, money, planted = synth(args.edges, args.seed)
    print(
        f"graph: {len(links):,} identifier links + {len(money):,} money edges "
        f"= {len(links) + len(money):,} edges"
    )
    p = MineParams()
    total = 0.0
    m = money[~money["dst"].str.startswith("m:")]
    for name, fn, truth in (
        ("communities (Leiden)", lambda: find_communities(links, p), "farm"),
        ("dense blocks (peeling)", lambda: find_dense_blocks(money, p), "cashout"),
        ("money shapes", lambda: find_shapes(m, p.shapes), None),
    ):
        t = time.perf_counter()
        rings = fn()
        took = time.perf_counter() - t
        total += took
        kinds: dict[str, set[str]] = {}
        for r in rings:
            kinds.setdefault(r.kind, set()).update(r.members)
        found = ", ".join(f"{k} {len(v):,} accts" for k, v in kinds.items())
        print(f"  {name:24s} {took:7.1f} s  {len(rings):6,} rings ({found})")
        if truth == "farm":  # what an analyst sees first: the 40 best-scored communities
            top = {a for r in rings[:40] for a in r.members}
            hit = len(top & planted["farm"])
            print(
                f"      top-40 communities: recall {hit / len(planted['farm']):.3f}, "
                f"precision {hit / max(1, len(top)):.3f}"
            )
        checks = [truth] if truth else []
        if truth is None:
            checks = ["cycle", "fan_in"]
        for t_name in checks:
            kind = {"farm": "community", "cashout": "dense_block"}.get(t_name, t_name)
            got = kinds.get(kind, set())
            hit = len(got & planted[t_name])
            print(
                f"      planted {t_name}: recall {hit / len(planted[t_name]):.3f}, "
                f"precision {hit / max(1, len(got)):.3f}"
            )
    print(f"batch mining total: {total:.1f} s")


if __name__ == "__main__":
    main()
