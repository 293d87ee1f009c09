"""Red round seals: found by colour and shape, their ring text unwrapped and read.

A Chinese company seal (公章) is a red ring with the company's name along the upper arc
and a star in the middle. The seal is located as a large blob of red ink whose extent
is round (about as tall as wide, ink spread over the disc), then the ring is unwrapped
into a straight strip with a polar transform, starting at the bottom gap, so that the
text reads left to right, and the strip is read as one text line.

The strip is drawn from the brightness of the green channel (red ink is dark there, at
the full resolution of the JPEG's luma), kept only where the smoothed colour is red.
A thresholded red mask, as first used, loses thin blurred strokes to JPEG's
half-resolution chroma: on capture profile B it misread one seal in three.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from fengkong.documents.names import seal_kind
from fengkong.documents.ocr import Pixels, read_strip, red_mask

# A seal is at least this share of the image's short side across.
MIN_DIAMETER = 0.12


@dataclass(frozen=True, slots=True)
class Seal:
    text: str
    score: float
    box: tuple[int, int, int, int]

    @property
    def kind(self) -> str:
        """``authority``, ``company`` or ``unreadable`` (:func:`names.seal_kind`)."""
        return seal_kind(self.text)

    @property
    def is_authority(self) -> bool:
        return self.kind == "authority"


def _candidates(red: np.ndarray[Any, np.dtype[np.bool_]]) -> list[tuple[slice, slice]]:
    short = min(red.shape)
    labels, count = ndimage.label(ndimage.binary_dilation(red, iterations=3))
    found = []
    for region in ndimage.find_objects(labels)[:count]:
        if region is None:
            continue
        h = region[0].stop - region[0].start
        w = region[1].stop - region[1].start
        if min(h, w) < MIN_DIAMETER * short or not 0.8 <= h / w <= 1.25:
            continue
        ink = red[region].mean()
        if 0.05 <= ink <= 0.6:  # a ring with text, not a solid red block or a thin line
            found.append(region)
    return found


def unwrap(ink: Pixels) -> Pixels:
    """The ring text of a seal crop (dark ink on white) as a straight, upright strip."""
    import cv2

    h, w = ink.shape
    radius = max(h, w) / 2
    rows = 1440  # a quarter degree per row
    # Warped as light ink on black, so pixels outside the crop (filled with 0) are paper.
    polar = 255 - cv2.warpPolar(
        255 - ink, (int(radius), rows), (w / 2, h / 2), radius, cv2.WARP_POLAR_LINEAR
    )
    strip = cv2.rotate(polar, cv2.ROTATE_90_COUNTERCLOCKWISE)  # outer edge on top
    band = strip[int(radius * 0.06) : int(radius * 0.42), :]
    # Start the strip in the middle of the widest gap in the ring text (the seal's
    # bottom), so no character is cut in two, whichever way the seal was turned.
    inked = np.asarray(
        (band[band.shape[0] // 3 :] < 128).any(axis=0), dtype=bool
    )  # the ring may graze the top
    band = np.roll(band, -_gap_centre(inked), axis=1)
    arc = int(2 * np.pi * 0.76 * radius)
    return np.asarray(cv2.resize(band, (arc, band.shape[0])), dtype=np.uint8)


def _gap_centre(inked: np.ndarray[Any, np.dtype[np.bool_]]) -> int:
    """Index of the middle of the longest circular run of ``False`` in ``inked``."""
    if inked.all() or not inked.any():
        return inked.size * 3 // 4  # no gap: 6 o'clock, where seals leave it
    twice = np.concatenate([inked, inked])
    best, best_end, run = 0, 0, 0
    for i, ink in enumerate(twice):
        run = 0 if ink else run + 1
        if run > best:
            best, best_end = run, i
    return int((best_end - best // 2) % inked.size)


def seal_ink(crop: Pixels) -> Pixels:
    """Red ink of a seal crop as dark on white, graded, with black print left out."""
    import cv2

    px = crop.astype(np.float32)
    smooth = cv2.GaussianBlur(px, (0, 0), 1.0)
    redness = smooth[..., 0] - np.maximum(smooth[..., 1], smooth[..., 2])
    # Red where the colour is at least 45 % as red as the seal's reddest ink.
    gate = np.clip(redness / (0.45 * max(float(np.percentile(redness, 99)), 20.0)), 0, 1)
    green = px[..., 1]
    paper, ink = np.percentile(green, 90), np.percentile(green, 3)
    dark = np.clip((paper - green) / max(float(paper - ink), 1.0), 0, 1)
    return np.asarray(255 - 255 * dark * gate, dtype=np.uint8)


def find_seals(rgb: Pixels, limit: int = 3) -> list[Seal]:
    """Round red seals in the image with the text along their ring."""
    red = red_mask(rgb)
    seals = []
    for region in _candidates(red)[:limit]:
        text, score = read_strip(unwrap(seal_ink(rgb[region])))
        box = (region[1].start, region[0].start, region[1].stop, region[0].stop)
        seals.append(Seal(text, score, box))
    return seals
