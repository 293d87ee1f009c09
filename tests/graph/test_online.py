"""The incremental cluster state equals a batch recomputation on random streams."""

from __future__ import annotations

import igraph as ig
from hypothesis import given, settings
from hypothesis import strategies as st

from fengkong.graph import OnlineGraph
from fengkong.graph.entities import STRONG_KINDS, kind_of
from fengkong.graph.online import HOP2_BUDGET, HOUR, Generation, _two_hops, _two_hops_budgeted

CAPS = {"d": 3, "p": 2, "c": 2, "k": 3, "x": 2, "q": 3}
KEYS = ["d:1", "d:2", "p:1", "p:2", "c:1", "i:1", "n:1", "m:1", "q:9"]
ACCOUNTS = [f"a:{i}" for i in range(8)]
HORIZON = 2 * 86400.0

Stream = list[tuple[float, str, list[str]]]


def _batch(
    events: Stream, now: float
) -> tuple[dict[str, frozenset[str]], dict[str, int], dict[str, float], dict[str, int]]:
    """Components, 24 h growth, formation time and per-identifier counts, from scratch."""
    glued: list[tuple[str, str]] = []
    seen: dict[str, list[str]] = {}
    first: dict[str, float] = {}
    formed: dict[str, float] = {}
    for j, (ts, acc, keys) in enumerate(events):
        first.setdefault(acc, ts)
        for key in keys:
            accs = seen.setdefault(key, [])
            if acc in accs:
                continue
            if kind_of(key) in STRONG_KINDS and len(accs) < CAPS[kind_of(key)]:
                glued.append((acc, key))
            accs.append(acc)
        # Formation: the first prefix in which a component holds two accounts or more.
        for comp in _components(list(first), glued).values():
            if len(comp) >= 2:
                for a in comp:
                    formed.setdefault(a, events[j][0])
    comps = _components(list(first), glued)
    hour = int(now // HOUR) - 23
    growth = {a: sum(1 for b in comps[a] if int(first[b] // HOUR) >= hour) for a in first}
    counts = {k: len(v) for k, v in seen.items()}
    return comps, growth, formed, counts


def _components(accounts: list[str], edges: list[tuple[str, str]]) -> dict[str, frozenset[str]]:
    names = sorted(set(accounts) | {k for _, k in edges})
    index = {n: i for i, n in enumerate(names)}
    g = ig.Graph(n=len(names), edges=[(index[a], index[k]) for a, k in edges])
    out: dict[str, frozenset[str]] = {}
    for comp in g.connected_components():
        accs = frozenset(names[i] for i in comp if names[i].startswith("a:"))
        for a in accs:
            out[a] = accs
    return out


def _check_generation(gen: Generation, events: Stream, now: float, fraud: set[str]) -> None:
    comps, growth, formed, counts = _batch(events, now)
    assert set(comps) == {x for x in gen.parent if x.startswith("a:")}
    hour = int(now // HOUR) - 23
    for acc, comp in comps.items():
        root = gen.find(acc)
        assert {a for a in comp if gen.find(a) == root} == comp
        assert gen.size[root] == len(comp)
        assert sum(n for h, n in gen.joins[root].items() if h >= hour) == growth[acc]
        # A cluster formed when the first of its parts held two accounts.
        when = [formed[a] for a in comp if a in formed]
        assert gen.formed.get(root) == (min(when) if when else None)
        assert gen.fraud[root] == len(comp & fraud)
    for key, n in counts.items():
        assert len(gen.members[key]) == n


event_st = st.tuples(
    st.integers(min_value=0, max_value=30_000),
    st.sampled_from(ACCOUNTS),
    st.lists(st.sampled_from(KEYS), max_size=4, unique=True),
)
label_st = st.tuples(
    st.integers(min_value=0, max_value=400_000), st.sampled_from(ACCOUNTS), st.booleans()
)


@settings(max_examples=120, deadline=None)
@given(st.lists(event_st, min_size=1, max_size=40), st.lists(label_st, max_size=6))
def test_incremental_equals_batch(
    raw: list[tuple[int, str, list[str]]], labels: list[tuple[int, str, bool]]
) -> None:
    graph = OnlineGraph(horizon=HORIZON, caps=CAPS)
    t0 = 1_700_000_000.0
    for at, acc, fraud in labels:
        graph.add_label(acc, fraud, t0 + at)
    stream: Stream = []
    ts = t0
    for dt, acc, keys in raw:
        ts += dt
        graph.observe_links(ts, acc, keys)
        stream.append((ts, acc, keys))
    now = graph.clock
    # The labels in force now: the last one (by time, then order given) at or before now.
    state: dict[str, bool] = {}
    for _, (at, acc, fraud) in sorted(enumerate(labels), key=lambda p: (p[1][0], p[0])):
        if t0 + at <= now:
            state[acc] = fraud
    fraud_now = {a for a, f in state.items() if f}
    assert graph.fraud == fraud_now
    period = graph.period
    k_now = int(now // period)
    k_first = int(stream[0][0] // period)
    assert set(graph.gens) == {k_now - 1, k_now}
    for k, gen in graph.gens.items():
        # A generation holds the events of its two periods (or all, when opened at start).
        lo = k if k > k_first - 1 else k_first
        sub = [e for e in stream if lo <= int(e[0] // period) <= k + 1]
        _check_generation(gen, sub, now, fraud_now)
    # Features of a known account with no new links read the oldest generation's cluster.
    acc = stream[-1][1]
    old = graph.gens[k_now - 1]
    feats = graph.features(now, acc, [])
    if acc in old.parent:
        assert feats["cluster_size"] == old.size[old.find(acc)]
    else:
        assert feats["cluster_size"] == 1


def _hops(
    g: OnlineGraph, gen: Generation, account: str, keys: list[str]
) -> tuple[set[str], set[str]]:
    """1- and 2-hop accounts from scratch: through each identifier's first ``cap`` accounts."""

    def via(acc_keys: list[str]) -> set[str]:
        out: set[str] = set()
        for key in acc_keys:
            if kind_of(key) in STRONG_KINDS:
                out.update(list(gen.members.get(key, {}))[: g.caps.get(kind_of(key), 0)])
        return out

    own = list(gen.ids_of.get(account, [])) + [
        k for k in keys if k not in gen.ids_of.get(account, [])
    ]
    hop1 = via(own) - {account}
    hop2 = set(hop1)
    for nb in hop1:
        hop2 |= via(gen.ids_of.get(nb, []))
    return hop1, hop2 - {account}


@settings(max_examples=150, deadline=None)
@given(
    st.lists(event_st, min_size=1, max_size=40),
    st.sets(st.sampled_from(ACCOUNTS), max_size=3),
    st.sampled_from(ACCOUNTS),
    st.lists(st.sampled_from(KEYS), max_size=3, unique=True),
)
def test_hop_features_count_each_neighbour_once(
    events: Stream, fraud: set[str], account: str, keys: list[str]
) -> None:
    g = OnlineGraph(horizon=HORIZON, caps=CAPS)
    for acc in fraud:
        g.add_label(acc, True, 0.0)
    for ts, acc, ks in sorted(events):
        g.observe_links(float(ts), acc, ks)
    now = float(max(ts for ts, _, _ in events))
    out = g.features(now, account, keys)
    gen = g.oldest()
    assert gen is not None
    hop1, hop2 = _hops(g, gen, account, keys)
    assert out["neighbours_1hop"] == len(hop1)
    if hop1:
        assert out["fraud_share_1hop"] == len(hop1 & fraud) / len(hop1)
        assert out["fraud_share_2hop"] == len(hop2 & fraud) / len(hop2)


def test_the_two_hop_walk_stops_past_its_budget_only() -> None:
    # One device with 30 accounts, each with a device of its own shared by 30 others.
    g = OnlineGraph(horizon=HORIZON)
    for i in range(30):
        g.observe_links(1.0, f"a:n{i}", ["d:hub", f"d:own{i}"])
        for j in range(30):
            g.observe_links(1.0, f"a:f{i}-{j}", [f"d:own{i}"])
    g.add_label("a:f3-4", True, 1.0)
    gen = g.oldest()
    assert gen is not None
    hop1 = {f"a:n{i}" for i in range(30)}
    # own{i} glues its first 30 (n{i} and 29 f{i}-*): 1 + 30 + 30 * 29 accounts in all,
    # but the quick walk gives up once past the budget (a hub is never walked whole),
    # and the budgeted walk stops after the neighbour that passed it.
    quick = _two_hops(gen, g.caps, "a:me", ["d:hub"], hop1)
    walked = _two_hops_budgeted(gen, g.caps, "a:me", ["d:hub"], hop1)
    assert HOP2_BUDGET < len(quick) <= HOP2_BUDGET + 30
    assert HOP2_BUDGET < len(walked) < 1 + 30 + 30 * 29
    small = {f"a:n{i}" for i in range(3)}
    assert _two_hops(gen, g.caps, "a:me", [], small) == _two_hops_budgeted(
        gen, g.caps, "a:me", [], small
    )
    out = g.features(2.0, "a:me", ["d:hub"])
    share = out["fraud_share_2hop"]
    assert isinstance(share, float) and 0.0 <= share <= 1 / HOP2_BUDGET
