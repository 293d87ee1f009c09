from __future__ import annotations

import base64
import io
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from fengkong.decisions import DecisionContext
from fengkong.events import Event
from fengkong.imaging import ImagePool
from fengkong.links.qr_image import read_qr
from fengkong.links.qr_synth import make_sample
from fengkong.links.stage import LinksStage
from fengkong.runtime import build_runtime
from fengkong.settings import Settings

segno = pytest.importorskip("segno")

PHISHING = "https://alipay-refund.example-help.com/pay?id=88"


def _png(payload: str) -> str:
    buf = io.BytesIO()
    segno.make(payload, error="m").save(buf, kind="png", scale=5)
    return base64.b64encode(buf.getvalue()).decode()


def _scan(i: int, **qr: Any) -> Event:
    return Event.model_validate(
        {
            "event_id": f"q{i}",
            "type": "qr_scan",
            "user_id": "u1",
            "occurred_at": datetime(2026, 11, 20, 8, tzinfo=UTC).isoformat(),
            "qr": qr,
        }
    )


def test_qr_image_round_trip_feeds_the_link_analysis() -> None:
    stage = LinksStage()
    ctx = DecisionContext(_scan(1, image_b64=_png(PHISHING)))
    stage.run(ctx)
    assert ctx.facts["qr.from_image"] is True
    assert ctx.facts["link.host"] == "alipay-refund.example-help.com"
    assert ctx.facts["link.impersonates_brand"] is True
    assert ctx.facts["qr.payload_mismatch"] is False


def test_client_payload_that_differs_from_the_image_is_flagged_and_the_image_wins() -> None:
    stage = LinksStage()
    ctx = DecisionContext(_scan(2, payload="https://qr.alipay.com/bax1", image_b64=_png(PHISHING)))
    stage.run(ctx)
    assert ctx.facts["qr.payload_mismatch"] is True
    assert ctx.facts["link.risk"] >= 0.6


def test_unreadable_image_falls_back_to_the_claimed_payload() -> None:
    not_an_image = base64.b64encode(b"hello world").decode()
    assert read_qr(not_an_image)["error"] == "not a readable image"
    stage = LinksStage()
    ctx = DecisionContext(_scan(3, payload="https://qr.alipay.com/bax1", image_b64=not_an_image))
    stage.run(ctx)
    assert ctx.facts["qr.image_unreadable"] is True
    assert ctx.facts["link.is_official"] is True


@pytest.mark.parametrize("n", range(12))
def test_damaged_screenshots_decode(n: int) -> None:
    sample = make_sample(n, seed=7)
    assert sample.payload in read_qr(sample.image_b64)["payloads"], sample.damage


def test_a_check_over_budget_decides_pending_and_attaches_the_result_later(
    settings: Settings,
) -> None:
    settings.image_workers = 0
    rt = build_runtime(settings)
    try:
        (links,) = [s for s in rt.engine.pipeline.stages if s.name == "links"]
        assert isinstance(links, LinksStage)
        # A worker process takes a second to start: the first check is always late.
        links.images = ImagePool(workers=1, budget_s=0.001)
        links._checks.pool = links.images
        raw = _scan(4, image_b64=_png(PHISHING)).model_dump(mode="json", exclude_none=True)
        out = rt.engine.decide(raw)
        assert out["decision"] == "review"
        assert any(r["name"] == "qr_image_pending" for r in out["reasons"])
        deadline = time.monotonic() + 30
        late: dict[str, Any] = {}
        while time.monotonic() < deadline and not late:
            found = rt.store.decision("q4")
            assert found is not None
            late = orjson.loads(found[1]).get("late", {})
            time.sleep(0.05)
        assert late["links"]["link.impersonates_brand"] is True
    finally:
        links.images.close()
        rt.close()
