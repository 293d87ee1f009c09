"""The shared-list stage: point in time, expiry, key rotation, nothing when idle."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from fengkong.decisions.types import DecisionContext
from fengkong.events import parse_event
from fengkong.sharing import ConsortiumKeys, SharedListStage, SharingTokenizer, Vault, canonical

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC).timestamp()
DAY = 86_400


@dataclass(frozen=True)
class Row:
    member: str
    consortium_key: str
    kind: str
    digest: str
    last_seen: int
    confidence: float
    expires_at: int
    imported_at: float


class Rows:
    def __init__(self, rows: list[Row]) -> None:
        self.rows_ = rows

    def version(self) -> int:
        return len(self.rows_)

    def rows(self) -> Iterable[tuple[str, str, str, str, int, float, int, float]]:
        return [
            (
                r.member,
                r.consortium_key,
                r.kind,
                r.digest,
                r.last_seen,
                r.confidence,
                r.expires_at,
                r.imported_at,
            )
            for r in self.rows_
        ]


class MemoryVault:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, str]] = {}

    def remember(self, rows: list[tuple[str, str, str]]) -> None:
        for token, key, digest in rows:
            self.rows.setdefault(token, {})[key] = digest

    def hashes(self, tokens: Iterable[str]) -> dict[str, dict[str, str]]:
        return {t: self.rows[t] for t in tokens if t in self.rows}


def _ctx(at: float, device: str = "dev-farm-01", phone: str | None = None) -> DecisionContext:
    when = datetime.fromtimestamp(at, UTC).isoformat()
    body = {"event_id": "e", "type": "register", "user_id": "u", "occurred_at": when,
            "device": {"device_id": device}, "phone": phone}  # fmt: skip
    return DecisionContext(event=parse_event({k: v for k, v in body.items() if v is not None}))


def _row(keys: ConsortiumKeys, key_id: str, member: str = "bank-a", **kw: float) -> Row:
    digest = keys.digest(key_id, "device", canonical("device", "dev-farm-01"))
    return Row(member, key_id, "device", digest, int(kw.get("last", T0 - DAY)),
               kw.get("conf", 0.95), int(kw.get("expires", T0 + 30 * DAY)),
               kw.get("imported", T0 - 3600))  # fmt: skip


def test_nothing_is_written_when_nothing_is_imported() -> None:
    keys = ConsortiumKeys({"ck1": b"k" * 32})
    ctx = _ctx(T0)
    SharedListStage(Rows([]), keys).run(ctx)
    SharedListStage(None, ConsortiumKeys({})).run(ctx)
    assert ctx.features == {}


def test_a_reported_device_is_counted_per_kind_and_overall() -> None:
    keys = ConsortiumKeys({"ck1": b"k" * 32})
    rows = [_row(keys, "ck1"), _row(keys, "ck1", "bank-c", conf=0.6, last=T0 - 40 * DAY)]
    ctx = _ctx(T0)
    SharedListStage(Rows(rows), keys).run(ctx)
    f = ctx.features
    assert f["shared.device.members"] == 2 and f["shared.members"] == 2
    assert f["shared.device.reports_30d"] == 1  # bank-c last saw it 40 days ago
    assert f["shared.device.max_confidence"] == 0.95 and f["shared.phone.members"] == 0
    other = _ctx(T0, device="dev-honest-7")
    SharedListStage(Rows(rows), keys).run(other)
    assert other.features["shared.members"] == 0


def test_reports_count_from_import_until_expiry() -> None:
    keys = ConsortiumKeys({"ck1": b"k" * 32})
    stage = SharedListStage(Rows([_row(keys, "ck1", imported=T0, expires=T0 + DAY)]), keys)
    for at, members in ((T0 - 60, 0), (T0 + 60, 1), (T0 + DAY, 0)):
        ctx = _ctx(at)
        stage.run(ctx)
        assert ctx.features["shared.device.members"] == members, at


def test_bundles_under_the_old_key_still_match_after_a_rotation() -> None:
    keys = ConsortiumKeys({"ck1": b"k" * 32, "ck2": b"n" * 32}, current="ck2")
    rows = [_row(keys, "ck1", "bank-a"), _row(keys, "ck2", "bank-b")]
    ctx = _ctx(T0)
    SharedListStage(Rows(rows), keys).run(ctx)
    assert ctx.features["shared.device.members"] == 2


def test_a_phone_matches_through_the_edge_vault() -> None:
    keys = ConsortiumKeys({"ck1": b"k" * 32})
    vault = Vault(MemoryVault())
    tok = SharingTokenizer(b"member-own-secret-000", keys, vault)
    token = tok.token("phone", "+86 139 0000 0004")
    assert vault.lookup(token) == {"ck1": keys.digest("ck1", "phone", "+8613900000004")}
    row = Row("bank-a", "ck1", "phone", keys.digest("ck1", "phone", "+8613900000004"),
              int(T0 - DAY), 0.9, int(T0 + DAY), T0 - 60)  # fmt: skip
    ctx = _ctx(T0, device="dev-x-123456", phone=token)
    SharedListStage(Rows([row]), keys, vault).run(ctx)
    assert ctx.features["shared.phone.members"] == 1
    assert ctx.features["shared.device.members"] == 0


def test_a_server_reloads_in_the_background() -> None:
    keys = ConsortiumKeys({"ck1": b"k" * 32})
    rows = Rows([])
    stage = SharedListStage(rows, keys, background=True, refresh_s=0.0)
    stage.run(_ctx(T0))
    rows.rows_.append(_row(keys, "ck1"))
    deadline = 50
    while deadline and not stage.index:
        stage.run(_ctx(T0))
        deadline -= 1
        time.sleep(0.05)
    ctx = _ctx(T0)
    stage.run(ctx)
    assert ctx.features["shared.device.members"] == 1
    stage.close()
