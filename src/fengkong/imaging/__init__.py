"""Images sent with events: safe decoding and the worker pool that checks them."""

from fengkong.imaging.decode import MAX_PIXELS, ImageError, decode_image, image_bytes, probe
from fengkong.imaging.pending import PendingChecks
from fengkong.imaging.pool import ImagePool, PoolStats

__all__ = [
    "MAX_PIXELS",
    "ImageError",
    "ImagePool",
    "PendingChecks",
    "PoolStats",
    "decode_image",
    "image_bytes",
    "probe",
]
