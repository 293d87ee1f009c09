"""From ``image_b64`` to pixels, refusing what is not a sane picture.

Images arrive from clients, so decoding guards against decompression bombs (a few
kilobytes of PNG that unpack to gigapixels) and reads EXIF orientation so a phone
photo is upright before anything looks at it.
"""

from __future__ import annotations

import base64
import binascii
import io

from PIL import Image, ImageOps, UnidentifiedImageError

# A 12-megapixel phone photo is the largest honest upload.
MAX_PIXELS = 12_000_000


class ImageError(ValueError):
    """The bytes are not an image fengkong can read (the reason is the message)."""


def image_bytes(image_b64: str) -> bytes:
    """The decoded bytes of ``image_b64`` (line breaks and spaces ignored)."""
    try:
        return base64.b64decode("".join(image_b64.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageError("not valid base64") from exc


def decode_image(data: bytes) -> Image.Image:
    """An upright RGB image from encoded bytes (JPEG, PNG, WebP, ...)."""
    try:
        img = Image.open(io.BytesIO(data))
        width, height = img.size
        if width * height > MAX_PIXELS:
            raise ImageError(f"image of {width}x{height} pixels exceeds {MAX_PIXELS}")
        img.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ImageError("not a readable image") from exc
    upright = ImageOps.exif_transpose(img)
    return upright.convert("RGB")


def probe(image_b64: str) -> str | None:
    """Why ``image_b64`` is no image (``None`` when it looks like one), from its header.

    Cheap enough to run on the event loop: an upload that is not an image is answered
    at once instead of waiting for a worker.
    """
    try:
        with Image.open(io.BytesIO(image_bytes(image_b64))) as img:
            width, height = img.size
    except ImageError as exc:
        return str(exc)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return "not a readable image"
    if width * height > MAX_PIXELS:
        return f"image of {width}x{height} pixels exceeds {MAX_PIXELS}"
    return None
