"""The filter in front of the idempotency look-up: new ids skip the store, retries do not."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from fengkong.decisions.seen import SeenIds
from fengkong.decisions.state import Snapshot
from fengkong.decisions.store import StoredDecision
from fengkong.decisions.units import IdempotencyConflict
from fengkong.runtime import build_runtime, snapshot_path
from fengkong.runtime_keys import field_protector
from fengkong.settings import Settings
from fengkong.storage import SQLiteStore


def test_an_added_id_is_always_maybe_and_few_others_are() -> None:
    seen = SeenIds(f"e{i}" for i in range(300_000))  # past the first layers' capacity
    assert all(seen.maybe(f"e{i}") for i in range(300_000))
    false = sum(seen.maybe(f"x{i}") for i in range(50_000))
    assert false < 50_000 * 0.01


def _event(i: int, amount: str = "20.00") -> dict[str, Any]:
    return {
        "event_id": f"s{i}",
        "type": "payment",
        "user_id": "u1",
        "occurred_at": f"2026-11-01T12:{i:02d}:00Z",
        "amount": amount,
        "ip": "203.0.113.7",
    }


def test_stored_ids_are_asked_about_and_new_ones_are_not(settings: Settings) -> None:
    first = build_runtime(settings)
    answers = [first.engine.decide(_event(i)) for i in range(3)]
    first.close()

    rt = build_runtime(settings)  # the filter is built from the stored ids
    asked: list[list[str]] = []
    lookup = rt.store.lookup

    def counting(ids: Sequence[str]) -> dict[str, StoredDecision]:
        asked.append(list(ids))
        return lookup(ids)

    rt.store.lookup = counting  # type: ignore[method-assign]
    try:
        assert rt.engine.decide(_event(1)) == answers[1]  # a retry after the restart
        with pytest.raises(IdempotencyConflict):
            rt.engine.decide(_event(2, amount="99.00"))
        rt.engine.decide(_event(10))
        rt.engine.decide(_event(11))
        assert rt.engine.decide(_event(10))["event_id"] == "s10"  # a retry of this run's
        assert asked == [["s1"], ["s2"], ["s10"]]
    finally:
        rt.close()


def test_a_saved_filter_answers_the_same_in_another_process() -> None:
    """Ids hash the same in every process (Python's ``hash`` of a str does not)."""
    script = (
        "import pickle, sys\n"
        "from fengkong.decisions.seen import SeenIds\n"
        "sys.stdout.buffer.write(pickle.dumps(SeenIds(f'e{i}' for i in range(2000)).state()))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, check=True)
    saved = SeenIds.from_state(pickle.loads(out.stdout))
    assert saved is not None
    assert all(saved.maybe(f"e{i}") for i in range(2000))
    assert saved.state() == SeenIds(f"e{i}" for i in range(2000)).state()
    assert sum(saved.maybe(f"x{i}") for i in range(2000)) < 20


def test_a_filter_of_another_format_is_not_used() -> None:
    form, layers = SeenIds(["a"]).state()
    assert SeenIds.from_state((("siphash", 16, 4), layers)) is None
    assert SeenIds.from_state((form, [(layers[0][0], 1, b"short")])) is None
    assert SeenIds.from_state(None) is None


def test_a_restart_from_a_snapshot_reads_only_the_tails_ids(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = build_runtime(settings)
    answers = [first.engine.decide(_event(i)) for i in range(3)]
    first.close()  # saves a snapshot with the filter
    tail = build_runtime(settings)  # stores two more after that snapshot, saves none
    answers += [tail.engine.decide(_event(i)) for i in (3, 4)]
    tail.engine.snapshot_seq = tail.store.last_seq()
    tail.close()

    read_after: list[int] = []
    event_ids = SQLiteStore.event_ids

    def recording(self: SQLiteStore, after: int = 0) -> Iterator[str]:
        read_after.append(after)
        return event_ids(self, after)

    monkeypatch.setattr(SQLiteStore, "event_ids", recording)
    rt = build_runtime(settings)
    try:
        assert rt.engine.snapshot_seq == 3
        assert read_after == [3]  # not every stored id: the snapshot's filter has those
        for i in range(5):  # retries of events before and after the snapshot
            assert rt.engine.decide(_event(i)) == answers[i]
    finally:
        rt.close()


def test_a_snapshot_of_the_previous_format_still_loads(settings: Settings) -> None:
    first = build_runtime(settings)
    answers = [first.engine.decide(_event(i)) for i in range(3)]
    first.close()
    path = snapshot_path(settings)
    assert path is not None
    protector = field_protector(settings)
    snap = Snapshot.loads(protector.open_blob(path.read_bytes(), b"snapshot"))
    assert snap.seen is not None
    v1 = b"fengkong-pipeline-snapshot-v1\n" + pickle.dumps(
        (snap.seq, snap.label_id, snap.created_at, snap.stages)
    )
    path.write_bytes(protector.seal_blob(v1, b"snapshot"))

    rt = build_runtime(settings)
    try:
        assert rt.engine.snapshot_seq == 3 and rt.rebuilt_events == 0
        assert rt.engine.decide(_event(1)) == answers[1]  # the filter, from every stored id
    finally:
        rt.close()
