"""Seals: what a reading names, misread suffixes, unreadable seals, small blurred seals."""

from __future__ import annotations

import numpy as np
import pytest

from fengkong.documents import synth
from fengkong.documents.facts import document_facts, document_risk
from fengkong.documents.names import MATCH_AT, seal_kind, similarity
from fengkong.documents.seal import find_seals, seal_ink
from fengkong.imaging import decode_image, image_bytes


def _seal(text: str) -> dict[str, object]:
    return {"text": text, "score": 0.8, "authority": False}


def test_a_reading_names_an_authority_a_company_or_nothing_legible() -> None:
    assert seal_kind("南京市市场监督管理局") == "authority"
    assert seal_kind("成邮市市场监醫管理属") == "authority"  # two confusions, one lost
    assert seal_kind("杭州市海纳网络有限公司") == "company"
    assert seal_kind("北京市海纳信恩有陈公司") == "company"  # suffix misread
    assert seal_kind("医只店汤改藏门") == "unreadable"
    assert seal_kind("") == "unreadable"


def test_a_misread_suffix_still_matches_but_another_trade_name_does_not() -> None:
    assert similarity("上海市鼎盛文化有际公司", "上海市鼎盛文化有限公司") >= MATCH_AT
    assert similarity("北京市海纳信恩有陈公司", "北京市海纳信息有限公司") >= MATCH_AT
    assert similarity("杭州市瑞丰网络有际公司", "杭州市海纳网络有限公司") < MATCH_AT


def test_an_unreadable_seal_is_weak_evidence_not_a_mismatch() -> None:
    analysis = {"ocr_lines": 8, "seals": [_seal("维的清美经发免病著快界")]}
    for kind in ("business_license", "certificate"):
        facts, reasons = document_facts(analysis, kind, ["成都市天成文化有限公司"])
        assert facts["document.seal_found"] is True
        assert facts["document.seal_readable"] is False
        assert facts["document.seal_matches_company"] is None
        assert document_risk(facts) == (0.0, False)
        assert any("unreadable" in r for r in reasons)


def test_a_licence_bearing_a_company_seal_is_still_a_mismatch() -> None:
    analysis = {"ocr_lines": 8, "seals": [_seal("杭州市海纳网络有限公司")]}
    facts, reasons = document_facts(analysis, "business_license", ["南京市润泽电子有限公司"])
    assert facts["document.seal_matches_company"] is False
    assert document_risk(facts)[1] is True
    assert "not a registration authority" in reasons[0]


def test_seal_ink_keeps_red_and_drops_black_print() -> None:
    crop = np.full((60, 60, 3), 245, dtype=np.uint8)
    crop[10:20, 10:50] = (200, 40, 45)  # red ink
    crop[35:45, 10:50] = (20, 20, 20)  # black print under the seal
    ink = seal_ink(crop)
    assert ink[15, 30] < 60  # red stroke: dark
    assert ink[40, 30] > 200  # black stroke: paper
    assert ink[50, 30] > 240


@pytest.mark.skipif(synth.cjk_font_path() is None, reason="no CJK font: fonts-wqy-microhei")
def test_a_small_blurred_downsized_seal_is_read() -> None:
    # Capture B, downsized by the app to 0.59 of the drawn certificate: the red mask
    # first used read this seal as '总而舞綫医难限公司'.
    sample = synth.make_certificate_sample(11, "genuine", 5, capture="B")
    assert sample.scale < 0.65
    rgb = np.asarray(decode_image(image_bytes(sample.image_b64)))
    seals = find_seals(rgb)
    assert seals and similarity(seals[0].text, sample.fields["company"]) >= MATCH_AT
