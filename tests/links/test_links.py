from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fengkong.decisions import DecisionContext
from fengkong.events import Event
from fengkong.links import analyse_link
from fengkong.links.stage import LinksStage


@pytest.mark.parametrize(
    "url",
    [
        "https://alipay-refund.example-help.com/pay?id=88",  # brand in a foreign domain
        "http://a1ipay-kefu.top/refund",  # look-alike spelling, cheap TLD, lure words
        "https://" + "ạlipay-help.com".encode("idna").decode() + "/x",  # punycode look-alike
        "http://103.21.4.9/login/verify",  # raw IP host with lure words
        "https://www.icbc.com.cn@evil.example.xyz/secure",  # user@host trick
    ],
)
def test_phishing_addresses_are_high_risk(url: str) -> None:
    assert analyse_link(url)["link.risk"] >= 0.6


@pytest.mark.parametrize(
    "url",
    [
        "https://qr.alipay.com/bax01234",
        "https://shop123.taobao.com/item?id=5",
        "https://www.meituan.com/",
        "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=1",
        "alipays://platformapi/startapp?appId=20000067",
        "https://example.com/menu",
    ],
)
def test_ordinary_codes_are_low_risk(url: str) -> None:
    assert analyse_link(url)["link.risk"] < 0.2


def test_brand_owned_domains_are_official_not_impersonation() -> None:
    facts = analyse_link("https://render.alipay.com/p/f/refund")
    assert facts["link.is_official"] is True
    assert facts["link.impersonates_brand"] is False
    assert facts["link.risk"] == 0.0


def test_shortener_and_personal_collection_codes() -> None:
    assert analyse_link("https://t.cn/A6xYz")["link.is_shortener"] is True
    assert analyse_link("wxp://f2f0abcdef")["link.is_personal_collection"] is True
    assert analyse_link("https://qr.alipay.com/fkx12345")["link.is_personal_collection"] is True


def test_plain_text_is_not_a_url() -> None:
    facts = analyse_link("你好，扫码领红包")
    assert facts["link.is_url"] is False
    assert facts["link.risk"] == 0.0


def _event(i: int, minutes: float, **extra: Any) -> Event:
    at = datetime(2026, 11, 20, 8, tzinfo=UTC) + timedelta(minutes=minutes)
    return Event.model_validate(
        {"event_id": f"e{i}", "user_id": "victim", "occurred_at": at.isoformat(), **extra}
    )


def test_stage_remembers_a_risky_scan_for_the_money_that_follows() -> None:
    stage = LinksStage(memory_s=3600)
    scan = DecisionContext(
        _event(1, 0, type="qr_scan", qr={"payload": "https://alipay-refund.example-help.com/p"})
    )
    stage.run(scan)
    assert scan.facts["link.impersonates_brand"] is True
    assert scan.features["user.secs_since_risky_qr"] is None
    pay = DecisionContext(_event(2, 5, type="transfer", amount=800))
    stage.run(pay)
    assert pay.features["user.secs_since_risky_qr"] == 300.0
    late = DecisionContext(_event(3, 120, type="transfer", amount=800))
    stage.run(late)
    assert late.features["user.secs_since_risky_qr"] is None


def test_a_shortened_code_is_remembered_as_suspicious_a_brand_code_not_at_all() -> None:
    stage = LinksStage()
    short = DecisionContext(_event(1, 0, type="qr_scan", qr={"payload": "https://t.cn/A6x9Kp2"}))
    stage.run(short)
    pay = DecisionContext(_event(2, 2, type="payment", amount=900, merchant_id="m-new"))
    stage.run(pay)
    # A shortener hides the page: suspicious (risk 0.2), not risky (0.5).
    assert pay.features["user.secs_since_suspicious_qr"] == 120.0
    assert pay.features["user.secs_since_risky_qr"] is None
    other = LinksStage()
    brand = _event(3, 0, type="qr_scan", qr={"payload": "https://qr.alipay.com/fkx1a2b3c4d5e6f7"})
    other.run(DecisionContext(brand))
    after = DecisionContext(_event(4, 2, type="transfer", amount=900))
    other.run(after)
    assert after.features["user.secs_since_suspicious_qr"] is None


