"""The double-JPEG trace on crafted images: a patch that skipped the first compression."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

from fengkong.documents.jpeg_trace import double_jpeg


def _photo(seed: int, size: tuple[int, int] = (480, 320)) -> Image.Image:
    """A grainy, textured picture (smoothed random field plus sensor noise)."""
    gen = np.random.default_rng(seed)
    field = gen.normal(128, 40, (size[1] // 8, size[0] // 8, 3))
    img = Image.fromarray(np.clip(field, 0, 255).astype(np.uint8)).resize(
        size, Image.Resampling.BICUBIC
    )
    img = img.filter(ImageFilter.GaussianBlur(1.5))
    pixels = np.asarray(img, dtype=np.float64) + gen.normal(0, 3, (size[1], size[0], 1))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _jpeg(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def test_a_patch_pasted_between_two_compressions_is_found() -> None:
    camera = _open(_jpeg(_photo(1), 70))
    camera.paste(_photo(2).crop((0, 0, 160, 160)), (200, 96))  # never compressed before
    got = double_jpeg(_jpeg(camera, 92))
    assert got["djpeg_evidence"] > 0
    assert got["djpeg_region"] >= 40  # the patch is 100 blocks of 16 pixels


def test_an_untouched_double_compression_shows_no_region() -> None:
    got = double_jpeg(_jpeg(_open(_jpeg(_photo(3), 70)), 92))
    assert got["djpeg_evidence"] > 0  # the earlier compression is seen ...
    assert got["djpeg_region"] <= 4  # ... everywhere alike


def test_one_compression_or_no_jpeg_gives_no_evidence() -> None:
    assert double_jpeg(_jpeg(_photo(4), 85)) == {"djpeg_evidence": 0.0, "djpeg_region": 0.0}
    png = io.BytesIO()
    _photo(5).save(png, format="PNG")
    assert double_jpeg(png.getvalue()) == {"djpeg_evidence": 0.0, "djpeg_region": 0.0}


def test_resizing_after_the_edit_erases_the_trace() -> None:
    camera = _open(_jpeg(_photo(6), 70))
    camera.paste(_photo(7).crop((0, 0, 160, 160)), (200, 96))
    edited = _open(_jpeg(camera, 92)).resize((400, 267), Image.Resampling.BICUBIC)
    assert double_jpeg(_jpeg(edited, 92))["djpeg_region"] <= 4
