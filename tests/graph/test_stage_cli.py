"""GraphStage point-in-time behaviour and the ``fengkong graph`` commands end to end."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from fengkong.cli.graph_cmd import graph
from fengkong.decisions.types import DecisionContext
from fengkong.events import Event
from fengkong.graph.stage import GraphStage

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def ev(i: int, user: str, minutes: float, **kw: Any) -> dict[str, Any]:
    at = (T0 + timedelta(minutes=minutes)).isoformat()
    return {"event_id": f"e{i}", "type": "login", "user_id": user, "occurred_at": at, **kw}


def test_features_read_the_state_before_the_event_and_labels_from_their_time() -> None:
    stage = GraphStage()
    feats = []
    for i, u in enumerate(["u1", "u2", "u3"]):
        ctx = DecisionContext(Event.model_validate(ev(i, u, 60 * i, device={"device_id": "D"})))
        stage.run(ctx)
        feats.append(ctx.features)
    assert [f["graph.accounts_per_device"] for f in feats] == [1, 2, 3]
    assert [f["graph.cluster_size"] for f in feats] == [1, 2, 3]
    assert feats[2]["graph.cluster_age_hours"] == 1.0
    # A label known only from tomorrow on does not count today.
    stage.mark("u1", at=(T0 + timedelta(days=1)).timestamp())
    ctx = DecisionContext(Event.model_validate(ev(7, "u4", 200, device={"device_id": "D"})))
    stage.run(ctx)
    assert ctx.features["graph.fraud_share_1hop"] == 0.0
    ctx = DecisionContext(Event.model_validate(ev(8, "u5", 60 * 25, device={"device_id": "D"})))
    stage.run(ctx)
    assert ctx.features["graph.fraud_share_1hop"] == 0.25
    assert ctx.features["graph.cluster_fraud_share"] == 0.2
    # A weak identifier (shared IP) is counted but never joins clusters.
    ctx = DecisionContext(Event.model_validate(ev(9, "u9", 60 * 26, ip="10.0.0.1")))
    stage.run(ctx)
    ctx = DecisionContext(Event.model_validate(ev(10, "u8", 60 * 27, ip="10.0.0.1")))
    stage.run(ctx)
    assert ctx.features["graph.accounts_per_ip24"] == 2
    assert ctx.features["graph.cluster_size"] == 1


def test_mine_trace_export(tmp_path: Path) -> None:
    rows = [ev(i, f"r{i}", i, device={"device_id": "FARM"}, phone="tk_phone_x") for i in range(4)]
    rows.append({**ev(10, "r0", 30), "type": "credit_draw", "amount": "1000"})
    rows.append(
        {
            **ev(11, "r0", 40),
            "type": "transfer",
            "amount": "700",
            "counterparty": {"account_id": "r1"},
        }
    )
    rows.append(
        {
            **ev(12, "r1", 50),
            "type": "withdrawal",
            "amount": "650",
            "counterparty": {"bank_card": "tk_bank_card_z"},
        }
    )
    events = tmp_path / "ev.jsonl"
    events.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        json.dumps({"user_id": "r2", "label": "fraud", "source": "analyst", "at": T0.isoformat()})
        + "\n"
    )
    out = tmp_path / "rings.json"
    runner = CliRunner()
    res = runner.invoke(
        graph,
        [
            "mine",
            "--events",
            str(events),
            "--out",
            str(out),
            "--labels",
            str(labels),
            "--png-dir",
            str(tmp_path / "png"),
        ],
    )
    assert res.exit_code == 0, res.output
    rings = json.loads(out.read_text())["rings"]
    comm = [r for r in rings if r["kind"] == "community"]
    assert sorted(comm[0]["members"]) == ["r0", "r1", "r2", "r3"]
    assert comm[0]["evidence"]["known_fraud"] == 1
    assert (tmp_path / "png" / "community-1.png").stat().st_size > 1000
    res = runner.invoke(
        graph,
        [
            "trace",
            "--events",
            str(events),
            "--event-id",
            "e10",
            "--out",
            str(tmp_path / "trace.json"),
        ],
    )
    assert res.exit_code == 0, res.output
    landed = json.loads((tmp_path / "trace.json").read_text())["landings"]
    assert {x["node"]: x["amount"] for x in landed} == {
        "c:tk_bank_card_z": 650.0,
        "a:r0": 300.0,
        "a:r1": 50.0,
    }
    res = runner.invoke(
        graph,
        [
            "export",
            "--rings",
            str(out),
            "--ring",
            "community-1",
            "--json",
            str(tmp_path / "r.json"),
            "--png",
            str(tmp_path / "r.png"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "r.json").read_text())["ring_id"] == "community-1"


def test_mine_with_default_detectors_on_a_transfers_only_log(tmp_path: Path) -> None:
    rows = [
        {
            **ev(i, f"a{i % 5}", i),
            "type": "transfer",
            "amount": "120",
            "counterparty": {"account_id": f"a{(i + 1) % 5}"},
        }
        for i in range(20)
    ]
    events = tmp_path / "ev.jsonl"
    events.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "rings.json"
    res = CliRunner().invoke(graph, ["mine", "--events", str(events), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "rings" in json.loads(out.read_text())