def test_a_snapshot_from_before_the_suspicious_memory_still_loads() -> None:
    from fengkong.decisions.state import dump_state

    stage = LinksStage()
    stage.restore(dump_state("links", {"victim": _event(1, 0, type="login").ts}))
    ctx = DecisionContext(_event(2, 1, type="login"))
    stage.run(ctx)
    assert ctx.features["user.secs_since_risky_qr"] == 60.0
    assert ctx.features["user.secs_since_suspicious_qr"] is None


def test_stage_state_rebuilds_and_expires() -> None:
    online, rebuilt = LinksStage(), LinksStage()
    scan = _event(1, 0, type="qr_scan", qr={"payload": "http://1.2.3.4/refund"})
    online.run(DecisionContext(scan))
    rebuilt.observe(scan)
    a, b = DecisionContext(_event(2, 1, type="login")), DecisionContext(_event(2, 1, type="login"))
    online.run(a)
    rebuilt.run(b)
    assert a.features == b.features
    assert a.features == {"user.secs_since_risky_qr": 60.0, "user.secs_since_suspicious_qr": 60.0}
    online.maintain(scan.ts + 10 * 86_400)
    c = DecisionContext(_event(3, 2, type="login"))
    online.run(c)
    assert c.features["user.secs_since_risky_qr"] is None


def test_reserved_documentation_domains_stand_for_the_brand_itself() -> None:
    # Simulations and docs write a brand's own site as ``brand.example`` (RFC 2606).
    assert analyse_link("https://qr.alipay.example/c/m123")["link.is_official"] is True
    assert analyse_link("https://qr.alipay.example/c/m123")["link.risk"] == 0.0
    assert analyse_link("https://alipay-help.example/refund")["link.impersonates_brand"] is True


def _paid_through(stage: LinksStage, user: str, day: float, amount: str) -> DecisionContext:
    """``user`` scans the lure code on ``day`` and transfers ``amount`` a minute later."""
    at = datetime(2026, 11, 20, 8, tzinfo=UTC) + timedelta(days=day)
    lure = "https://qr.alipay.com/fkx1lure000001"

    def event(kind: str, offset: int, **extra: Any) -> Event:
        when = (at + timedelta(seconds=offset)).isoformat()
        fields = {"event_id": f"{user}-{day}-{kind}", "type": kind, "user_id": user}
        return Event.model_validate({**fields, "occurred_at": when, **extra})

    scan = DecisionContext(event("qr_scan", 0, qr={"payload": lure}))
    stage.run(scan)
    cp = {"account_id": "collector"}
    stage.run(
        DecisionContext(
            event("transfer", 60, amount=amount, context={"entry": "qr"}, counterparty=cp)
        )
    )
    return scan


def test_a_code_counts_the_other_accounts_that_paid_it_large_sums_this_week() -> None:
    stage = LinksStage()

    def payers(user: str, day: float, amount: str, on: LinksStage = stage) -> Any:
        return _paid_through(on, user, day, amount).features["qr.code_large_payers_7d"]

    assert payers("v1", 0, "3000") == 0
    assert payers("v2", 1, "120") == 1
    # v2's small payment does not count; v1's does, but not on v1's own scan.
    assert payers("v3", 2, "900") == 1
    assert payers("v1", 3, "50") == 1
    assert payers("v4", 4, "700") == 2
    # Past the week of v1's and v3's payments only v4's is left; a snapshot keeps it.
    later = LinksStage()
    later.restore(stage.snapshot())
    assert payers("v5", 9.5, "10", later) == 1
    later.maintain(datetime(2026, 11, 20, 8, tzinfo=UTC).timestamp() + 12 * 86_400)
    assert payers("v6", 12, "10", later) == 0
