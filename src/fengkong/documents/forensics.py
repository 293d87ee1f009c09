"""Pixel forensics: traces that pasting, retouching or cloning leave in an image.

Three classic, model-free tests, each giving a score a rule can threshold:

- **Error level analysis**: re-save the image as JPEG and look at how much each block
  changes. Blocks that went through the compression as often as the rest of the image
  change alike; a region pasted from elsewhere (compressed another number of times, at
  another quality, on another grid) stands out. ELA follows image content (edges change
  more), so each block's error is divided by its own edge energy first.
- **Noise residual**: what a median filter removes off the print is mostly sensor
  noise, the same across one photo at one brightness; a pasted photo or a painted-over
  field has a noise level of its own.
- **Copy-move**: identical blocks at a constant offset from each other, as left by a
  clone stamp that hid a field under a patch of background copied from elsewhere.

- **Double JPEG** (:mod:`fengkong.documents.jpeg_trace`): parts of the image that lack
  the earlier compression the rest of the page went through.

Scores are the size (in 16-pixel blocks) of the largest coherent anomalous region, so
a single odd block (a stain, a reflection) does not count.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

BLOCK = 16
FArray = np.ndarray[Any, np.dtype[np.float64]]


def _blocks(values: FArray, block: int = BLOCK) -> FArray:
    """Mean of ``values`` over non-overlapping ``block`` x ``block`` tiles."""
    h = values.shape[0] // block * block
    w = values.shape[1] // block * block
    tiles = values[:h, :w].reshape(h // block, block, w // block, block)
    return np.asarray(tiles.mean(axis=(1, 3)), dtype=np.float64)


def _largest_region(mask: np.ndarray[Any, np.dtype[np.bool_]]) -> int:
    labels, count = ndimage.label(mask)
    if count == 0:
        return 0
    return int(np.bincount(labels.ravel())[1:].max())


def _robust_z(values: FArray, valid: np.ndarray[Any, np.dtype[np.bool_]]) -> FArray:
    sample = values[valid]
    if sample.size < 16:
        return np.zeros_like(values)
    median = float(np.median(sample))
    spread = float(np.median(np.abs(sample - median))) * 1.4826 + 1e-6
    return (values - median) / spread


def _gray(img: Image.Image) -> FArray:
    return np.asarray(img.convert("L"), dtype=np.float64)


def error_level(img: Image.Image, quality: int = 90) -> dict[str, float]:
    """Largest region whose recompression error is out of line with its content."""
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    again = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    diff = np.abs(np.asarray(img, dtype=np.float64) - np.asarray(again, dtype=np.float64))
    ela = _blocks(diff.mean(axis=2))
    gray = _gray(img)
    edges = _blocks(np.hypot(ndimage.sobel(gray, 0), ndimage.sobel(gray, 1)))
    ratio = np.log((ela + 0.05) / (edges + 4.0))
    z = _robust_z(ratio, np.ones_like(ratio, dtype=bool))
    return {
        "ela_region": float(_largest_region(np.abs(z) > 4.0)),
        "ela_max_z": float(np.abs(z).max()),
    }


def noise_residual(img: Image.Image) -> dict[str, float]:
    """Largest region whose noise level differs from the page's at its brightness.

    Per 16-pixel block, the mean square of what a 3x3 median filter removes, over the
    pixels away from text and lines (so a block crossed by strokes is still measured
    on the paper between them): a field painted over in a flat colour is too quiet, a
    photo from elsewhere too quiet or too noisy. Sensor noise grows with brightness,
    so each block is compared with a fit of level against brightness over the page.
    """
    import cv2

    gray = img.convert("L")
    pixels = _gray(gray)
    # OpenCV's 3x3 median is Pillow's MedianFilter(3), pixel for pixel, 50 times faster.
    residual = pixels - cv2.medianBlur(np.asarray(gray), 3).astype(np.float64)
    smooth = ndimage.uniform_filter(pixels, 3)
    edges = np.hypot(ndimage.sobel(smooth, 0), ndimage.sobel(smooth, 1)) > 40.0
    paper = (~ndimage.binary_dilation(edges, iterations=1)).astype(np.float64)
    share = _blocks(paper)
    valid = share > 0.3
    if valid.sum() < 16:
        return {"noise_region": 0.0, "noise_spread": 0.0}
    level = np.log(_blocks(residual * residual * paper) / np.maximum(share, 1e-6) + 0.2)
    bright = np.log(_blocks(pixels) + 8.0)
    slope, intercept = np.polyfit(bright[valid], level[valid], 1)
    z = _robust_z(level - (slope * bright + intercept), valid)
    return {
        "noise_region": float(_largest_region((np.abs(z) > 3.0) & valid)),
        "noise_spread": float(np.std(level[valid])),
    }


def copy_move(img: Image.Image, block: int = 12, step: int = 3) -> dict[str, float]:
    """Blocks repeated elsewhere at one common offset (clone-stamped regions)."""
    gray = img.convert("L")
    if gray.width > 640:
        gray = gray.resize((640, max(1, gray.height * 640 // gray.width)), Image.Resampling.BOX)
    pixels = _gray(gray)
    windows = np.lib.stride_tricks.sliding_window_view(pixels, (block, block))[::step, ::step]
    rows, cols = windows.shape[:2]
    flat = windows.reshape(rows * cols, block * block)
    texture = flat.std(axis=1)
    keep = texture > 6.0  # flat paper matches itself everywhere: not evidence
    # Coarse 4x4 means, quantised: robust to recompression, specific enough for texture.
    coarse = flat.reshape(-1, 4, block // 4, 4, block // 4).mean(axis=(2, 4)).reshape(-1, 16)
    keys = np.round((coarse - coarse.mean(axis=1, keepdims=True)) / 4.0).astype(np.int16)
    index = np.flatnonzero(keep)
    if index.size < 2:
        return {"copy_move_blocks": 0.0}
    order = index[np.lexsort(keys[index].T[::-1])]
    same = np.all(keys[order[1:]] == keys[order[:-1]], axis=1)
    a, b = order[1:][same], order[:-1][same]
    ay, ax = np.divmod(a, cols)
    by, bx = np.divmod(b, cols)
    dy, dx = (ay - by) * step, (ax - bx) * step
    far = np.hypot(dy, dx) >= 3 * block
    if not far.any():
        return {"copy_move_blocks": 0.0}
    sign = np.where((dy < 0) | ((dy == 0) & (dx < 0)), -1, 1)
    shifts = np.stack([dy * sign, dx * sign], axis=1)[far]
    _, counts = np.unique(shifts, axis=0, return_counts=True)
    return {"copy_move_blocks": float(counts.max())}


def forensics(img: Image.Image, data: bytes | None = None) -> dict[str, float]:
    """All pixel-forensics scores of ``img`` (an upright RGB image) decoded from ``data``.

    The double-JPEG trace is read from the encoded bytes (its DCT coefficients and
    quantisation table); without them it is absent.
    """
    from fengkong.documents.jpeg_trace import double_jpeg

    trace = double_jpeg(data) if data is not None else {}
    if max(img.size) > 1400:
        img = img.copy()
        img.thumbnail((1400, 1400), Image.Resampling.LANCZOS)
    return {**error_level(img), **noise_residual(img), **copy_move(img), **trace}
