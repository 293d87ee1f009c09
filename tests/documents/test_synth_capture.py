"""The generator's capture profiles, and the double-JPEG trace on generated ID cards."""

from __future__ import annotations

import dataclasses

import pytest

from fengkong.documents import synth
from fengkong.documents.forensics import forensics
from fengkong.imaging import decode_image, image_bytes

pytestmark = pytest.mark.skipif(
    synth.cjk_font_path() is None, reason="no CJK font: apt-get install fonts-wqy-microhei"
)


def _scores(sample: synth.Sample) -> dict[str, float]:
    data = image_bytes(sample.image_b64)
    return forensics(decode_image(data), data)


def test_profiles_vary_scale_and_what_the_app_does() -> None:
    samples = [synth.make_id_sample(n, "genuine", seed=2, capture="B") for n in range(12)]
    widths = {decode_image(image_bytes(s.image_b64)).width for s in samples}
    assert len(widths) == 12  # every capture at its own resolution
    assert {s.notes["app"] for s in samples} == {"as captured", "resized", "recompressed"}
    assert all(0.45 < s.scale < 1.45 for s in samples)


def test_an_edit_saved_finer_than_the_camera_leaves_a_double_jpeg_region() -> None:
    # A forger's editor saving at a higher quality than the phone's camera, uploaded as
    # is: the untouched card carries the camera's compression, the edits do not.
    cap = dataclasses.replace(
        synth.CAPTURES["A"],
        camera_quality=(75, 78),
        editor_quality=(93, 95),
        app_resize=0.0,
        app_recompress=0.0,
    )
    for n in range(3):
        honest = _scores(synth.make_id_sample(n, "genuine", seed=4, capture=cap))
        assert honest["djpeg_region"] < 8
        for kind in ("careful_paste", "careful_text_edit"):
            forged = _scores(synth.make_id_sample(n, kind, seed=4, capture=cap))
            assert forged["djpeg_region"] >= 16, (kind, n, forged)
