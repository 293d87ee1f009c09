"""Keys and roles: nothing but /healthz answers without a key with the right role."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from fengkong.api.auth import bootstrap_admin
from fengkong.cli.main import main
from fengkong.settings import Settings
from fengkong.storage.keys_sqlite import KeyStore
from tests.keys import ADMIN_KEY, AUTH
from tests.security.conftest import KeyMaker

RULES: dict[str, Any] = {
    "name": "allow-all",
    "rules": [{"name": "x", "when": "amount > 0", "action": "allow"}],
}


def _event(i: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"e{i}",
        "type": "payment",
        "user_id": "u1",
        "occurred_at": "2026-11-20T12:31:09+08:00",
        "amount": "38.50",
        **extra,
    }


def test_anonymous_publish_is_401(client: TestClient) -> None:
    r = client.post("/v1/rules/versions", json={"ruleset": RULES, "author": "x"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/rules/live", headers=AUTH).json()["version"] == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/events"),
        ("POST", "/v1/events/batch"),
        ("GET", "/v1/decisions/e1"),
        ("POST", "/v1/labels"),
        ("GET", "/metrics"),
        ("GET", "/v1/rules/versions"),
        ("POST", "/v1/rules/lists/x"),
        ("POST", "/v1/rules/freezes"),
        ("GET", "/v1/keys"),
        ("GET", "/v1/audit/checkpoint"),
    ],
)
def test_every_route_but_healthz_needs_a_key(client: TestClient, method: str, path: str) -> None:
    assert client.request(method, path, json={}).status_code == 401
    bad = {"Authorization": "Bearer fk_not-a-key-at-all-0000000000"}
    assert client.request(method, path, json={}, headers=bad).status_code == 401
    assert client.get("/healthz").status_code == 200


def test_label_without_labeler_is_403(client: TestClient, key_for: KeyMaker) -> None:
    ingest = key_for("ingest")
    assert client.post("/v1/events", json=_event(), headers=ingest).status_code == 200
    label = {
        "event_id": "e1",
        "label": "fraud",
        "source": "chargeback",
        "at": "2026-11-21T00:00:00Z",
    }
    assert client.post("/v1/labels", json=label, headers=ingest).status_code == 403
    labeler = key_for("labeler")
    assert client.post("/v1/labels", json=label, headers=labeler).status_code == 201
    assert client.post("/v1/events", json=_event(2), headers=labeler).status_code == 403


def test_ingest_keys_read_no_explanation_and_no_rules(
    client: TestClient, key_for: KeyMaker
) -> None:
    ingest = key_for("ingest")
    client.post("/v1/events", json=_event(), headers=ingest)
    assert client.get("/v1/decisions/e1?explain=true", headers=ingest).status_code == 403
    assert client.get("/v1/rules/versions/1", headers=ingest).status_code == 403
    assert client.get("/v1/rules/lists", headers=ingest).status_code == 403
    analyst = key_for("analyst")
    assert client.get("/v1/decisions/e1?explain=true", headers=analyst).status_code == 200
    assert client.get("/v1/rules/versions/1", headers=analyst).status_code == 200
    assert (
        client.post("/v1/rules/versions", json={"ruleset": RULES}, headers=analyst).status_code
        == 403
    )


def test_author_is_the_key_not_the_client_text(client: TestClient, key_for: KeyMaker) -> None:
    admin = key_for("rule_admin", name="bob")
    r = client.post(
        "/v1/rules/versions", json={"ruleset": RULES, "author": "mallory"}, headers=admin
    )
    assert r.status_code == 201
    author = r.json()["author"]
    assert author.startswith("bob (k_") and "mallory" not in author
    history = client.get("/v1/rules/history", headers=admin).json()
    assert history[0]["author"] == author
    freeze = {"kind": "user", "value": "u9", "reason": "r", "created_by": "mallory"}
    made = client.post("/v1/rules/freezes", json=freeze, headers=admin).json()
    assert made["created_by"] == author


def test_revoked_key_stops_working_and_keys_are_admin_only(
    client: TestClient, key_for: KeyMaker
) -> None:
    analyst = key_for("analyst")
    assert client.get("/v1/keys", headers=analyst).status_code == 403
    listed = client.get("/v1/keys", headers=AUTH).json()
    key_id = next(k["key_id"] for k in listed if k["name"] == "analyst")
    assert client.delete(f"/v1/keys/{key_id}", headers=AUTH).status_code == 200
    assert client.get("/v1/rules/versions", headers=analyst).status_code == 401


def test_only_the_hash_of_a_key_is_stored(client: TestClient, settings: Settings) -> None:
    made = client.post("/v1/keys", json={"name": "x", "roles": ["ingest"]}, headers=AUTH).json()
    raw = b"".join(p.read_bytes() for p in Path(settings.db_path).parent.iterdir() if p.is_file())
    assert ADMIN_KEY.encode() not in raw and made["key"].encode() not in raw


def test_first_start_creates_one_admin_key(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "k.db")
    key = bootstrap_admin(store, None)
    assert key is not None and key.startswith("fk_") and len(key) > 40
    assert store.check(key) is not None and "admin" in store.check(key).roles  # type: ignore[union-attr]
    assert bootstrap_admin(store, None) is None  # printed once: never again
    assert store.check("fk_" + "x" * 43) is None
    store.close()


def test_keys_cli_create_list_revoke(tmp_path: Path) -> None:
    runner = CliRunner()
    db = ["--db", str(tmp_path / "c.db")]
    made = runner.invoke(main, ["keys", "create", *db, "--name", "ana", "--role", "analyst"])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[-1]
    listed = runner.invoke(main, ["keys", "list", *db])
    assert "ana" in listed.output and "analyst" in listed.output and key not in listed.output
    key_id = listed.output.split()[0]
    assert runner.invoke(main, ["keys", "revoke", *db, key_id]).exit_code == 0
    assert "revoked" in runner.invoke(main, ["keys", "list", *db]).output
    assert runner.invoke(main, ["keys", "revoke", *db, key_id]).exit_code != 0
    bad = runner.invoke(main, ["keys", "create", *db, "--name", "x", "--role", "root"])
    assert bad.exit_code != 0
    rows = sqlite3.connect(tmp_path / "c.db").execute("SELECT hash FROM api_keys").fetchall()
    assert all(len(h) == 64 and key not in h for (h,) in rows)


def test_loopback_ingest_opens_events_only_and_only_on_loopback(settings: Settings) -> None:
    from fengkong.api.app import create_app

    settings.open_ingest_on_loopback = True
    app = create_app(settings)
    with TestClient(app, client=("127.0.0.1", 50000)) as local:
        assert local.post("/v1/events", json=_event()).status_code == 200
        label = {
            "event_id": "e1",
            "label": "fraud",
            "source": "chargeback",
            "at": "2026-11-21T00:00:00Z",
        }
        assert local.post("/v1/labels", json=label).status_code == 401
        assert local.get("/v1/decisions/e1").status_code == 401
    with TestClient(app, client=("10.0.0.5", 50000)) as remote:
        assert remote.post("/v1/events", json=_event(2)).status_code == 401


def test_auditors_verify_and_export_over_http(client: TestClient, key_for: KeyMaker) -> None:
    from fengkong.audit.verify_bundle import verify_bundle

    client.post("/v1/events", json=_event(), headers=AUTH)
    auditor = key_for("auditor")
    assert client.get("/v1/audit/verify", headers=key_for("analyst")).status_code == 403
    report = client.get("/v1/audit/verify", headers=auditor).json()
    assert report["ok"] is True and report["entries"] >= 4
    cp = client.get("/v1/audit/checkpoint", headers=auditor).json()
    bundle = client.get("/v1/audit/export", params={"user": "u1"}, headers=auditor)
    assert bundle.status_code == 200
    assert verify_bundle(bundle.content, cp["public_key"])["entries"] == 2


def test_serve_prints_the_generated_admin_key_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fengkong.cli.serve_cmd import _first_admin_key

    settings = Settings(db_path=tmp_path / "s.db", token_secret="t" * 32)
    _first_admin_key(settings)
    printed = capsys.readouterr().err
    key = printed.strip().splitlines()[-1].strip()
    assert key.startswith("fk_")
    store = KeyStore(settings.db_path)
    assert store.check(key) is not None
    store.close()
    _first_admin_key(settings)
    assert "fk_" not in capsys.readouterr().err
    assert (tmp_path / "s.db").stat().st_mode & 0o777 == 0o600


def test_checkpoints_are_published_outside_the_database(settings: Settings, tmp_path: Path) -> None:
    from fengkong.api.app import create_app
    from fengkong.audit.checkpoint import parse_verifier, verify_checkpoint

    settings.audit_publish_dir = tmp_path / "published"
    with TestClient(create_app(settings), headers=AUTH) as c:
        c.post("/v1/events", json=_event())
        key = c.get("/v1/audit/checkpoint").json()["public_key"]
    notes = sorted((tmp_path / "published").iterdir())
    assert notes, "no checkpoint published"
    cp = verify_checkpoint(notes[-1].read_text(), parse_verifier(key))
    assert cp.size >= 4


def test_list_changes_are_chained_with_the_key_that_made_them(
    client: TestClient, key_for: KeyMaker, settings: Settings
) -> None:

    admin = key_for("rule_admin", name="ops")
    client.post("/v1/rules/lists/w", json={"values": ["1.2.3.4"]}, headers=admin)
    client.post("/v1/rules/lists/w/remove", json={"values": ["1.2.3.4"]}, headers=admin)
    from fengkong.audit import log

    entries = [s.parsed() for s in log.entries(sqlite3.connect(settings.db_path))]
    changes = [(e["kind"], e["actor"].split()[0]) for e in entries if e["kind"].startswith("list")]
    assert changes == [("list_add", "ops"), ("list_remove", "ops")]


def test_a_cached_key_is_dropped_on_revoke_and_rechecked_after_its_time(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "k.db", cache_s=60.0)
    key, info = store.create("app", ("ingest",))
    assert store.check(key) == info
    other = KeyStore(tmp_path / "k.db")
    other.revoke(info.key_id)  # another process: the cached key is trusted for cache_s
    assert store.check(key) == info
    store.revoke(info.key_id)  # through this store: at once
    assert store.check(key) is None
    uncached = KeyStore(tmp_path / "k.db")
    key2, info2 = uncached.create("app2", ("ingest",))
    assert uncached.check(key2) == info2
    other.revoke(info2.key_id)
    assert uncached.check(key2) is None
    uncached.close()
    other.close()
    store.close()
