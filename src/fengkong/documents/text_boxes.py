"""Edited text at the level of one OCR box: the paper inside a line against around it.

Whoever retypes a field first hides the old text, under a flat box of the paper's
colour or under a patch of blank background taken from elsewhere; then types the new
text. Either way the paper *inside* that one text line no longer continues the paper
*around* it: it is quieter (a flat fill, smoothed by JPEG), differently noisy (a
patch from another photo, re-noised by hand), lit differently (a patch from another
shot carries that shot's light), or its printed pattern is not the surroundings'
(another template's phase). Each OCR line is compared with a ring of paper around it,
text of every line left out of both, on:

- **brightness**: the median paper level inside against the ring's;
- **noise**: the mean square of what a 3x3 median removes, on the paper only;
- **texture**: the mean gradient energy of the paper (pattern lines included).

A genuine page's lines differ from their ring only by the print's own variation, so
each difference is scaled by the spread of the same difference over the document's
other lines, and the score is the largest such departure. Nothing is learnt; limits
are set on generated documents (capture profile A, ``benchmarks/bench_documents.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

FArray = np.ndarray[Any, np.dtype[np.float64]]
BMask = np.ndarray[Any, np.dtype[np.bool_]]
Box = tuple[int, int, int, int]

MIN_PIXELS = 150  # paper pixels a side needs for its statistics to mean anything
RING = (0.35, 1.0)  # the ring around a line: from 0.35 to 1 line height off its box


def _paper(gray8: np.ndarray[Any, np.dtype[np.uint8]]) -> BMask:
    """Pixels of paper, away from ink: darker than the local paper level means ink.

    The local level is the median over 36 pixels around, on a quarter-size copy (paper
    is most of any such window, even on a line of text).
    """
    import cv2

    local = cv2.medianBlur(np.ascontiguousarray(gray8[::4, ::4]), 9)
    level = np.kron(local.astype(np.float64), np.ones((4, 4)))[: gray8.shape[0], : gray8.shape[1]]
    ink = (gray8 < level - 35.0).astype(np.uint8)
    near_ink = cv2.dilate(ink, np.ones((5, 5), np.uint8))
    return np.asarray(near_ink == 0, dtype=bool)


def _stats(residual: FArray, energy: FArray, where: BMask) -> FArray:
    noise = float(np.log(np.mean(residual[where] ** 2) + 0.25))
    texture = float(np.log(np.mean(energy[where]) + 1.0))
    return np.array([noise, texture])


def _light_step(gray: FArray, inner: BMask, ring: BMask) -> float:
    """Log brightness of the paper inside against a plane fitted to the ring's paper
    (so uneven light across the ring is not a step)."""
    ys, xs = np.nonzero(ring)
    design = np.stack([np.ones(ys.size), xs, ys], axis=1).astype(np.float64)
    coef, *_ = np.linalg.lstsq(design, gray[ys, xs], rcond=None)
    iy, ix = np.nonzero(inner)
    expected = float(np.median(coef[0] + coef[1] * ix + coef[2] * iy))
    return float(np.log(np.median(gray[iy, ix]) + 8.0) - np.log(max(expected, 0.0) + 8.0))


def _line_features(
    gray: FArray, residual: FArray, energy: FArray, paper: BMask, text: BMask, box: Box
) -> FArray | None:
    """(brightness, noise, texture) inside ``box`` minus in the ring around it."""
    x0, y0, x1, y1 = box
    h = max(1, y1 - y0)
    near, far = round(RING[0] * h), round(RING[1] * h)
    rows, cols = gray.shape
    top, left = max(0, y0 - far), max(0, x0 - far)
    bottom, right = min(rows, y1 + far), min(cols, x1 + far)
    window = np.zeros((bottom - top, right - left), dtype=bool)
    inner = window.copy()
    inner[y0 - top : y1 - top, x0 - left : x1 - left] = True
    ring = window.copy()
    ring[:, :] = True
    ring[max(0, y0 - near - top) : y1 + near - top, max(0, x0 - near - left) : x1 + near - left] = (
        False
    )
    sub = (slice(top, bottom), slice(left, right))
    inner &= paper[sub]
    ring &= paper[sub] & ~text[sub]
    if int(inner.sum()) < MIN_PIXELS or int(ring.sum()) < MIN_PIXELS:
        return None
    step = _light_step(gray[sub], inner, ring)
    inside, around = (
        _stats(residual[sub], energy[sub], inner),
        _stats(residual[sub], energy[sub], ring),
    )
    return np.concatenate([[step], inside - around])


def text_box_scores(gray: FArray, boxes: Sequence[Box]) -> dict[str, float]:
    """The largest departure of one text line's paper from its surroundings.

    ``gray``: the page's luminance; ``boxes``: the OCR lines (x0, y0, x1, y1) in its
    pixels. ``text_box_z`` is the largest robust z (over the document's lines) of any
    line on any of the three statistics; ``text_box_lines`` how many lines were
    measured.
    """
    import cv2

    gray8 = np.clip(gray, 0, 255).astype(np.uint8)
    residual = gray - cv2.medianBlur(gray8, 3).astype(np.float64)
    gy, gx = cv2.Sobel(gray, cv2.CV_64F, 0, 1), cv2.Sobel(gray, cv2.CV_64F, 1, 0)
    energy = gy * gy + gx * gx
    paper = _paper(gray8)
    text = np.zeros_like(paper)
    for x0, y0, x1, y1 in boxes:
        text[max(0, y0 - 2) : y1 + 2, max(0, x0 - 2) : x1 + 2] = True
    rows = [_line_features(gray, residual, energy, paper, text, b) for b in boxes]
    found = np.array([r for r in rows if r is not None])
    if len(found) < 4:
        return {"text_box_z": 0.0, "text_box_lines": float(len(found))}
    median = np.median(found, axis=0)
    # A floor per statistic: lines of one page can agree closely by chance.
    spread = np.maximum(np.median(np.abs(found - median), axis=0) * 1.4826, (0.005, 0.05, 0.05))
    z = np.abs(found - median) / spread
    return {"text_box_z": float(z.max()), "text_box_lines": float(len(found))}
