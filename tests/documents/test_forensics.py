"""Pixel forensics on crafted images: a painted-over field, a cloned patch."""

from __future__ import annotations

import numpy as np
from PIL import Image

from fengkong.documents.forensics import copy_move, noise_residual


def _page(seed: int, size: tuple[int, int] = (600, 400), shot: bool = True) -> np.ndarray:
    """Paper with a brightness ramp, print-like strokes and brightness-dependent noise."""
    gen = np.random.default_rng(seed)
    h, w = size[1], size[0]
    page = np.full((h, w), 200.0) * np.linspace(0.75, 1.0, w)[None, :]
    for y in range(40, h - 40, 60):  # lines of "text"
        for x in range(40, w - 120, 37):
            page[y : y + 24, x : x + 3] = 30.0
            page[y + 10 : y + 13, x : x + 20] = 30.0
    std = 3.0 * np.sqrt(page / 128.0) if shot else 3.0
    return np.asarray(page + gen.normal(0.0, 1.0, page.shape) * std)


def _img(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).convert("RGB")


def test_a_field_painted_over_in_a_flat_colour_is_a_quiet_region() -> None:
    honest = _page(1)
    assert noise_residual(_img(honest))["noise_region"] <= 4
    forged = honest.copy()
    forged[100:180, 200:420] = 190.0  # a flat box over a field ...
    forged[130:154, 230:233] = 30.0  # ... with new strokes typed on it
    assert noise_residual(_img(forged))["noise_region"] >= 20


def test_a_cloned_patch_is_found_and_a_clean_page_is_not() -> None:
    honest = _page(2, shot=False)
    gen = np.random.default_rng(3)
    honest += np.kron(gen.normal(0, 25, (100, 150)), np.ones((4, 4)))  # texture
    forged = honest.copy()
    forged[210:290, 330:450] = honest[30:110, 60:180]  # offset on the 3-pixel grid
    clean = copy_move(_img(honest))["copy_move_blocks"]
    cloned = copy_move(_img(forged))["copy_move_blocks"]
    assert cloned >= 100 and clean < 10
