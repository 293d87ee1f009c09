"""The small stores on PostgreSQL: keys, models' metadata, audit checkpoints and verify,
challenges, voiceprints, and the change feed woken by LISTEN/NOTIFY.

Each runs on the file too (its own tests); here the same calls run on a fresh
PostgreSQL database, beside the event store, with one audit chain for everything.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest

from fengkong.audit.checkpoint import load_signer
from fengkong.audit.trail import AuditTrail
from fengkong.audit.verify import verify_database
from fengkong.decisions.store import LabelRecord
from fengkong.identity.challenges import ChallengeRow
from fengkong.rules import default_ruleset
from fengkong.runtime import default_rule_names
from fengkong.storage.challenges_sqlite import SQLiteChallengeStore
from fengkong.storage.changes import PgChangeFeed
from fengkong.storage.keys_sqlite import KeyStore
from fengkong.storage.models_sqlite import SQLiteModelStore
from fengkong.storage.postgres import PostgresStore
from fengkong.storage.rules_sqlite import SQLiteRuleStore
from fengkong.storage.sql import open_db, release_pool, shared_pool
from fengkong.storage.voiceprints_sqlite import SQLiteVoiceprintStore
from tests.contract.test_store import rec
from tests.servers import pg_server, pg_url

__all__ = ["pg_server", "pg_url"]


def test_keys_on_postgres(pg_url: str) -> None:
    keys = KeyStore(pg_url)
    assert keys.empty()
    key, info = keys.create("ops", ("admin",), actor="t")
    with pytest.raises(ValueError, match="already exists"):
        keys.create("again", ("analyst",), key=key)
    other = KeyStore(pg_url)  # another worker
    assert other.check(key) == info and other.check(key + "x") is None
    assert keys.revoke(info.key_id, actor="t") and not keys.revoke(info.key_id)
    assert other.check(key) is None
    assert [k.key_id for k in other.listing()] == [info.key_id]
    keys.close()
    other.close()


def test_models_metadata_on_postgres(pg_url: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="model directory"):
        SQLiteModelStore(pg_url)
    models = SQLiteModelStore(pg_url, tmp_path / "models")
    v = models.next_version()
    models.add(v, "fraud", "d1", {"features": ["a"]})
    models.set_role("champion", v, author="t", action="promote")
    other = SQLiteModelStore(pg_url, tmp_path / "models")
    assert other.role("champion") == v and other.get(v).meta == {"features": ["a"]}
    assert other.next_version() == v + 1
    with (
        psycopg.connect(pg_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.RaiseException, match="immutable"),
    ):
        conn.execute("UPDATE models_versions SET digest = 'x'")
    assert [h["action"] for h in other.history("champion")] == ["promote"]
    models.close()
    other.close()


def test_one_chain_for_events_rules_keys_and_checkpoints(pg_url: str, tmp_path: Path) -> None:
    store = PostgresStore(pg_url, pool_size=2)
    rules = SQLiteRuleStore(pg_url, default_rule_names())
    keys = KeyStore(pg_url)
    store.write([rec(1), rec(2)])
    rules.publish(default_ruleset(), author="t")
    rules.add_to_list("bad_ips", ["6.6.6.6"])
    rules.freeze("user", "u9", "block", "stolen")
    keys.create("ops", ("admin",))
    store.add_labels([LabelRecord("e1", None, "fraud", "chargeback", 5.0)])
    signer = load_signer(tmp_path / "audit-key", "test")
    trail = AuditTrail(open_db(pg_url), signer)
    trail.record_read("e1", user="u1", actor="analyst", data={"why": "test"})
    note = trail.checkpoint()
    assert note is not None and trail.latest_checkpoint() == note
    with trail.reader() as conn:
        report = verify_database(conn, signer.verifier)
    assert report.ok, report.problems[:3]
    assert report.entries >= 9 and report.checkpoints == 1
    bundle = trail.export("u1")
    assert bundle is not None and bundle["items"]
    # Removing a list entry behind the chain's back is found.
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM rules_list_entries")
    with trail.reader() as conn:
        assert not verify_database(conn, signer.verifier).ok
    for s in (trail, keys, rules, store):
        s.close()


def test_challenges_and_voiceprints_on_postgres(pg_url: str) -> None:
    store = SQLiteChallengeStore(pg_url)
    row = ChallengeRow(
        "c1", "e1", "u1", "dk", "1.2.3.4", "otp", "sms", "h", 0, 3, 1.0, 100.0, "pending"
    )
    store.put(row)
    other = SQLiteChallengeStore(pg_url)  # another worker
    assert other.get("c1") == row
    tries: list[int | None] = []
    threads = [
        threading.Thread(target=lambda s=s: tries.append(s.count_attempt("c1", 3)))
        for s in (store, other) * 3
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(x for x in tries if x is not None) == [1, 2, 3] and tries.count(None) == 3
    assert store.resolve("c1", "passed", "allow", 5.0) and not other.resolve("c1", "x", "y", 6)
    assert [r.challenge_id for r in other.resolved_since(0)] == ["c1"]
    store.bind("u1", "dk", 1.0)
    store.bind("u1", "dk", 2.0)
    assert list(other.bindings()) == [("u1", "dk", 1.0)]
    store.set_totp("u1", "secret", 1.0)
    assert other.use_totp_step("u1", 7) and not store.use_totp_step("u1", 7)
    voices = SQLiteVoiceprintStore(pg_url)
    emb = np.arange(4, dtype=np.float32)
    assert voices.add("e1", "u1", "m", emb, 1.0) and not voices.add("e1", "u1", "m", emb, 2.0)
    ((user, event, got),) = list(SQLiteVoiceprintStore(pg_url).load("m"))
    assert (user, event) == ("u1", "e1") and np.array_equal(got, emb)
    for s in (store, other, voices):
        s.close()


def test_one_pool_per_url(pg_url: str) -> None:
    a = shared_pool(pg_url)
    b = shared_pool(pg_url)
    assert a is b
    release_pool(pg_url)
    assert not a.closed
    release_pool(pg_url)
    assert a.closed


def test_the_change_feed_is_woken_by_notify(pg_url: str) -> None:
    rules = SQLiteRuleStore(pg_url, default_rule_names())
    models = SQLiteModelStore(pg_url, Path("unused"))
    feed = PgChangeFeed(pg_url, interval_s=3600)  # no poll: only a notification helps
    before = feed.version("rules"), feed.version("models")
    other = SQLiteRuleStore(pg_url, default_rule_names())  # another worker writes
    other.publish(default_ruleset(), author="t")
    deadline = time.monotonic() + 10
    while feed.version("rules") == before[0] and time.monotonic() < deadline:
        time.sleep(0.005)
    assert feed.version("rules") > before[0] and feed.notified >= 1
    assert feed.version("models") == before[1]
    models.set_role("champion", None, author="t", action="retire")
    deadline = time.monotonic() + 10
    while feed.version("models") == before[1] and time.monotonic() < deadline:
        time.sleep(0.005)
    assert feed.version("models") == before[1] + 1
    for s in (feed, other, rules, models):
        s.close()


def test_consortium_lists_and_the_vault_on_postgres(pg_url: str) -> None:
    from fengkong.storage.sharing_sqlite import ImportRefused, SharingStore
    from tests.sharing.test_store import NOW, _bundle

    store, other = SharingStore(pg_url), SharingStore(pg_url)
    seen = [other.version()]
    assert store.import_bundle(_bundle("a", 10, ["11" * 16, "22" * 16]), via="t", now=NOW)
    assert not other.import_bundle(_bundle("a", 10, ["11" * 16, "22" * 16]), via="t", now=NOW)
    assert store.import_bundle(_bundle("a", 20, ["33" * 16]), via="t", now=NOW)
    seen.append(other.version())
    assert [(e.member, e.digest) for e in other.entries()] == [("a", "33" * 16)]
    with pytest.raises(ImportRefused, match="not newer"):
        other.import_bundle(_bundle("a", 15, ["22" * 16]), via="t", now=NOW)
    assert other.revoke("a", "poisoning") == 1 and store.revoked() == ["a"]
    seen.append(store.version())
    assert seen == sorted(set(seen))
    assert [b["member"] for b in store.bundles()] == ["a", "a"]
    store.remember([("tk_1", "ck1", "aa"), ("tk_1", "ck2", "bb")])
    other.remember([("tk_1", "ck1", "aa")])
    assert other.hashes(["tk_1", "tk_2"]) == {"tk_1": {"ck1": "aa", "ck2": "bb"}}
    report = verify_database(open_db(pg_url))
    assert report.ok, report.problems[:3]
    store.close()
    other.close()
