"""The case repository contract (cases.store.CaseStore), run against every backend: the
embedded file and PostgreSQL. The store is opened as the API opens it (api.stores)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fengkong.api.stores import open_cases
from fengkong.audit import log
from fengkong.cases import CaseError, Inbox
from fengkong.cases.store import CaseStore
from fengkong.storage.sql import open_db
from tests.contract.backends import BACKENDS, target
from tests.servers import pg_server

__all__ = ["pg_server"]  # the session fixture, used by name


@pytest.fixture(params=BACKENDS)
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return target(request, tmp_path, "c.db")


@pytest.fixture()
def cases(where: str) -> Iterator[CaseStore]:
    s = open_cases(where)
    yield s
    s.close()


def _ring(cases: CaseStore, name: str = "ring-1") -> str:
    return cases.open_ring(["u2", "u1"], "miner", ring=name, detail={"score": 0.9})


def test_a_ring_case_is_opened_once_and_read_back(cases: CaseStore) -> None:
    case_id = _ring(cases)
    assert _ring(cases) == case_id  # the ring's active case, not a second one
    case = cases.get(case_id)
    assert case is not None and case.kind == "ring" and case.subject == "ring-1"
    assert case.status == "open" and case.inbox == "rings" and case.members == ["u1", "u2"]
    assert cases.cases_of("u1") == [case_id] and cases.cases_of("u9") == []
    assert cases.get("c-none") is None
    with pytest.raises(CaseError):
        cases.open_ring(["u1"], "miner", ring="alone", detail={})


def test_inboxes_are_ordered_and_replaced_by_name(cases: CaseStore) -> None:
    names = [i.name for i in cases.inboxes()]
    assert names[-1] == "general" and "rings" in names
    cases.set_inbox(Inbox("money", ("rule:money_*",), 600.0, "Money"), 0, "admin")
    cases.set_inbox(Inbox("money", ("rule:cash_*",), 300.0, "Money"), 0, "admin")
    (money,) = [i for i in cases.inboxes() if i.name == "money"]
    assert money.patterns == ("rule:cash_*",) and money.sla_s == 300.0
    assert cases.inboxes()[0].name == "money"
    with pytest.raises(CaseError):
        cases.set_inbox(Inbox("", (), 0.0), 1, "admin")


def test_work_on_a_case_is_logged_in_order(cases: CaseStore) -> None:
    case_id = _ring(cases)
    cases.assign([case_id], "ana", "lead")
    cases.move(case_id, "investigating", "ana")
    cases.note(case_id, "same device", "ana")
    cases.escalate(case_id, "ana", "large amounts")
    cases.record(case_id, "export", "ana", {"to": "police"})
    case = cases.get(case_id)
    assert case is not None and case.assignee == "ana" and case.status == "investigating"
    assert case.escalated
    history = cases.history(case_id)
    assert [h["seq"] for h in history] == list(range(1, len(history) + 1))
    assert [h["action"] for h in history][1:] == ["assign", "status", "note", "escalate", "export"]
    assert history[3]["detail"] == {"text": "same device"} and history[3]["actor"] == "ana"
    with pytest.raises(CaseError):
        cases.move(case_id, "closed", "ana")  # closing takes an outcome
    with pytest.raises(CaseError):
        cases.note(case_id, "", "ana")
    with pytest.raises(CaseError):
        cases.assign(["c-none"], "ana", "lead")


def test_queue_counts_and_taking_the_next_case(cases: CaseStore) -> None:
    first, second = _ring(cases, "r1"), _ring(cases, "r2")
    assert [c.case_id for c in cases.queue()] == [first, second]  # by due time
    assert cases.counts()["rings"] == {"active": 2, "breached": 0, "unassigned": 2}
    assert cases.next_unassigned("ana") == first
    assert cases.queue(assignee="ana")[0].status == "investigating"
    assert [c.case_id for c in cases.queue(unassigned=True)] == [second]
    assert cases.round_robin(["bo", "cy"], "lead") == 1
    assert cases.next_unassigned("ana") is None
    assert cases.counts()["rings"]["unassigned"] == 0
    with pytest.raises(CaseError):
        cases.round_robin([], "lead")


def test_closing_joins_the_callers_transaction_and_is_chained(cases: CaseStore, where: str) -> None:
    case_id = _ring(cases)
    db = open_db(where)
    try:
        with pytest.raises(RuntimeError), db.write() as conn:
            cases.close_in(conn, case_id, "confirmed_fraud", "ana", 5.0)
            raise RuntimeError("the labels' commit failed")
        assert cases.get(case_id).status == "open"  # type: ignore[union-attr]
        with db.write() as conn:
            cases.close_in(conn, case_id, "confirmed_fraud", "ana", 5.0)
        kinds = [s.parsed()["kind"] for s in log.entries(db)]
    finally:
        db.close()
    case = cases.get(case_id)
    assert case is not None and case.status == "closed" and case.outcome == "confirmed_fraud"
    assert cases.queue() == [] and len(cases.queue(active=False)) == 1
    assert kinds == ["case_open", "case_close"]
    with pytest.raises(CaseError):
        cases.assign([case_id], "ana", "lead")  # closed
    cases.move(case_id, "open", "ana")  # reopened
    assert cases.get(case_id).outcome is None  # type: ignore[union-attr]
