"""What a state repair round takes from the log (features/state_repair.py, the pure
part) and how its counters reach /metrics. The Redis and PostgreSQL part:
tests/integration/test_redis_repair.py."""

from __future__ import annotations

from fengkong.api.metrics import Metrics
from fengkong.features.state_repair import Committed, due, unclaimed


def _rows(*ats: float) -> list[Committed]:
    return [Committed(seq, f"e{seq}", at) for seq, at in enumerate(ats, start=1)]


def test_a_round_stops_at_the_first_event_inside_the_grace() -> None:
    """Log order, not commit time, bounds the round: an event committed before the
    cutoff but after one inside the grace waits with it (the cursor never skips)."""
    page = due(_rows(10, 20, 95, 30), cutoff=90, expired_before=0, full=True)
    assert [r.seq for r in page.check] == [1, 2]
    assert page.cursor == 2 and not page.more


def test_events_whose_claims_may_have_expired_are_passed_over() -> None:
    page = due(_rows(1, 2, 50, 60), cutoff=100, expired_before=5, full=False)
    assert [r.seq for r in page.check] == [3, 4]
    assert page.expired == 2 and page.cursor == 4 and not page.more


def test_a_full_page_asks_for_more_and_an_empty_one_keeps_the_cursor() -> None:
    assert due(_rows(1, 2), cutoff=10, expired_before=0, full=True).more
    empty = due([], cutoff=10, expired_before=0, full=False)
    assert empty.cursor is None and empty.check == []
    inside = due(_rows(50), cutoff=10, expired_before=0, full=False)
    assert inside.cursor is None and inside.check == []


def test_unclaimed_keeps_the_rows_without_a_claim() -> None:
    rows = _rows(1, 2, 3)
    assert [r.seq for r in unclaimed(rows, [1, 0, 1])] == [2]


class _Source:
    def repair_counters(self) -> list[tuple[str, str, float]]:
        return [("fengkong_state_repair_rounds", "rounds", 3.0),
                ("fengkong_state_repair_events", "events", 7.0)]  # fmt: skip


def test_the_counters_are_exported_as_prometheus_counters() -> None:
    metrics = Metrics()
    metrics.watch_repair(_Source())
    text = metrics.render().decode()
    assert "fengkong_state_repair_rounds_total 3.0" in text
    assert "fengkong_state_repair_events_total 7.0" in text
    assert "# TYPE fengkong_state_repair_events_total counter" in text
