"""Customer data at rest: the database file holds no phone, name, serial, IP or image in
clear; database and key files are 0600 and a wider one stops the start."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fengkong.cli.main import main
from fengkong.runtime import build_runtime
from fengkong.settings import Settings
from fengkong.storage.files import InsecureFile

PHONE = "13912345678"
ID_NUMBER = "110105199003071239"
NAME = "Zhang Wei Mule"
SERIAL = "SERIAL-R58M-77123"
IP = "198.51.100.23"
EMAIL = "zhang.wei@example.com"
IMAGE = b"\x89PNG\r\n\x1a\n" + b"forged-licence-pixels-0123456789" * 64
VOICE = b"RIFF-voice-sample-" * 64


def _events() -> list[dict[str, Any]]:
    base = {"occurred_at": "2026-11-20T12:31:09+08:00", "ip": IP, "phone": PHONE}
    return [
        {
            **base,
            "event_id": "t1",
            "type": "transfer",
            "user_id": "u1",
            "amount": "90000",
            "id_number": ID_NUMBER,
            "device": {
                "device_id": SERIAL,
                "fingerprint": {"platform": "android", "build_props": {"serial": SERIAL}},
            },
            "geo": {"lat": 31.2304, "lon": 121.4737},
            "counterparty": {"name": NAME, "account_id": "acct-5566"},
            "attributes": {"email": EMAIL, "channel": "app"},
        },
        {
            **base,
            "event_id": "d1",
            "type": "document_upload",
            "user_id": "u1",
            "document": {"kind": "business_license", "image_b64": base64.b64encode(IMAGE).decode()},
        },
        {
            **base,
            "event_id": "v1",
            "type": "voice_check",
            "user_id": "u1",
            "voice": {"audio_b64": base64.b64encode(VOICE).decode()},
        },
    ]


def _all_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.iterdir() if p.is_file())


def test_no_customer_data_in_clear_in_the_database_files(settings: Settings) -> None:
    rt = build_runtime(settings)
    for raw in _events():
        rt.engine.decide(raw)
    rt.close()
    raw = _all_bytes(Path(settings.db_path).parent)
    secrets = [PHONE, ID_NUMBER, NAME, SERIAL, IP, EMAIL, "acct-5566", "31.2304"]
    for secret in secrets:
        assert secret.encode() not in raw, secret
    for media in (IMAGE, VOICE):
        assert media[:40] not in raw
        assert base64.b64encode(media)[:40] not in raw
    assert b"channel" in raw  # attributes not configured as private stay readable


def test_the_engine_still_reads_what_it_stored(settings: Settings) -> None:
    rt = build_runtime(settings)
    rt.engine.decide(_events()[1])
    rt.close()
    stored = list(build_runtime(settings, rebuild=False).store.events())
    assert IP.encode() in stored[0]  # revealed for the pipeline, sealed in the file
    # After a restart the recycled image is still recognised from its digest alone.
    rt = build_runtime(settings)
    again = {**_events()[1], "event_id": "d2", "user_id": "u2"}
    rt.engine.decide(again)
    explain = rt.store.decision("d2")
    rt.close()
    assert explain is not None and b'"document.other_accounts_30d":1' in explain[1]


def test_media_can_be_retained_encrypted(settings: Settings) -> None:
    settings.retain_media = True
    rt = build_runtime(settings)
    rt.engine.decide(_events()[1])
    body = next(iter(rt.store.events()))
    rt.close()
    assert base64.b64encode(IMAGE)[:40] in body
    assert base64.b64encode(IMAGE)[:40] not in _all_bytes(Path(settings.db_path).parent)


def test_database_and_key_files_are_private(settings: Settings) -> None:
    rt = build_runtime(settings)
    rt.engine.decide(_events()[0])
    directory = Path(settings.db_path).parent
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in directory.iterdir()}
    rt.close()
    assert modes, modes
    assert {name for name in modes} >= {"fk.db", "fk.db-wal", "fk.db.field-key"}
    assert all(mode == 0o600 for mode in modes.values()), modes


def test_a_readable_database_or_key_stops_the_start(settings: Settings, tmp_path: Path) -> None:
    build_runtime(settings).close()
    for path in (Path(settings.db_path), Path(f"{settings.db_path}.field-key")):
        os.chmod(path, 0o644)
        with pytest.raises(InsecureFile, match="chmod 600"):
            build_runtime(settings)
        os.chmod(path, 0o600)
    os.chmod(settings.db_path, 0o640)
    r = CliRunner().invoke(main, ["keys", "list", "--db", str(settings.db_path)])
    assert r.exit_code != 0 and "chmod 600" in r.output
