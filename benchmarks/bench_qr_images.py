"""Decode rate and latency of QR codes read from damaged screenshots.

    python benchmarks/bench_qr_images.py --samples 2000

Generates screenshots (``fengkong.links.qr_synth``: rotation, blur, noise, JPEG
compression, occlusion within the error-correction budget), reads each with
``fengkong.links.qr_image.read_qr`` and prints the share decoded to the right payload,
per kind of damage, with p50 / p99 decode time. The floor beside it is one plain zxing
pass on the same images (no retries on cleaned-up versions).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter

import numpy as np
import zxingcpp
from PIL import ImageOps
from tqdm import tqdm

from fengkong.imaging import decode_image, image_bytes
from fengkong.links.qr_image import read_qr
from fengkong.links.qr_synth import make_sample


def _plain(image_b64: str) -> list[str]:
    gray = np.asarray(ImageOps.grayscale(decode_image(image_bytes(image_b64))))
    return [b.text for b in zxingcpp.read_barcodes(gray) if b.valid]


def _bucket(damage: str) -> list[str]:
    parts = damage.split()
    out = ["occluded"] if "occluded" in parts else []
    rot = next(p for p in parts if p.startswith("rot"))
    blur = float(next(p for p in parts if p.startswith("blur"))[4:])
    noise = float(next(p for p in parts if p.startswith("noise"))[5:])
    if abs(float(rot[3:])) >= 20:
        out.append("rotated >= 20°")
    if blur >= 1.0:
        out.append("blur >= 1 px")
    if noise >= 12:
        out.append("noise sigma >= 12")
    return out or ["light damage"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    ok = plain_ok = 0
    per: Counter[str] = Counter()
    per_ok: Counter[str] = Counter()
    times: list[float] = []
    for n in tqdm(range(args.samples), desc="screenshots"):
        sample = make_sample(n, args.seed)
        started = time.perf_counter()
        found = sample.payload in read_qr(sample.image_b64)["payloads"]
        times.append((time.perf_counter() - started) * 1000)
        plain_ok += sample.payload in _plain(sample.image_b64)
        ok += found
        for bucket in _bucket(sample.damage):
            per[bucket] += 1
            per_ok[bucket] += found
    n = args.samples
    print(f"decoded: {ok}/{n} = {ok / n:.2%}   (one plain zxing pass: {plain_ok / n:.2%})")
    for bucket in sorted(per):
        print(f"  {bucket:<20} {per_ok[bucket]}/{per[bucket]} = {per_ok[bucket] / per[bucket]:.2%}")
    q = statistics.quantiles(times, n=100)
    print(f"read_qr latency: p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms, max {max(times):.1f} ms")


if __name__ == "__main__":
    main()
