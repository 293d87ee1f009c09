"""Labels read back from the store for training: stored times are epoch seconds."""

from __future__ import annotations

from datetime import UTC, datetime

from fengkong.decisions.store import LabelRecord
from fengkong.models.dataset import store_labels


class _Store:
    def labels(self) -> list[LabelRecord]:
        return [
            LabelRecord("e1", None, "fraud", "analyst", 1793905709.0, "cash_out_ring"),
            LabelRecord(None, "u1", "legit", "confirmed_case", 1793905710.5),
        ]


def test_stored_labels_become_labels_at_their_time() -> None:
    first, second = store_labels(_Store())
    assert first.event_id == "e1" and first.scenario == "cash_out_ring"
    assert first.at == datetime.fromtimestamp(1793905709.0, UTC)
    assert second.user_id == "u1" and second.label == "legit"
    assert second.at.timestamp() == 1793905710.5
