from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fengkong.events import EventType, EventValidationError, parse_event, parse_label


def _base(**extra: Any) -> dict[str, Any]:
    return {
        "event_id": "e-1",
        "type": "login",
        "user_id": "u-1",
        "occurred_at": "2026-11-20T09:15:40+08:00",
        **extra,
    }


def _fields(exc: pytest.ExceptionInfo[EventValidationError]) -> list[str]:
    return [e.path for e in exc.value.errors]


def test_every_example_event_parses(examples: list[dict[str, Any]]) -> None:
    types = {parse_event(raw).type for raw in examples}
    assert types == set(EventType)


def test_timestamp_is_normalised_to_utc() -> None:
    event = parse_event(_base())
    assert event.occurred_at.isoformat() == "2026-11-20T01:15:40+00:00"
    assert event.ts == pytest.approx(1795137340.0)


def test_timestamp_without_offset_is_rejected() -> None:
    with pytest.raises(EventValidationError) as exc:
        parse_event(_base(occurred_at="2026-11-20T09:15:40"))
    assert _fields(exc) == ["occurred_at"]


@pytest.mark.parametrize(
    ("given", "expected"), [("38.50", Decimal("38.50")), (5000, Decimal(5000))]
)
def test_amount_accepts_numbers_and_decimal_strings(given: Any, expected: Decimal) -> None:
    event = parse_event(_base(type="payment", amount=given))
    assert event.amount == expected
    assert event.amount_cents == int(expected * 100)


@pytest.mark.parametrize("bad", [-1, "abc", "NaN", "Infinity", True, [1]])
def test_bad_amounts_name_the_field(bad: Any) -> None:
    with pytest.raises(EventValidationError) as exc:
        parse_event(_base(type="payment", amount=bad))
    assert _fields(exc) == ["amount"]


@pytest.mark.parametrize(
    ("etype", "field"),
    [
        ("payment", "amount"),
        ("credit_draw", "amount"),
        ("transfer", "amount"),
        ("withdrawal", "amount"),
        ("account_change", "operation"),
        ("qr_scan", "qr"),
        ("document_upload", "document"),
        ("voice_check", "voice"),
    ],
)
def test_type_specific_fields_are_required(etype: str, field: str) -> None:
    with pytest.raises(EventValidationError) as exc:
        parse_event(_base(type=etype))
    assert _fields(exc) == [field]


def test_nested_errors_give_the_path() -> None:
    with pytest.raises(EventValidationError) as exc:
        parse_event(_base(device={"fingerprint": {"platform": "nokia"}}, geo={"lat": 91, "lon": 0}))
    assert sorted(_fields(exc)) == ["device.fingerprint.platform", "geo.lat"]


def test_unknown_top_level_field_is_rejected_but_attributes_are_open() -> None:
    with pytest.raises(EventValidationError) as exc:
        parse_event(_base(amout=3))
    assert _fields(exc) == ["amout"]
    event = parse_event(_base(attributes={"promo": "double11"}, context={"new_signal": 1}))
    assert event.attributes == {"promo": "double11"}


def test_ip_is_parsed_and_canonical() -> None:
    assert parse_event(_base(ip="2001:DB8::0001")).ip == "2001:db8::1"
    with pytest.raises(EventValidationError) as exc:
        parse_event(_base(ip="999.1.1.1"))
    assert _fields(exc) == ["ip"]


def test_invalid_json_is_a_validation_error() -> None:
    with pytest.raises(EventValidationError):
        parse_event(b"{not json")


def test_label_needs_exactly_one_target() -> None:
    ok = parse_label(
        {"user_id": "u", "label": "fraud", "source": "analyst", "at": "2026-01-01T00:00:00Z"}
    )
    assert ok.user_id == "u"
    with pytest.raises(EventValidationError):
        parse_label({"label": "fraud", "source": "analyst", "at": "2026-01-01T00:00:00Z"})
    with pytest.raises(EventValidationError) as exc:
        parse_label(
            {"user_id": "u", "label": "maybe", "source": "analyst", "at": "2026-01-01T00:00:00Z"}
        )
    assert [e.path for e in exc.value.errors] == ["label"]


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("1.2.3.4", "1.2.3.4"),
        (" 10.0.0.1 ", "10.0.0.1"),
        ("1.2.3.4\n", "1.2.3.4"),
        ("::ffff:1.2.3.4", "::ffff:102:304"),
    ],
)
def test_ip_spellings_are_made_canonical(given: str, canonical: str) -> None:
    assert parse_event(_base(ip=given)).ip == canonical


@pytest.mark.parametrize("bad", ["01.2.3.4", "256.1.1.1", "1.2.3", "1.2.3.4.5", ""])
def test_malformed_ips_are_rejected(bad: str) -> None:
    with pytest.raises(EventValidationError):
        parse_event(_base(ip=bad))


def test_currency_is_iso_4217_in_any_case() -> None:
    assert parse_event(_base(type="payment", amount=1, currency=" usd")).currency == "USD"
    with pytest.raises(EventValidationError) as exc:
        parse_event(_base(type="payment", amount=1, currency="dollars"))
    assert _fields(exc) == ["currency"]
