from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from fengkong.decisions import DecisionContext
from fengkong.documents import ReuseIndex, image_fingerprint
from fengkong.documents.stage import DocumentsStage
from fengkong.events import Event

IMAGE = base64.b64encode(b"\x89PNG fake licence picture " * 20).decode()


def test_fingerprint_ignores_base64_line_breaks_but_not_content() -> None:
    wrapped = "\n".join(IMAGE[i : i + 76] for i in range(0, len(IMAGE), 76))
    assert image_fingerprint(wrapped) == image_fingerprint(IMAGE)
    other = base64.b64encode(b"\x89PNG another picture").decode()
    assert image_fingerprint(other) != image_fingerprint(IMAGE)
    assert image_fingerprint("not base64 !!") == image_fingerprint("not base64 !!")


def test_index_counts_other_accounts_within_the_window() -> None:
    idx = ReuseIndex(window_s=100.0)
    fp = image_fingerprint(IMAGE)
    idx.add(fp, "a", ts=0.0)
    idx.add(fp, "b", ts=10.0)
    assert idx.other_accounts(fp, "c", ts=20.0) == 2
    assert idx.other_accounts(fp, "a", ts=20.0) == 1
    assert idx.other_accounts(fp, "c", ts=105.0) == 1  # a's upload left the window
    idx.expire(200.0)
    assert len(idx) == 0


def _upload(i: int, user: str, minutes: int) -> Event:
    at = datetime(2026, 11, 20, tzinfo=UTC) + timedelta(minutes=minutes)
    return Event.model_validate(
        {
            "event_id": f"d{i}",
            "type": "document_upload",
            "user_id": user,
            "occurred_at": at.isoformat(),
            "document": {"kind": "business_license", "image_b64": IMAGE},
        }
    )


def test_stage_flags_the_second_account_and_rebuilds_the_same() -> None:
    online, rebuilt = DocumentsStage(), DocumentsStage()
    first = DecisionContext(_upload(1, "shop-1", 0))
    online.run(first)
    rebuilt.observe(first.event)
    assert first.features["document.other_accounts_30d"] == 0
    again_a = DecisionContext(_upload(2, "shop-2", 5))
    again_b = DecisionContext(_upload(2, "shop-2", 5))
    online.run(again_a)
    rebuilt.run(again_b)
    assert again_a.features == again_b.features == {"document.other_accounts_30d": 1}
    login = Event.model_validate(
        {"event_id": "l", "type": "login", "user_id": "x", "occurred_at": "2026-11-20T00:00:00Z"}
    )
    ctx = DecisionContext(login)
    online.run(ctx)
    assert ctx.features["document.other_accounts_30d"] is None
