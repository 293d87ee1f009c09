"""The linked-entity neighbourhood of an account, from the online graph."""

from __future__ import annotations

from fengkong.graph.neighbourhood import neighbourhood
from fengkong.graph.online import OnlineGraph


def test_accounts_on_a_shared_device_form_the_ring_and_others_do_not() -> None:
    g = OnlineGraph(horizon=86400.0)
    for i, acc in enumerate(["a:u1", "a:u2", "a:u3"]):
        g.observe_links(100.0 + i, acc, ["d:farm-phone", f"p:tk_phone_{i}"])
    g.observe_links(200.0, "a:u9", ["d:own-phone", "i:203.0.113.7"])
    hood = neighbourhood(g, "u1")
    assert hood.ring == {"a:u1", "a:u2", "a:u3"}
    assert hood.cluster_size == 3
    assert {"d:farm-phone", "p:tk_phone_0", "p:tk_phone_2"} <= set(hood.nodes)
    assert ("a:u2", "d:farm-phone") in hood.edges
    assert "a:u9" not in hood.nodes
    alone = neighbourhood(g, "u9")
    assert alone.ring == set() and "i:203.0.113.7" not in alone.nodes  # weak ids never link
    assert neighbourhood(g, "nobody").nodes == {}


def test_the_neighbourhood_is_bounded() -> None:
    g = OnlineGraph(horizon=86400.0)
    for i in range(300):
        g.observe_links(100.0 + i, f"a:u{i}", ["d:shared"])
    hood = neighbourhood(g, "u0", max_nodes=50)
    assert len(hood.nodes) == 50 and hood.truncated
