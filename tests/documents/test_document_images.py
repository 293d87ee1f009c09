"""Documents read from their images: OCR round trip, number checks, seals, recycling.

These run the real OCR models (RapidOCR's wheel) on generated documents; they need a
CJK font to draw them (``apt-get install fonts-wqy-microhei``, done by .ci/run).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from fengkong.decisions import DecisionContext
from fengkong.documents import synth
from fengkong.documents.analyse import analyse_document
from fengkong.documents.checks import id_number_facts, uscc_facts
from fengkong.documents.facts import document_risk
from fengkong.documents.stage import DocumentsStage
from fengkong.events import Event

pytestmark = pytest.mark.skipif(
    synth.cjk_font_path() is None, reason="no CJK font: apt-get install fonts-wqy-microhei"
)
_T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


def _upload(i: int, sample: synth.Sample, **extra: Any) -> Event:
    return Event.model_validate(
        {
            "event_id": f"d{i}",
            "type": "document_upload",
            "user_id": sample.account,
            "occurred_at": (_T0 + timedelta(minutes=i)).isoformat(),
            "document": {"kind": sample.kind, "image_b64": sample.image_b64},
            **extra,
        }
    )


def _run(stage: DocumentsStage, i: int, sample: synth.Sample) -> DecisionContext:
    ctx = DecisionContext(_upload(i, sample))
    stage.run(ctx)
    return ctx


def test_ocr_round_trip_reads_the_printed_id_card_fields() -> None:
    sample = synth.make_id_sample(3, "genuine", seed=11)
    analysis = analyse_document(sample.image_b64, "id_card", "2026-12-01")
    got = analysis["fields"]
    assert got["name"] == sample.fields["name"]
    assert got["id_number"] == sample.fields["id_number"]
    assert got["birth"] == sample.fields["birth"]
    assert got["sex"] == sample.fields["sex"]
    assert analysis["id_checksum_ok"] is True and analysis["id_birth_matches"] is True
    assert "raw" not in analysis and all(isinstance(k, str) for k in analysis)


def test_a_valid_looking_id_with_a_broken_checksum_is_caught() -> None:
    stage = DocumentsStage()
    honest = _run(stage, 1, synth.make_id_sample(4, "genuine", seed=11))
    assert honest.facts["document.id_checksum_ok"] is True
    assert document_risk(honest.facts)[1] is False or honest.facts["document.tamper_score"]
    forged = _run(stage, 2, synth.make_id_sample(4, "bad_checksum", seed=11))
    assert forged.facts["document.id_checksum_ok"] is False
    assert "ID number check digit is wrong" in forged.explain["documents"]["reasons"]


def test_printed_birth_date_that_disagrees_with_the_number() -> None:
    ctx = _run(DocumentsStage(), 1, synth.make_id_sample(5, "field_mismatch", seed=11))
    assert ctx.facts["document.id_birth_matches"] is False


def test_a_seal_whose_text_differs_from_the_company() -> None:
    stage = DocumentsStage()
    honest = _run(stage, 1, synth.make_certificate_sample(2, "genuine", seed=11))
    assert honest.facts["document.seal_found"] is True
    assert honest.facts["document.seal_matches_company"] is True
    forged = _run(stage, 2, synth.make_certificate_sample(2, "seal_mismatch", seed=11))
    assert forged.facts["document.seal_matches_company"] is False
    assert any("does not name the company" in r for r in forged.explain["documents"]["reasons"])


def test_a_recycled_template_with_a_new_name_is_a_near_duplicate() -> None:
    stage = DocumentsStage()
    original = synth.make_id_sample(6, "genuine", seed=11)
    other_person = synth.make_id_sample(7, "genuine", seed=11)
    recycled = synth.make_id_sample(8, "recycled_template", seed=11, template=original)
    assert recycled.fields["name"] != original.fields["name"]
    assert recycled.account != original.account
    first = _run(stage, 1, original)
    assert first.facts["document.near_duplicate_accounts_30d"] == 0
    assert _run(stage, 2, other_person).facts["document.near_duplicate_accounts_30d"] == 0
    again = _run(stage, 3, recycled)
    assert again.features["document.other_accounts_30d"] == 0  # not byte-identical
    assert again.facts["document.near_duplicate_accounts_30d"] == 1


def test_a_pasted_photo_raises_the_tamper_score() -> None:
    stage = DocumentsStage()
    honest = _run(stage, 1, synth.make_id_sample(9, "genuine", seed=11))
    pasted = _run(stage, 2, synth.make_id_sample(9, "digital_paste", seed=11))
    assert pasted.facts["document.tamper_score"] >= 0.5
    assert honest.facts["document.tamper_score"] < 0.5


def test_number_checks_without_ocr() -> None:
    day = date(2026, 12, 1)
    good = id_number_facts("11010519491231002X", {"birth": "1949年12月31日", "sex": "女"}, day)
    assert good["id_checksum_ok"] and good["id_birth_matches"] and good["id_sex_matches"]
    assert good["id_age"] == 76
    bad = id_number_facts("110105194912310021", {"sex": "男"}, day)
    assert bad["id_checksum_ok"] is False and bad["id_sex_matches"] is False
    assert uscc_facts("91110000600037341L")["uscc_valid"] is True
    assert uscc_facts("91110000600037341M")["uscc_valid"] is False
