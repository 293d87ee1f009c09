"""The pure parts of the document checks: fields from OCR lines, names, the hash index."""

from __future__ import annotations

from fengkong.documents.facts import document_facts, document_risk
from fengkong.documents.fields import company_names, id_card_fields, licence_fields
from fengkong.documents.names import MATCH_AT, similarity
from fengkong.documents.ocr import Line, reading_order
from fengkong.documents.similar import NearDuplicateIndex


def _line(text: str, x: int, y: int, h: int = 30) -> Line:
    return Line(text, 0.99, (x, y, x + 20 * len(text), y + h))


def test_id_fields_from_split_and_joined_lines() -> None:
    lines = reading_order(
        [
            _line("陈强鹏", 190, 70),
            _line("姓名", 70, 75, 24),
            _line("性别", 70, 155, 24),
            _line("男", 190, 150),
            _line("民族汉", 320, 152),
            _line("出生", 70, 235, 24),
            _line("1985年7月13日", 190, 230),
            _line("住址", 70, 315, 24),
            _line("广东省深圳市南山区文化路", 190, 310),
            _line("242号21栋1655室", 190, 358),
            _line("公民身份号码", 70, 520, 24),
            _line("440305198507138671", 300, 512),
        ]
    )
    got = id_card_fields(lines)
    assert got == {
        "name": "陈强鹏",
        "sex": "男",
        "nation": "汉",
        "birth": "1985年7月13日",
        "address": "广东省深圳市南山区文化路242号21栋1655室",
        "id_number": "440305198507138671",
    }


def test_licence_fields_and_company_names() -> None:
    lines = [
        _line("统一社会信用代码", 80, 170),
        _line("91310104WTCDKQQ0N7", 380, 170),
        _line("名称", 80, 240),
        _line("上海市佳和科技有限公司", 380, 240),
    ]
    got = licence_fields(lines)
    assert got["uscc"] == "91310104WTCDKQQ0N7" and got["name"] == "上海市佳和科技有限公司"
    assert company_names([_line("单位名称上海市佳和科技有限公司", 0, 0)]) == [
        "上海市佳和科技有限公司"
    ]


def test_seal_names_tolerate_one_misread_character_but_not_another_company() -> None:
    assert similarity("南亨市润泽电子有限公司", "南京市润泽电子有限公司") >= MATCH_AT
    assert similarity("上海市恒达实业有限公司", "武汉市润泽商贸有限公司") < MATCH_AT


def test_facts_and_risk_of_an_analysis() -> None:
    analysis = {
        "ocr_lines": 8,
        "seals": [{"text": "上海市恒达实业有限公司", "score": 0.99, "authority": False}],
        "noise_region": 3.0,
    }
    facts, reasons = document_facts(analysis, "certificate", ["武汉市润泽商贸有限公司"])
    assert facts["document.seal_matches_company"] is False
    assert document_risk(facts) == (1.0, True)
    assert reasons and "does not name the company" in reasons[0]
    honest, _ = document_facts({**analysis, "seals": []}, "certificate", [])
    assert document_risk(honest) == (0.0, False)
    assert document_facts({"error": "not a readable image"}, "id_card", [])[0][
        "document.unreadable"
    ]


def test_near_duplicates_are_other_accounts_within_the_bit_budget_and_window() -> None:
    idx = NearDuplicateIndex(window_s=100.0, max_bits=8)
    base = "0" * 256
    idx.add(base, "a", ts=0.0)
    idx.add("f" * 256, "b", ts=0.0)
    near = "0" * 254 + "ff"  # 8 bits away
    assert idx.nearest_other(near, "c", ts=10.0) == (1, 8)
    assert idx.nearest_other(near, "a", ts=10.0) == (0, 1016)
    assert idx.nearest_other("0" * 252 + "ffff", "c", ts=10.0)[0] == 0  # 16 bits: too far
    idx.expire(150.0)
    assert len(idx) == 0 and idx.nearest_other(base, "c", ts=150.0) == (0, None)
