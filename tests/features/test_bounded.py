"""State stays bounded when every event brings new entities."""

from __future__ import annotations

from datetime import UTC, datetime

from fengkong.events import Event
from fengkong.features import default_engine
from fengkong.features.bounded import evict_least_recent
from fengkong.graph.online import OnlineGraph
from fengkong.runtime import build_runtime
from fengkong.settings import Settings

T0 = datetime(2026, 11, 1, tzinfo=UTC).timestamp()


def _event(i: int, user: str | None = None) -> Event:
    return Event.model_validate(
        {
            "event_id": f"e{i}",
            "type": "payment",
            "user_id": user or f"u{i}",
            "occurred_at": datetime.fromtimestamp(T0 + i, UTC).isoformat(),
            "amount": "10",
            "ip": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
            "merchant_id": f"m{i}",
            "counterparty": {"account_id": f"p{i}"},
        }
    )


def test_evict_least_recent_keeps_the_most_recently_seen() -> None:
    table = {f"k{i}": float(i) for i in range(100)}
    table["k3"] = 1000.0  # seen again lately
    assert evict_least_recent(table, 50, float) == 55
    assert len(table) == 45
    assert "k3" in table and "k99" in table and "k10" not in table
    assert evict_least_recent(table, 50, float) == 0


def test_the_feature_engine_keeps_at_most_the_cap_per_kind() -> None:
    engine = default_engine()
    for i in range(600):
        engine.observe(_event(i, user="regular" if i % 2 else None))
        engine.bound(100)
    counts = engine.entity_counts()
    assert max(counts.values()) <= 100
    assert "regular" in engine.state.table("user")  # active all along: kept


def test_the_graph_drops_its_oldest_generation_beyond_the_cap() -> None:
    graph = OnlineGraph()
    graph.max_nodes = 500
    for i in range(5000):
        graph.observe_links(T0 + i, f"a:u{i}", [f"d:dev{i}", f"p:ph{i}"])
    assert graph.node_count() <= 2 * 500 + 6
    assert graph.oldest() is not None


def test_settings_cap_every_stage(tmp_path: object) -> None:
    settings = Settings(
        db_path=":memory:", token_secret="c" * 32, max_entities=80, integrity_check=False
    )
    rt = build_runtime(settings, rebuild=False)
    try:
        for i in range(400):
            rt.engine.pipeline.evaluate(_event(i))
        counts = rt.engine.pipeline.entity_counts()
        assert counts["user"] <= 80 and counts["ip"] <= 80 and counts["merchant"] <= 80
        assert counts["graph_node"] <= 2 * 80 * 11 + 20
    finally:
        rt.close()
