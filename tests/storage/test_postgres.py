"""PostgreSQL store: migrations, audit chain, sealing, concurrent workers, duplicates."""

from __future__ import annotations

import threading

import psycopg
import pytest

from fengkong.audit import log
from fengkong.audit.records import row_digest
from fengkong.decisions.store import DuplicateRecord, LabelRecord, Stale
from fengkong.events.protect import FieldProtector
from fengkong.storage import GroupCommitter
from fengkong.storage.connect import SchemaTooNew
from fengkong.storage.pg import Qmark, migrate
from fengkong.storage.postgres import STEPS, PostgresStore
from tests.contract.test_store import rec
from tests.servers import pg_server, pg_url

__all__ = ["pg_server", "pg_url"]


def test_migrations_run_once_and_refuse_a_newer_schema(pg_url: str) -> None:
    PostgresStore(pg_url, pool_size=1).close()
    PostgresStore(pg_url, pool_size=1).close()  # a second open takes no step again
    with psycopg.connect(pg_url) as conn:
        (version,) = conn.execute(
            "SELECT version FROM schema_versions WHERE component = 'events'"
        ).fetchone() or (None,)
        assert version == len(STEPS)
        with pytest.raises(SchemaTooNew):
            migrate(conn, "events", STEPS[:1])


def test_the_audit_chain_covers_every_record(pg_url: str) -> None:
    store = PostgresStore(pg_url, pool_size=2)
    store.write([rec(1), rec(2)])
    store.add_labels([LabelRecord("e1", None, "fraud", "chargeback", 5.0)])
    store.add_labels([LabelRecord("e1", None, "fraud", "chargeback", 5.0)])  # a repeat
    with psycopg.connect(pg_url) as conn:
        entries = list(log.entries(Qmark(conn)))  # type: ignore[arg-type]
        head = log.GENESIS
        for stored in entries:
            head = log.chain_hash(head, stored.entry)
            assert head.hex() == stored.hash
        kinds = [e.parsed()["kind"] for e in entries]
        assert kinds == ["event", "decision", "event", "decision", "label"]
        row = conn.execute(
            "SELECT event_id, type, user_id, ts, body FROM events WHERE event_id = 'e2'"
        ).fetchone()
        assert row is not None
        assert entries[2].parsed()["digest"] == row_digest("event", tuple(row))
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("UPDATE audit_log SET kind = 'x'")
    assert store.audit_connection() is not None
    store.close()


def test_protected_fields_are_sealed_in_the_database(pg_url: str) -> None:
    protector = FieldProtector(b"k" * 32)
    store = PostgresStore(pg_url, protector=protector, pool_size=1)
    body = b'{"event_id":"e1","ip":"10.1.2.3","type":"payment"}'
    store.write([rec(1).__class__(**{**_fields(rec(1)), "event_json": body})])
    with psycopg.connect(pg_url) as conn:
        (raw,) = conn.execute("SELECT body FROM events").fetchone() or (b"",)
    assert b"10.1.2.3" not in bytes(raw)
    assert list(store.events()) == [protector.reveal(bytes(raw))]
    assert b"10.1.2.3" in next(iter(store.events()))
    store.close()


def _fields(r: object) -> dict[str, object]:
    return {k: getattr(r, k) for k in r.__slots__}  # type: ignore[attr-defined]


def test_two_workers_write_one_log_in_commit_order(pg_url: str) -> None:
    a, b = PostgresStore(pg_url, pool_size=2), PostgresStore(pg_url, pool_size=2)

    def work(store: PostgresStore, base: int) -> None:
        for i in range(40):
            store.write([rec(base + i)])

    threads = [threading.Thread(target=work, args=(s, n)) for s, n in ((a, 0), (b, 1000))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [seq for seq, _ in a.events_after(0)]
    assert len(seqs) == 80 and seqs == sorted(seqs)
    with psycopg.connect(pg_url) as conn:
        chain = list(log.entries(Qmark(conn)))  # type: ignore[arg-type]
    assert [s.seq for s in chain] == list(range(1, 161))
    a.close()
    b.close()


def test_a_duplicate_from_another_worker_fails_only_its_own_unit(pg_url: str) -> None:
    a, b = PostgresStore(pg_url, pool_size=1), PostgresStore(pg_url, pool_size=1)
    a.write([rec(2)])  # worker A stored e2 first
    committer = GroupCommitter(b)
    # Queued together: B's own e1, a retry of e2 that reached B too, then e3.
    done = [committer.submit([rec(i)]) for i in (1, 2, 3)]
    committer.flush()
    outcomes = [f.exception() for f in done]
    committer.close()
    assert outcomes[0] is None
    assert isinstance(outcomes[1], DuplicateRecord)
    # e3 was decided on a state that counted the failed unit: its owner decides again.
    assert outcomes[2] is None or isinstance(outcomes[2], Stale)
    stored = set(b.lookup(["e1", "e2", "e3"]))
    assert {"e1", "e2"} <= stored
    a.close()
    b.close()
