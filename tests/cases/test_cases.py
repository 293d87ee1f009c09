"""Cases: opened and joined by review decisions, worked, closed with their labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from fengkong.cases import CaseError, Inbox, check_move, closing_labels, round_robin, route
from fengkong.decisions.store import DecisionRecord, LabelRecord
from fengkong.storage import SQLiteStore
from fengkong.storage.cases_sqlite import CaseStore, close_in
from tests.servers import new_database, pg_server

__all__ = ["pg_server"]  # the session fixture, used by name


def _record(
    event_id: str, user: str, outcome: str, rule: str = "shared_device_money"
) -> DecisionRecord:
    decision = {"decision": outcome, "reasons": [{"source": "rule", "name": rule, "detail": ""}]}
    return DecisionRecord(
        event_id, "payment", user, 1.7e9, "h", b'{"type":"payment"}', outcome, 0.75,
        orjson.dumps(decision), b"{}",
    )  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Any, CaseStore]:
    """The event store and the case store on one database: the file, or PostgreSQL."""
    if request.param == "postgres":
        from fengkong.storage.postgres import PostgresStore

        url = new_database(request.getfixturevalue("pg_server"))
        return PostgresStore(url, pool_size=2), CaseStore(url)
    db = tmp_path / "fk.db"
    return SQLiteStore(db), CaseStore(db)


def test_routing_moves_and_labels_of_the_pure_model() -> None:
    boxes = [Inbox("ato", ("rule:login_*",), 3600)]
    assert route(boxes, ["rule:login_burst"]).name == "ato"
    assert route(boxes, ["rule:other"]).name == "general"
    check_move("open", "investigating")
    with pytest.raises(CaseError):
        check_move("closed", "investigating")
    drafts = closing_labels("confirmed_fraud", ["u1", "u1"], ["e1", "e2"], 5.0)
    assert [(d.user_id, d.event_id, d.label) for d in drafts] == [
        ("u1", None, "fraud"), (None, "e1", "fraud"), (None, "e2", "fraud"),
    ]  # fmt: skip
    assert closing_labels("inconclusive", ["u1"], ["e1"], 5.0) == []
    with pytest.raises(CaseError):
        closing_labels("maybe", ["u1"], [], 5.0)
    assert round_robin(["a", "b"], "a") == "b" and round_robin(["a", "b"], "b") == "a"


def test_reviews_open_one_case_per_account_and_join_it(
    stores: tuple[SQLiteStore, CaseStore],
) -> None:
    store, cases = stores
    store.write([_record("e1", "u1", "review"), _record("e2", "u1", "review")])
    store.write([_record("e3", "u2", "allow"), _record("e4", "u2", "review", "login_burst")])
    queue = cases.queue()
    assert [(c.subject, c.decisions, c.inbox) for c in sorted(queue, key=lambda c: c.subject)] == [
        ("u1", 2, "rings"), ("u2", 1, "takeover"),
    ]  # fmt: skip
    counts = cases.counts()
    assert counts["rings"]["active"] == 1 and counts["takeover"]["unassigned"] == 1
    u1 = next(c for c in queue if c.subject == "u1")
    assert [e for e, _ in cases.events(u1.case_id)] == ["e1", "e2"]


def test_a_ring_case_takes_its_members_reviews(stores: tuple[SQLiteStore, CaseStore]) -> None:
    store, cases = stores
    ring = cases.open_ring(["u1", "u2", "u3"], "analyst", ring="ring-7", detail={})
    assert cases.open_ring(["u1", "u2"], "analyst", ring="ring-7", detail={}) == ring
    store.write([_record("e1", "u2", "review")])
    got = cases.get(ring)
    assert got is not None and got.decisions == 1 and got.members == ["u1", "u2", "u3"]
    with pytest.raises(CaseError):
        cases.open_ring(["u1"], "analyst", ring="solo", detail={})


def test_closing_writes_labels_in_the_same_commit(stores: tuple[SQLiteStore, CaseStore]) -> None:
    store, cases = stores
    store.write([_record("e1", "u1", "review")])
    (case,) = cases.queue()
    labels = [LabelRecord(None, "u1", "fraud", "confirmed_case", 10.0)]
    store.add_labels(
        labels, within=lambda c, now: close_in(c, case.case_id, "confirmed_fraud", "a", now)
    )
    closed = cases.get(case.case_id)
    assert closed is not None and (closed.status, closed.outcome) == ("closed", "confirmed_fraud")
    assert list(store.labels()) == labels
    # Closing twice fails whole: no second label.
    again = [LabelRecord(None, "u1", "fraud", "confirmed_case", 11.0)]
    with pytest.raises(CaseError):
        store.add_labels(
            again, within=lambda c, now: close_in(c, case.case_id, "confirmed_fraud", "a", now)
        )
    assert list(store.labels()) == labels
    # A new review after closing opens a fresh case.
    store.write([_record("e2", "u1", "review")])
    assert [c.case_id for c in cases.queue()] != [case.case_id]
    assert any(h["action"] == "close" for h in cases.history(case.case_id))


def test_assignment_next_unassigned_round_robin_notes(
    stores: tuple[SQLiteStore, CaseStore],
) -> None:
    store, cases = stores
    store.write([_record(f"e{i}", f"u{i}", "review") for i in range(5)])
    taken = cases.next_unassigned("alice")
    got = cases.get(taken or "")
    assert got is not None and (got.assignee, got.status) == ("alice", "investigating")
    assert cases.round_robin(["bob", "carol"], "admin") == 4
    assert sorted(c.assignee or "" for c in cases.queue()) == [
        "alice",
        "bob",
        "bob",
        "carol",
        "carol",
    ]
    assert cases.next_unassigned("alice") is None
    cases.note(got.case_id, "called the customer", "alice")
    with pytest.raises(CaseError):
        cases.note(got.case_id, "  ", "alice")
    cases.escalate(got.case_id, "alice", "big amount")
    assert cases.queue()[0].case_id == got.case_id
    assert [h["action"] for h in cases.history(got.case_id)] == ["open", "take", "note", "escalate"]


def test_the_queue_pages_by_due_time(stores: tuple[SQLiteStore, CaseStore]) -> None:
    store, cases = stores
    store.write([_record(f"e{i}", f"u{i}", "review") for i in range(7)])
    first = cases.queue(limit=3)
    rest = cases.queue(limit=10, after=(first[-1].due_at, first[-1].case_id))
    assert len(first) == 3 and len(rest) == 4
    assert not {c.case_id for c in first} & {c.case_id for c in rest}


def test_an_inbox_set_by_an_admin_takes_later_cases(stores: tuple[SQLiteStore, CaseStore]) -> None:
    store, cases = stores
    cases.set_inbox(Inbox("vip", ("rule:vip_*",), 600, "VIP"), 1, "admin")
    store.write([_record("e1", "u1", "review", "vip_large")])
    (case,) = cases.queue()
    assert case.inbox == "vip" and case.due_at - case.opened_at == 600
    with pytest.raises(CaseError):
        cases.set_inbox(Inbox("bad", (), 600), 1, "admin")
