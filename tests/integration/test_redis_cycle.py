"""One Redis cycle per event for every stage on Redis (features, flows, document reuse):
one fetch and one write per decision (the write once the decision is committed), and
between two workers deciding at the same instant no update lost (the versions) and no
event added twice (the claim), across all those stages at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from fengkong.decisions import DecisionContext
from fengkong.events import Event, parse_event
from fengkong.runtime import Runtime, build_runtime
from fengkong.settings import Settings
from tests.servers import redis_session, redis_url

__all__ = ["redis_session", "redis_url"]

SECRET = "redis-cycle-secret-012345"


def _raw_transfer(n: int, sender: str, payee: str) -> dict[str, Any]:
    return {"event_id": f"t{n}", "type": "transfer", "user_id": sender, "amount": "250",
            "occurred_at": f"2026-11-20T10:{n:02d}:00+08:00", "device": {"device_id": "d-x"},
            "counterparty": {"account_id": payee}}  # fmt: skip


def _transfer(n: int, sender: str, payee: str) -> Event:
    return parse_event(_raw_transfer(n, sender, payee))


def _upload(n: int, user: str, image: str) -> Event:
    return parse_event(
        {"event_id": f"d{n}", "type": "document_upload", "user_id": user,
         "occurred_at": f"2026-11-20T11:{n:02d}:00+08:00",
         "document": {"kind": "id_card", "image_b64": image}}
    )  # fmt: skip


@pytest.fixture()
def workers(tmp_path: Path, redis_url: str) -> Iterator[list[Runtime]]:
    """Two workers: their own files, one Redis."""
    out = []
    for n in range(2):
        settings = Settings(
            db_path=tmp_path / f"w{n}.db",
            token_secret=SECRET,
            snapshots=False,
            state={"backend": "redis", "redis_url": redis_url},  # type: ignore[arg-type]
        )
        out.append(build_runtime(settings))
    yield out
    for rt in out:
        rt.close()


def _cycle(rt: Runtime) -> Any:
    cycles = {id(c): c for s in rt.engine.pipeline.stages if (c := getattr(s, "cycle", None))}
    assert len(cycles) == 1  # features, flows and documents share one
    return next(iter(cycles.values()))


def _at_once(first: Runtime, one: Event, second: Runtime, two: Event) -> None:
    """Both workers read their event's states before either writes them back."""
    _, ctx_one = first.engine.pipeline.decide(one)
    _, ctx_two = second.engine.pipeline.decide(two)
    held_one = first.engine.pipeline.apply(ctx_one)
    held_two = second.engine.pipeline.apply(ctx_two)
    first.engine.pipeline.publish(held_one)
    second.engine.pipeline.publish(held_two)


def _run(rt: Runtime, event: Event) -> DecisionContext:
    _, ctx = rt.engine.pipeline.evaluate(event)
    return ctx


def test_every_stage_on_redis_costs_one_fetch_and_one_write_per_event(
    workers: list[Runtime],
) -> None:
    rt = workers[0]
    cycle = _cycle(rt)
    stages = {s.name for s in rt.engine.pipeline.stages if getattr(s, "cycle", None)}
    assert stages == {"features", "flows", "documents"}
    for event in (_transfer(1, "x", "mule"), _upload(1, "u1", "fp:img1"), _transfer(2, "y", "m2")):
        before = cycle.round_trips
        _run(rt, event)
        assert cycle.round_trips - before == 2, event.event_id
    written = {k.decode().rsplit(":", 1)[0] for k in cycle.client.scan_iter(match="fk:*")}
    # Feature, flow and document states were all written (with the one claim per event).
    assert {"fk:f:user", "fk:s:flows:inflow", "fk:s:documents:image", "fk:seen"} <= written
    # In a unit each event reads the ones before it from the held states, and the unit
    # is written once committed: n + 1 round trips.
    before = cycle.round_trips
    unit = [_raw_transfer(10 + n, f"s{n}", "mule") for n in range(5)]  # no circle yet
    answers = rt.engine.decide_many([rt.engine.accept(e) for e in unit])
    assert cycle.round_trips - before == len(unit) + 1 and cycle.conflicts == 0
    # ... and they were current: the last saw x and the four senders before it.
    stored = rt.store.decision(answers[-1]["event_id"])
    assert stored is not None
    assert orjson.loads(stored[1])["features"]["cp_account.senders_24h"] == 5


