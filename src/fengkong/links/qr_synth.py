"""Synthetic QR screenshots for tests and the decode-rate benchmark.

Each sample is a code drawn by ``segno`` on a phone-screen-like canvas, then damaged
the way photos and screenshots of codes are: rotation, blur, sensor noise, JPEG
compression and a partial occlusion (a sticker or finger over part of the data area,
kept within what the code's error-correction level can restore, away from the three
finder patterns without which no reader locates a code).
"""

from __future__ import annotations

import base64
import io
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# Share of the symbol's area an occlusion may cover, per error-correction level; half
# the level's nominal recovery capacity, since an occlusion also hides quiet modules.
_OCCLUSION = {"m": 0.05, "q": 0.08, "h": 0.12}
_PAYLOADS = (
    "https://qr.alipay.com/fkx{n:05d}",
    "wxp://f2f0{n:06d}",
    "https://alipay-refund.example-help.com/pay?id={n}",
    "http://a1ipay-kefu.top/tuikuan?u={n}",
    "https://u.wechat.com/EM{n:06d}",
    "https://bit.ly/3x{n:04d}",
    "https://www.icbc.com.cn@evil.example/login?n={n}",
    "https://shop.example/item/{n}?ref=qr",
)


@dataclass(frozen=True, slots=True)
class QRSample:
    payload: str
    image_b64: str
    damage: str


def _symbol(payload: str, level: str, rng: random.Random) -> Image.Image:
    import segno

    code = segno.make(payload, error=level, micro=False)
    buf = io.BytesIO()
    code.save(buf, kind="png", scale=rng.randint(4, 9), border=4)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _occlude(img: Image.Image, level: str, rng: random.Random) -> None:
    """A grey patch over the data area, avoiding the three finder patterns."""
    w, h = img.size
    quiet = w // 12  # ~ the 4-module border of a 41-module code plus margin
    finder = int(w * 0.3)
    area = _OCCLUSION[level] * (w - 2 * quiet) * (h - 2 * quiet)
    side = int(area**0.5)
    for _ in range(50):
        x = rng.randint(quiet, w - quiet - side)
        y = rng.randint(quiet, h - quiet - side)
        near_top_left = x < finder and y < finder
        near_top_right = x + side > w - finder and y < finder
        near_bottom_left = x < finder and y + side > h - finder
        if not (near_top_left or near_top_right or near_bottom_left):
            colour = tuple(rng.randint(90, 200) for _ in range(3))
            ImageDraw.Draw(img).rectangle((x, y, x + side, y + side), fill=colour)
            return


def _screen(symbol: Image.Image, rng: random.Random) -> Image.Image:
    """A phone screen (solid UI colour, a few text bars) with the code on it."""
    side = symbol.width
    screen = Image.new("RGB", (side + rng.randint(80, 300), side + rng.randint(200, 600)))
    screen.paste(tuple(rng.randint(180, 255) for _ in range(3)), (0, 0, *screen.size))
    draw = ImageDraw.Draw(screen)
    for i in range(rng.randint(2, 6)):
        y = 10 + i * 24
        draw.rectangle((12, y, rng.randint(60, screen.width - 12), y + 12), fill=(60, 60, 60))
    x = (screen.width - side) // 2
    y = rng.randint(160, screen.height - side - 10)
    screen.paste(symbol, (x, y))
    return screen


def make_sample(n: int, seed: int = 0) -> QRSample:
    """The ``n``-th screenshot of a series (same ``seed`` and ``n``: same image)."""
    rng = random.Random(seed * 1_000_003 + n)
    payload = rng.choice(_PAYLOADS).format(n=n)
    level = rng.choice("mqh")
    symbol = _symbol(payload, level, rng)
    damage = []
    if rng.random() < 0.5:
        _occlude(symbol, level, rng)
        damage.append("occluded")
    img = _screen(symbol, rng)
    angle = rng.uniform(-45, 45) if rng.random() < 0.7 else rng.choice((90, 180, 270))
    img = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(30, 30, 30))
    damage.append(f"rot{angle:.0f}")
    radius = rng.uniform(0, 1.6)
    img = img.filter(ImageFilter.GaussianBlur(radius))
    damage.append(f"blur{radius:.1f}")
    sigma = rng.uniform(0, 18)
    pixels = np.asarray(img, dtype=np.float32)
    noisy = pixels + np.random.default_rng(n + seed).normal(0, sigma, pixels.shape)
    img = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    damage.append(f"noise{sigma:.0f}")
    quality = rng.randint(35, 90)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    damage.append(f"q{quality}")
    return QRSample(payload, base64.b64encode(buf.getvalue()).decode(), " ".join(damage))
