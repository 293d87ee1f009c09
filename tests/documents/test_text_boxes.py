"""The text-line check: the paper inside one OCR line against the paper around it."""

from __future__ import annotations

import numpy as np
import pytest

from fengkong.documents import synth
from fengkong.documents.analyse import analyse_document
from fengkong.documents.facts import tamper_score
from fengkong.documents.text_boxes import text_box_scores

Box = tuple[int, int, int, int]


def _card(seed: int) -> tuple[np.ndarray, list[Box]]:
    """Paper with lit unevenly, brightness-dependent noise and eight lines of 'text'."""
    gen = np.random.default_rng(seed)
    h, w = 520, 800
    page = np.full((h, w), 215.0) * np.linspace(0.85, 1.0, w)[None, :]
    page[::9, :] -= 12.0  # a printed line pattern
    boxes: list[Box] = []
    for row in range(8):
        y = 30 + row * 60
        x0 = 60 + (row % 3) * 40
        for x in range(x0, x0 + 200, 28):
            page[y : y + 30, x : x + 4] = 20.0
            page[y + 12 : y + 16, x : x + 20] = 20.0
        boxes.append((x0 - 2, y - 2, x0 + 200, y + 32))
    page += gen.normal(0.0, 1.0, page.shape) * 3.0 * np.sqrt(page / 128.0)
    return page, boxes


def test_a_line_retyped_on_a_flat_box_stands_out_and_genuine_lines_do_not() -> None:
    page, boxes = _card(1)
    assert text_box_scores(page, boxes)["text_box_z"] < 4.0
    forged = page.copy()
    x0, y0, x1, y1 = boxes[3]
    forged[y0 - 4 : y1 + 4, x0 - 6 : x1 + 6] = float(np.median(page[y0:y1, x0:x1]))
    for x in range(x0 + 10, x1 - 20, 28):  # the new text
        forged[y0 + 4 : y0 + 30, x : x + 4] = 20.0
    got = text_box_scores(forged, boxes)
    assert got["text_box_z"] >= 6.0 and got["text_box_lines"] == 8


def test_a_patch_lit_differently_stands_out() -> None:
    page, boxes = _card(2)
    forged = page.copy()
    x0, y0, x1, y1 = boxes[5]
    forged[y0 - 4 : y1 + 4, x0 - 6 : x1 + 6] *= 0.93  # a patch from a darker shot
    assert text_box_scores(forged, boxes)["text_box_z"] >= 6.0


def test_too_few_lines_give_no_evidence() -> None:
    page, boxes = _card(3)
    assert text_box_scores(page, boxes[:3]) == {"text_box_z": 0.0, "text_box_lines": 3.0}


@pytest.mark.skipif(synth.cjk_font_path() is None, reason="no CJK font: fonts-wqy-microhei")
def test_a_careful_name_edit_on_a_generated_card_is_found() -> None:
    honest = synth.make_id_sample(3, "genuine", seed=0)
    forged = synth.make_id_sample(1001, "careful_text_edit", seed=0)
    a = analyse_document(honest.image_b64, "id_card", "2026-12-01")
    b = analyse_document(forged.image_b64, "id_card", "2026-12-01")
    assert a["text_box_z"] < 4.5 <= b["text_box_z"]
    assert tamper_score(b) > tamper_score(a)