def test_concurrent_events_of_one_entity_lose_no_update_in_any_stage(
    workers: list[Runtime],
) -> None:
    a, b = workers
    _at_once(a, _transfer(1, "x", "mule"), b, _transfer(2, "y", "mule"))
    _at_once(a, _upload(1, "u1", "fp:img1"), b, _upload(2, "u2", "fp:img1"))
    assert _cycle(b).conflicts == 2  # B's write was refused each time, then redone
    probe = _run(a, _transfer(3, "z", "mule"))
    assert probe.features["cp_account.senders_24h"] == 2  # features: x and y
    probe = _run(b, _transfer(4, "mule", "out"))
    assert probe.features["user.received_transfers_24h"] == 3  # flows: x, y and z
    probe = _run(a, _upload(3, "u3", "fp:img1"))
    assert probe.features["document.other_accounts_30d"] == 2  # reuse: u1 and u2


def test_a_duplicate_decided_by_two_workers_at_once_is_added_once_in_every_stage(
    workers: list[Runtime],
) -> None:
    a, b = workers
    _at_once(a, _transfer(1, "x", "mule"), b, _transfer(1, "x", "mule"))
    _at_once(a, _upload(1, "u1", "fp:img1"), b, _upload(1, "u1", "fp:img1"))
    assert _cycle(b).duplicates == 2 and _cycle(b).conflicts == 0
    probe = _run(a, _transfer(2, "x", "other"))
    assert probe.features["user.events_10m"] == 1  # features: x's first event, once
    probe = _run(b, _transfer(3, "mule", "out"))
    assert probe.features["user.received_transfers_24h"] == 1  # flows: once, not twice
    probe = _run(b, _upload(2, "u2", "fp:img1"))
    assert probe.features["document.other_accounts_30d"] == 1


def test_a_write_refused_with_the_next_event_fetched_behind_it_loses_nothing(
    workers: list[Runtime],
) -> None:
    a, b = workers
    _, ctx = a.engine.pipeline.decide(_transfer(1, "x", "mule"))
    for entry in a.engine.pipeline.apply(ctx):
        entry.committed = True  # committed: written with the next event's fetch
    _run(b, _transfer(2, "y", "mule"))  # B moves the mule's states meanwhile
    # z's fetch rides behind x's write: refused, x applied again on B's states, then
    # written; what was read behind the refused write is not kept.
    probe = _run(a, _transfer(3, "z", "mule"))
    assert _cycle(a).conflicts == 1
    assert probe.features["cp_account.senders_24h"] == 2  # x and y
    probe = _run(b, _transfer(4, "mule", "out"))
    assert probe.features["user.received_transfers_24h"] == 3


def test_scripts_flushed_from_redis_are_loaded_again(workers: list[Runtime]) -> None:
    rt = workers[0]
    unit = [_raw_transfer(n, f"s{n}", "mule") for n in range(3)]
    rt.engine.decide_many([rt.engine.accept(e) for e in unit])
    _cycle(rt).client.script_flush()  # a restarted Redis has no scripts
    more = [_raw_transfer(n, f"s{n}", "mule") for n in range(3, 6)]
    answers = rt.engine.decide_many([rt.engine.accept(e) for e in more])
    stored = rt.store.decision(answers[-1]["event_id"])
    assert stored is not None
    assert orjson.loads(stored[1])["features"]["cp_account.senders_24h"] == 5
