"""``Runtime.close`` closes every connection it opened on the SQLite file.

SQLite checkpoints the write-ahead log into the file and deletes ``<db>-wal`` when its
last connection closes cleanly: a ``-wal`` left behind means some store's connection
(once the models' registries of the models and credit stages) stayed open.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fengkong.runtime import build_runtime
from fengkong.settings import Settings
from tests.keys import ADMIN_KEY


@pytest.mark.parametrize("server", [False, True], ids=["replay", "server"])
def test_close_leaves_no_wal_behind(tmp_path: Path, server: bool) -> None:
    db = tmp_path / "fk.db"
    settings = Settings(db_path=db, token_secret="close-test-secret", bootstrap_key=ADMIN_KEY)
    rt = build_runtime(settings, server=server)
    for i in range(5):
        event = {
            "event_id": f"c{i}",
            "type": "payment",
            "user_id": f"u{i % 2}",
            "occurred_at": f"2026-11-20T10:0{i}:00+08:00",
            "amount": str(10 + i),
        }
        rt.engine.decide(event)
    wal = db.with_name(f"{db.name}-wal")
    assert wal.exists()  # the test means something: the stores wrote through the log
    rt.close()
    assert not wal.exists()
