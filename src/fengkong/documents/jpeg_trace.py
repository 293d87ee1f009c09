"""Double-JPEG traces: which parts of an image went through an earlier JPEG compression.

A camera saves its photo as JPEG; a forger opens it, pastes or retypes something and
saves it again. Everything the forger did not touch has then been quantised twice, on
the same 8-pixel grid: first with the camera's table Q1, then with the editor's Q2.
Its DCT coefficients, read on the last table, only take the values ``round(m·Q1/Q2)``
— when Q1 is coarser than Q2, some values never occur (the classic double-quantisation
gaps). A pasted photo, a retyped field or a patch moved off the grid was quantised only
once, on the last table: its coefficients fill the gaps.

So: estimate Q1 per frequency from the whole image's coefficient histogram, then score
each 8x8 block by how many of its coefficients fall in the gaps, against what a
single-compressed block would put there. Nothing is learnt. The trace needs the last
compression at a finer table than the first and the grid kept: an image resized or
cropped after the edit, or recompressed coarser, erases it (then the score is 0, and
the fact says no evidence, not genuine).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage
from scipy.fft import dctn

FArray = np.ndarray[Any, np.dtype[np.float64]]
# Zig-zag positions 1..20 (the low AC frequencies, where quantisation steps are small
# enough to leave many non-zero coefficients).
_ZIGZAG = (
    (0, 1), (1, 0), (2, 0), (1, 1), (0, 2), (0, 3), (1, 2), (2, 1), (3, 0), (4, 0),
    (3, 1), (2, 2), (1, 3), (0, 4), (0, 5), (1, 4), (2, 3), (3, 2), (4, 1), (5, 0),
)  # fmt: skip
_MIN_EVIDENCE = 0.7  # how empty a frequency's gaps must be to count as double-compressed


def _luma_and_table(data: bytes) -> tuple[FArray, FArray] | None:
    """The decoded luminance and its last quantisation table (natural order), if JPEG."""
    img = Image.open(io.BytesIO(data))
    tables = getattr(img, "quantization", None)
    if img.format != "JPEG" or not tables or 0 not in tables:
        return None
    table = np.asarray(tables[0], dtype=np.float64).reshape(8, 8)
    img.draft("YCbCr", img.size)
    y = np.asarray(img.convert("YCbCr"), dtype=np.float64)[..., 0]
    return y, table


def _coefficients(y: FArray, table: FArray) -> FArray:
    """Per 8x8 block the chosen AC coefficients in units of the last table's steps."""
    h, w = y.shape[0] // 8 * 8, y.shape[1] // 8 * 8
    blocks = (y[:h, :w] - 128.0).reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3)
    coef = dctn(blocks, axes=(2, 3), norm="ortho")
    rows, cols = zip(*_ZIGZAG, strict=True)
    steps = table[list(rows), list(cols)]
    return np.asarray(coef[:, :, list(rows), list(cols)] / steps, dtype=np.float64)


def _gaps(q2: float, q1: float, top: int) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """For k in -top..top: True where k cannot follow a first quantisation at ``q1``."""
    m = np.arange(-(top * q2 // q1) - 2, top * q2 // q1 + 3)
    allowed = np.unique(np.floor(m * q1 / q2 + 0.5)).astype(int)
    gaps = np.ones(2 * top + 1, dtype=bool)
    allowed = allowed[np.abs(allowed) <= top]
    gaps[allowed + top] = False
    return gaps


def _expected_in_gaps(counts: FArray, gaps: np.ndarray[Any, np.dtype[np.bool_]]) -> FArray:
    """What a single compression would put in each gap bin: the geometric mean of the
    nearest allowed bins on either side (a Laplacian's histogram is geometric; the
    interpolation errs towards filled gaps, so it never invents evidence)."""
    logs = np.log(counts + 1.0)
    allowed = np.flatnonzero(~gaps)
    out = np.zeros_like(counts)
    for i in np.flatnonzero(gaps):
        left = allowed[allowed < i]
        right = allowed[allowed > i]
        sides = [logs[left[-1]]] if left.size else []
        sides += [logs[right[0]]] if right.size else []
        out[i] = np.exp(np.mean(sides)) - 1.0 if sides else 0.0
    return out


_TOP = 12  # coefficients up to this many steps are histogrammed


def _first_step(k: np.ndarray[Any, np.dtype[np.int64]], q2: float) -> tuple[float, float, float]:
    """The earlier step q1 best explaining the histogram of ``k``, its evidence (1 when
    its gaps are empty, 0 when filled as after one compression) and the share of
    non-zero coefficients one compression would put in its gaps."""
    k = k[(k != 0) & (np.abs(k) <= _TOP)]
    if k.size < 200:
        return 0.0, 0.0, 0.0
    counts = np.bincount(k + _TOP, minlength=2 * _TOP + 1).astype(np.float64)
    best = (0.0, 0.0, 0.0)
    for q1 in np.arange(q2 + 1, min(8 * q2, q2 + 24) + 1):
        gaps = _gaps(q2, float(q1), _TOP)
        gaps[_TOP] = False
        if not gaps.any():
            continue
        predicted = _expected_in_gaps(counts, gaps)[gaps]
        if predicted.sum() < 150:
            continue
        evidence = 1.0 - counts[gaps].sum() / predicted.sum()
        if evidence > best[1]:
            share = predicted.sum() / (counts[~gaps].sum() + predicted.sum())
            best = (float(q1), float(evidence), float(share))
    return best


def double_jpeg(data: bytes) -> dict[str, float]:
    """Largest region (16-pixel blocks) that lacks the earlier compression the page shows."""
    decoded = _luma_and_table(data)
    if decoded is None:
        return {"djpeg_evidence": 0.0, "djpeg_region": 0.0}
    y, table = decoded
    coef = _coefficients(y, table)
    k = np.rint(coef).astype(np.int64)
    rows, cols = zip(*_ZIGZAG, strict=True)
    gap_hits = np.zeros(k.shape[:2])
    expected = np.zeros(k.shape[:2])
    total = 0.0
    for f in range(k.shape[2]):
        q2 = float(table[rows[f], cols[f]])
        q1, evidence, share = _first_step(k[:, :, f].ravel(), q2)
        if evidence < _MIN_EVIDENCE:
            continue
        total += evidence
        gaps = _gaps(q2, q1, _TOP)
        gaps[_TOP] = False
        kf = np.clip(k[:, :, f], -_TOP, _TOP)
        live = (kf != 0) & (np.abs(k[:, :, f]) <= _TOP)
        gap_hits += gaps[kf + _TOP] & live
        expected += live * share
    if total == 0.0:
        return {"djpeg_evidence": 0.0, "djpeg_region": 0.0}
    # Over 16-pixel blocks (2x2 JPEG blocks, smoothed): surplus of gap hits.
    hits = ndimage.uniform_filter(gap_hits, 4, mode="nearest")
    base = ndimage.uniform_filter(expected, 4, mode="nearest")
    odd = (hits > 0.5 * base) & (base * 16 >= 3.0)
    odd = ndimage.binary_opening(odd, np.ones((2, 2)))
    labels, count = ndimage.label(odd)
    region = int(np.bincount(labels.ravel())[1:].max()) if count else 0
    return {"djpeg_evidence": round(total, 3), "djpeg_region": region / 4.0}
