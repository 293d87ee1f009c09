"""``fengkong db migrate --to postgresql://``: an embedded database moved to PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import psycopg
from click.testing import CliRunner

from fengkong.audit import log
from fengkong.cli.main import main
from fengkong.decisions.store import LabelRecord
from fengkong.storage import SQLiteStore
from fengkong.storage.pg import Qmark
from fengkong.storage.postgres import PostgresStore
from tests.contract.test_store import rec
from tests.servers import pg_server, pg_url

__all__ = ["pg_server", "pg_url"]


def _chain_ok(conn: psycopg.Connection) -> int:
    head = log.GENESIS
    n = 0
    for stored in log.entries(Qmark(conn)):  # type: ignore[arg-type]
        head = log.chain_hash(head, stored.entry)
        assert head.hex() == stored.hash, stored.seq
        n += 1
    return n


def test_the_log_moves_whole_and_goes_on(tmp_path: Path, pg_url: str) -> None:
    db = tmp_path / "fk.db"
    embedded = SQLiteStore(db)
    embedded.write([rec(1), rec(2)])
    embedded.write([rec(3)])
    embedded.add_labels([LabelRecord("e2", None, "fraud", "chargeback", 25.0)])
    embedded.set_meta("k", "v")
    before = list(embedded.events_after(0))
    embedded.close()

    result = CliRunner().invoke(main, ["db", "migrate", "--db", str(db), "--to", pg_url, "--quiet"])
    assert result.exit_code == 0, result.output
    assert '"events": 3' in result.output

    store = PostgresStore(pg_url, pool_size=1)
    assert list(store.events_after(0)) == before
    assert [x.label for x in store.labels()] == ["fraud"] and store.get_meta("k") == "v"
    assert sorted(store.lookup(["e1", "e2", "e3"])) == ["e1", "e2", "e3"]
    store.write([rec(4)])  # the log and the chain go on after the copied ones
    assert store.last_seq() == before[-1][0] + 1
    with psycopg.connect(pg_url) as conn:
        assert _chain_ok(conn) == 3 * 2 + 1 + 2
    store.close()

    again = CliRunner().invoke(main, ["db", "migrate", "--db", str(db), "--to", pg_url, "--quiet"])
    assert again.exit_code != 0 and "already holds" in again.output


def test_a_url_that_is_not_postgres_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "fk.db"
    SQLiteStore(db).close()
    result = CliRunner().invoke(main, ["db", "migrate", "--db", str(db), "--to", "mysql://x"])
    assert result.exit_code == 2 and "--to" in result.output


def test_rules_keys_models_and_cases_move_too(tmp_path: Path, pg_url: str) -> None:
    from fengkong.audit.verify import verify_database
    from fengkong.rules import default_ruleset
    from fengkong.runtime import default_rule_names
    from fengkong.storage.cases_sqlite import CaseStore
    from fengkong.storage.keys_sqlite import KeyStore
    from fengkong.storage.models_sqlite import SQLiteModelStore
    from fengkong.storage.rules_sqlite import SQLiteRuleStore
    from fengkong.storage.sql import open_db
    from tests.cases.test_cases import _record

    db = tmp_path / "fk.db"
    embedded = SQLiteStore(db)
    rules = SQLiteRuleStore(db, default_rule_names())
    rules.publish(default_ruleset(), author="t")
    rules.add_to_list("bad_ips", ["6.6.6.6"])
    key, info = KeyStore(db).create("ops", ("admin",))
    models = SQLiteModelStore(db, tmp_path / "models")
    models.add(1, "fraud", "d", {})
    models.set_role("champion", 1, author="t", action="promote")
    embedded.write([_record("e1", "u1", "review")])
    for s in (embedded, rules, models):
        s.close()

    result = CliRunner().invoke(main, ["db", "migrate", "--db", str(db), "--to", pg_url, "--quiet"])
    assert result.exit_code == 0, result.output

    moved = SQLiteRuleStore(pg_url, default_rule_names())
    assert moved.live_version() is not None and moved.list_names() == {"bad_ips": 1}
    moved.publish(default_ruleset(), author="t")  # the live log goes on after the copy
    assert [h["seq"] for h in moved.history()] == [2, 1]
    assert KeyStore(pg_url).check(key) == info
    assert SQLiteModelStore(pg_url, tmp_path / "models").role("champion") == 1
    (case,) = CaseStore(pg_url).queue()
    assert case.subject == "u1"
    assert [i.name for i in CaseStore(pg_url).inboxes()][-1] == "general"
    report = verify_database(open_db(pg_url))
    assert report.ok, report.problems[:3]
