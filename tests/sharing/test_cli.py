"""``fengkong share``: export, import, list, revoke, public-key and leads from the CLI."""

from __future__ import annotations

import time
from pathlib import Path

from click.testing import CliRunner

from fengkong.cli.main import main
from fengkong.decisions.store import LabelRecord
from fengkong.runtime import build_runtime
from fengkong.settings import Settings
from tests.keys import ADMIN_KEY

SECRET = "consortium-secret-0123456789abcdef"


def _config(root: Path, member: str) -> Path:
    path = root / f"{member}.toml"
    path.write_text(
        f'db_path = "{root / member}.db"\ntoken_secret = "{member}-token-secret-0123456789"\n'
        f'bootstrap_key = "{ADMIN_KEY}"\n[sharing]\nmember = "{member}"\n'
        f'members_path = "{root / "members.toml"}"\nbundle_path = "{root / member}.bundle"\n'
        f'[sharing.consortium_keys]\nck1 = "{SECRET}"\n'
    )
    return path


def test_export_import_list_revoke(tmp_path: Path) -> None:
    run = CliRunner().invoke
    a, b = _config(tmp_path, "bank-a"), _config(tmp_path, "bank-b")
    keys = []
    for member, cfg in (("bank-a", a), ("bank-b", b)):
        out = run(main, ["share", "public-key", "--config", str(cfg)])
        assert out.exit_code == 0, out.output
        name, _, public = out.output.split()
        assert name == member
        keys.append(f'[[members]]\nid = "{member}"\nkeys = ["{public}"]\n')
    (tmp_path / "members.toml").write_text("".join(keys))

    rt = build_runtime(Settings.load(a))
    try:
        event = {
            "event_id": "e1",
            "type": "register",
            "user_id": "u1",
            "occurred_at": "2026-11-30T10:00:00+00:00",
            "device": {"device_id": "farm-device-42"},
            "phone": "13900001111",
        }
        rt.engine.decide(event)
        rt.store.add_labels([LabelRecord(None, "u1", "fraud", "chargeback", time.time())])
    finally:
        rt.close()

    out = run(main, ["share", "export", "--config", str(a)])
    assert out.exit_code == 0, out.output
    assert "2 entries (device 1, phone 1)" in out.output
    bundle = tmp_path / "bank-a.bundle"
    out = run(main, ["share", "import", str(bundle), "--config", str(b)])
    assert out.exit_code == 0 and "imported 2 entries of bank-a" in out.output, out.output
    out = run(main, ["share", "import", str(bundle), "--config", str(a)])
    assert out.exit_code == 1 and "our own bundle" in out.output
    bad = tmp_path / "bad.bundle"
    bad.write_bytes(bundle.read_bytes().replace(b"chargeback", b"analyst"))
    out = run(main, ["share", "import", str(bad), "--config", str(b)])
    assert out.exit_code == 1 and "bad signature" in out.output
    out = run(main, ["share", "list", "--config", str(b)])
    assert "bank-a" in out.output and "file:bank-a.bundle" in out.output
    out = run(main, ["share", "revoke", "--member", "bank-a", "--reason", "t", "--config", str(b)])
    assert out.exit_code == 0 and "2 entries dropped" in out.output


def test_a_police_lead_from_the_cli_verifies(tmp_path: Path) -> None:
    run = CliRunner().invoke
    a = _config(tmp_path, "bank-a")
    rt = build_runtime(Settings.load(a))
    try:
        for n in (1, 2):
            rt.engine.decide(
                {
                    "event_id": f"e{n}",
                    "type": "register",
                    "user_id": f"u{n}",
                    "occurred_at": "2026-11-30T10:00:00+00:00",
                    "device": {"device_id": "ring-device-1"},
                }
            )
    finally:
        rt.close()
    rings = tmp_path / "rings.json"
    rings.write_text('{"rings": [{"ring_id": "r1", "kind": "community", "score": 1.0,'
                     ' "members": ["u1", "u2"]}]}')  # fmt: skip
    lead = tmp_path / "lead.json"
    out = run(main, ["share", "lead", "--config", str(a), "--rings", str(rings),
                     "--ring", "r1", "--out", str(lead)])  # fmt: skip
    assert out.exit_code == 0, out.output
    key = out.output.split("--member-key ")[1].split()[0]
    out = run(main, ["share", "verify-lead", str(lead), "--member-key", key])
    assert out.exit_code == 0 and "2 accounts, 4 chain entries" in out.output, out.output
    assert b"ring-device-1" not in lead.read_bytes()  # device ids stay sealed
    lead.write_bytes(lead.read_bytes().replace(b"community", b"cOmmunity"))
    out = run(main, ["share", "verify-lead", str(lead), "--member-key", key])
    assert out.exit_code == 1 and "lead FAILED" in out.output
