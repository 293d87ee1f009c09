"""Text on a document image, read with RapidOCR's PP-OCR models (shipped in its wheel).

The engine loads once per worker process, on the first document, with one thread per
session and detection limited to 960 pixels on the long side: about one CPU-second per
ID card or licence. Red ink (seals) is whitened first so a seal over a name does not
hide it; seals are read separately (:mod:`fengkong.documents.seal`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

DET_LIMIT_SIDE = 960
_engine: Any = None
_lock = threading.Lock()

Pixels = np.ndarray[Any, np.dtype[np.uint8]]


@dataclass(frozen=True, slots=True)
class Line:
    """One detected text line: its text, confidence and box (x0, y0, x1, y1)."""

    text: str
    score: float
    box: tuple[int, int, int, int]

    @property
    def cy(self) -> float:
        return (self.box[1] + self.box[3]) / 2

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


def engine() -> Any:
    """The process's RapidOCR engine (loaded from the wheel's own model files)."""
    global _engine
    with _lock:
        if _engine is None:
            from rapidocr_onnxruntime import RapidOCR

            logging.getLogger("RapidOCR").setLevel(logging.WARNING)
            _engine = RapidOCR(
                intra_op_num_threads=1,
                inter_op_num_threads=1,
                det_limit_side_len=DET_LIMIT_SIDE,
                det_limit_type="max",
                use_cls=False,
            )
        return _engine


def without_red(rgb: Pixels) -> Pixels:
    """``rgb`` with red ink turned to paper white."""
    out = rgb.copy()
    out[red_mask(rgb)] = 255
    return out


def red_mask(rgb: Pixels) -> np.ndarray[Any, np.dtype[np.bool_]]:
    px = rgb.astype(np.int16)
    r, g, b = px[..., 0], px[..., 1], px[..., 2]
    return (r > 110) & (r - g > 55) & (r - b > 45)


def read_lines(rgb: Pixels) -> list[Line]:
    """Text lines in reading order (top to bottom, then left to right)."""
    result, _ = engine()(np.ascontiguousarray(rgb[..., ::-1]))
    lines = []
    for box, text, score in result or []:
        xs = [int(p[0]) for p in box]
        ys = [int(p[1]) for p in box]
        lines.append(Line(str(text), float(score), (min(xs), min(ys), max(xs), max(ys))))
    return reading_order(lines)


def reading_order(lines: list[Line]) -> list[Line]:
    """Rows (lines whose centres lie within half a line height) top down, each left to right."""
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda ln: ln.cy):
        if rows and abs(line.cy - rows[-1][0].cy) < 0.5 * max(line.height, rows[-1][0].height):
            rows[-1].append(line)
        else:
            rows.append([line])
    return [ln for row in rows for ln in sorted(row, key=lambda ln: ln.box[0])]


def read_strip(gray: Pixels) -> tuple[str, float]:
    """The text of one line image (no detection): for unwrapped seal text."""
    bgr = np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))
    result, _ = engine()(bgr, use_det=False, use_cls=False, use_rec=True)
    if not result:
        return "", 0.0
    text, score = result[0][0], result[0][1]
    return str(text), float(score)
