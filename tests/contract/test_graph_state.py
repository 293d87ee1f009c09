"""The graph-state contract (graph.state.GraphState), run against every backend (the
in-memory union-find generations; a shared backend joins here)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from fengkong.graph.online import OnlineGraph
from fengkong.graph.state import GraphState

DAY = 86_400.0
BACKENDS: dict[str, Callable[[float], GraphState]] = {
    "memory": lambda horizon: OnlineGraph(horizon=horizon),
}


@pytest.fixture(params=sorted(BACKENDS))
def graph(request: pytest.FixtureRequest) -> Iterator[GraphState]:
    yield BACKENDS[request.param](10 * DAY)


def test_features_are_read_from_the_state_before_the_event(graph: GraphState) -> None:
    first = graph.features(0.0, "a:u1", ["d:dev1"])
    assert first["cluster_size"] == 1 and first["accounts_per_device"] == 1
    graph.observe_links(0.0, "a:u1", ["d:dev1"])
    again = graph.features(60.0, "a:u1", ["d:dev1"])
    assert again["cluster_size"] == 1 and again["accounts_per_device"] == 1  # not itself
    second = graph.features(120.0, "a:u2", ["d:dev1"])
    assert second["cluster_size"] == 2 and second["accounts_per_device"] == 2
    assert graph.features(120.0, "a:u2", ["d:dev1"]) == second  # reading changes nothing
    graph.observe_links(120.0, "a:u2", ["d:dev1"])
    assert graph.features(180.0, "a:u3", ["d:dev1"])["cluster_size"] == 3
    assert graph.node_count() > 0 and graph.clock == 180.0


def test_a_label_takes_effect_from_its_time(graph: GraphState) -> None:
    for i, user in enumerate(("u1", "u2")):
        graph.observe_links(float(i), f"a:{user}", ["d:shared"])
    graph.add_label("a:u1", True, at=1_000.0)
    assert graph.features(500.0, "a:u3", ["d:shared"])["cluster_fraud_share"] == 0
    assert graph.features(1_000.0, "a:u3", ["d:shared"])["cluster_fraud_share"] == 1 / 3
    graph.add_label("a:u1", False, at=2_000.0)
    assert graph.features(2_000.0, "a:u3", ["d:shared"])["cluster_fraud_share"] == 0


def test_history_ages_out_past_the_horizon(graph: GraphState) -> None:
    graph.observe_links(0.0, "a:u1", ["d:old"])
    assert graph.features(DAY, "a:u2", ["d:old"])["accounts_per_device"] == 2
    late = graph.horizon * 2
    assert graph.features(late, "a:u2", ["d:old"])["accounts_per_device"] == 1


def test_max_nodes_bounds_what_is_kept(graph: GraphState) -> None:
    graph.max_nodes = 50
    for i in range(400):
        graph.observe_links(float(i), f"a:u{i}", [f"d:dev{i}"])
    assert graph.node_count() <= 2 * 50 + 2
