"""QR codes read from the image itself, not from what the client says it decoded.

A tampered client, or a page that shows one code and reports another, cannot hide the
real target when the server reads the picture. ``read_qr`` runs in an image worker
(see :class:`fengkong.imaging.ImagePool`): it returns plain data, never the image.

>>> import base64, io, segno
>>> buf = io.BytesIO()
>>> segno.make("https://qr.alipay.com/bax01234", error="m").save(buf, kind="png", scale=4)
>>> read_qr(base64.b64encode(buf.getvalue()).decode())["payloads"]
['https://qr.alipay.com/bax01234']
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from fengkong.imaging import ImageError, decode_image, image_bytes

# Past this many pixels on the long side a screenshot is scaled down first: codes in
# screenshots are large, and zxing's cost grows with the area.
_MAX_SIDE = 1600


def _scan(gray: np.ndarray[Any, np.dtype[np.uint8]], binarizer: Any) -> list[str]:
    import zxingcpp

    formats = zxingcpp.barcode_formats_from_str("QRCode,MicroQRCode")
    found = zxingcpp.read_barcodes(gray, formats=formats, binarizer=binarizer)
    return [b.text for b in found if b.valid]


def _attempts(img: Image.Image) -> list[Image.Image]:
    """The image, then versions that undo common damage: blur, noise, low contrast."""
    gray = ImageOps.grayscale(img)
    return [
        gray,
        gray.filter(ImageFilter.MedianFilter(3)),
        ImageOps.autocontrast(gray.filter(ImageFilter.UnsharpMask(2, 200, 2)), cutoff=2),
        gray.resize((max(1, gray.width // 2), max(1, gray.height // 2)), Image.Resampling.BOX),
    ]


def read_qr(image_b64: str) -> dict[str, Any]:
    """Payloads of the QR codes in the image, in reading order, and the time taken.

    ``{"payloads": [...], "error": None | "why unreadable", "ms": float}``
    """
    import zxingcpp

    started = time.perf_counter()
    try:
        img = decode_image(image_bytes(image_b64))
    except ImageError as exc:
        return {"payloads": [], "error": str(exc), "ms": _ms(started)}
    if max(img.size) > _MAX_SIDE:
        img.thumbnail((_MAX_SIDE, _MAX_SIDE), Image.Resampling.LANCZOS)
    binarizers = (zxingcpp.Binarizer.LocalAverage, zxingcpp.Binarizer.GlobalHistogram)
    for attempt in _attempts(img):
        pixels = np.asarray(attempt, dtype=np.uint8)
        for binarizer in binarizers:
            payloads = _scan(pixels, binarizer)
            if payloads:
                return {
                    "payloads": list(dict.fromkeys(payloads)),
                    "error": None,
                    "ms": _ms(started),
                }
    return {"payloads": [], "error": "no QR code found", "ms": _ms(started)}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)
