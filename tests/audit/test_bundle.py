"""Evidence bundles: verified offline by one command, refused after any changed byte."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from fengkong.audit.verify_bundle import BundleInvalid, verify_bundle
from fengkong.cli.main import main
from fengkong.runtime import build_runtime
from fengkong.settings import Settings

ENV = {"FENGKONG_TOKEN_SECRET": "bundle-test-secret-0123456789"}


def _store(tmp_path: Path) -> Path:
    settings = Settings(db_path=tmp_path / "b.db", token_secret=ENV["FENGKONG_TOKEN_SECRET"])
    rt = build_runtime(settings)
    for i in range(6):
        rt.engine.decide(
            {
                "event_id": f"e{i}",
                "type": "transfer",
                "user_id": f"u{i % 3}",
                "occurred_at": f"2026-11-20T12:0{i}:00+08:00",
                "amount": "900",
            }
        )
    rt.close()
    return settings.db_path


def test_export_then_verify_offline_with_the_published_key(tmp_path: Path) -> None:
    db = _store(tmp_path)
    runner = CliRunner()
    key = runner.invoke(main, ["audit", "public-key", "--db", str(db)], env=ENV).output.strip()
    out = tmp_path / "evidence" / "u1.json"
    out.parent.mkdir()
    r = runner.invoke(
        main, ["audit", "export", "--db", str(db), "--user", "u1", "--out", str(out)], env=ENV
    )
    assert r.exit_code == 0, r.output
    assert "4 entries for u1" in r.output  # two events, two decisions
    assert "Evidence bundle for user u1" in out.with_suffix(".html").read_text()
    # The third party: a copy of the bundle, no database, one command.
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "u1.json").write_bytes(out.read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith("FENGKONG_")}
    done = subprocess.run(
        [sys.executable, "-m", "fengkong.audit.verify_bundle", "u1.json", "--key", key],
        cwd=alone,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "OK: 4 entries about 'u1'" in done.stdout
    assert list(alone.iterdir()) == [alone / "u1.json"]


def test_any_changed_byte_is_refused(tmp_path: Path) -> None:
    db = _store(tmp_path)
    out = tmp_path / "u0.json"
    runner = CliRunner()
    r = runner.invoke(
        main, ["audit", "export", "--db", str(db), "--user", "u0", "--out", str(out)], env=ENV
    )
    assert r.exit_code == 0, r.output
    raw = out.read_bytes()
    key = runner.invoke(main, ["audit", "public-key", "--db", str(db)], env=ENV).output.strip()
    assert verify_bundle(raw, key)["entries"] == 4
    refused = 0
    step = max(1, len(raw) // 1500)
    positions = range(0, len(raw), step)
    for pos in positions:
        for delta in (1, 0x20):
            changed = bytearray(raw)
            changed[pos] = (changed[pos] + delta) % 256
            try:
                verify_bundle(bytes(changed), key)
            except BundleInvalid:
                refused += 1
    assert refused == 2 * len(positions)
    # Removing an entry, or the whole file's tail, is refused too.
    for cut in (raw[:-1], raw[: len(raw) // 2]):
        try:
            verify_bundle(cut, key)
        except BundleInvalid:
            refused += 1
    assert refused == 2 * len(positions) + 2


def test_a_bundle_signed_by_another_key_is_refused(tmp_path: Path) -> None:
    db = _store(tmp_path)
    out = tmp_path / "u2.json"
    runner = CliRunner()
    runner.invoke(
        main, ["audit", "export", "--db", str(db), "--user", "u2", "--out", str(out)], env=ENV
    )
    other = tmp_path / "other"
    other.mkdir()
    key = runner.invoke(
        main, ["audit", "public-key", "--db", str(other / "x.db")], env=ENV
    ).output.strip()
    r = runner.invoke(main, ["audit", "verify-bundle", str(out), "--key", key])
    assert r.exit_code == 1
