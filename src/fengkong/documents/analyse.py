"""Everything fengkong reads from one document image, in an image worker.

``analyse_document`` decodes the image, reads its text (OCR), extracts the printed
fields of its kind, checks numbers against fields, finds and reads seals, runs the
pixel forensics and computes a perceptual hash. It returns derived data only, never
pixels, with each check's time, so the decision's explanation keeps no image.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import numpy as np

from fengkong.documents import checks, fields
from fengkong.documents.facts import TAMPER_KINDS
from fengkong.imaging import ImageError, decode_image, image_bytes

# Perceptual hash: a difference hash of 32x32 gradients (1,024 bits). On generated
# ID cards of one template, two people's cards were at least 105 bits apart, a copy
# with a new name typed in at most 49, the same card rescaled and re-saved at JPEG
# quality 70 at most 67 (benchmarks/bench_documents.py; lower-frequency DCT hashes put
# the template's layout first and could not tell these apart).
HASH_SIZE = 32


def _timed(timings: dict[str, float], name: str, started: float) -> None:
    timings[name] = round((time.perf_counter() - started) * 1000.0, 2)


def perceptual_hash(img: Any) -> str:
    import imagehash

    return str(imagehash.dhash(img, hash_size=HASH_SIZE))


def analyse_document(image_b64: str, kind: str, today: str) -> dict[str, Any]:
    """Derived facts of one document image (see docs/documents.md)."""
    from fengkong.documents.forensics import forensics
    from fengkong.documents.ocr import read_lines, without_red
    from fengkong.documents.seal import find_seals
    from fengkong.documents.text_boxes import text_box_scores

    timings: dict[str, float] = {}
    started = time.perf_counter()
    try:
        data = image_bytes(image_b64)
        img = decode_image(data)
    except ImageError as exc:
        return {"error": str(exc), "timings_ms": timings}
    _timed(timings, "decode", started)
    out: dict[str, Any] = {"width": img.width, "height": img.height}

    started = time.perf_counter()
    out["phash"] = perceptual_hash(img)
    _timed(timings, "phash", started)

    started = time.perf_counter()
    rgb = np.asarray(img, dtype=np.uint8)
    lines = read_lines(without_red(rgb))
    _timed(timings, "ocr", started)
    out["ocr_lines"] = len(lines)
    out["ocr_confidence"] = round(min((ln.score for ln in lines), default=0.0), 3)

    started = time.perf_counter()
    printed: dict[str, str] = {}
    if kind == "id_card":
        printed = fields.id_card_fields(lines)
        day = date.fromisoformat(today)
        out.update(checks.id_number_facts(printed.get("id_number"), printed, day))
    elif kind == "business_license":
        printed = fields.licence_fields(lines)
        out.update(checks.uscc_facts(printed.get("uscc")))
    out["fields"] = printed
    out["companies"] = fields.company_names(lines)
    _timed(timings, "fields", started)

    started = time.perf_counter()
    seals = find_seals(rgb)
    out["seals"] = [
        {"text": s.text, "score": round(s.score, 3), "authority": s.is_authority, "kind": s.kind}
        for s in seals
    ]
    _timed(timings, "seal", started)

    started = time.perf_counter()
    out.update({k: round(v, 3) for k, v in forensics(img, data).items()})
    _timed(timings, "forensics", started)

    if kind in TAMPER_KINDS:
        started = time.perf_counter()
        gray = np.asarray(img.convert("L"), dtype=np.float64)
        scores = text_box_scores(gray, [ln.box for ln in lines])
        out.update({k: round(v, 3) for k, v in scores.items()})
        _timed(timings, "text_boxes", started)
    out["timings_ms"] = timings
    return out
