"""Synthetic ID cards, business licences and sealed certificates, genuine and forged.

For evaluation and tests only. Every document is drawn (:mod:`fengkong.documents.synth_draw`),
captured the way a real upload is — a phone photo or scan at some resolution, with
blur, uneven light, brightness-dependent sensor noise and the camera's JPEG, then
possibly resized or recompressed by the app that uploads it — and forged the way
workshops do it, from naive pastes to careful edits, on the captured JPEG, which the
forger saves again. How a document is captured is a :class:`Capture` profile: the
forensic checks are tuned on one profile and evaluated on another, so that they cannot
key on one setting of the generator. Each sample carries its ground truth.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from fengkong.documents.synth_draw import (
    ID_PHOTO_BOX,
    ID_VALUE_AT,
    FontMissingError,
    Person,
    box_size,
    cjk_font,
    cjk_font_path,
    draw_certificate,
    draw_id_card,
    draw_licence,
    encode,
    grain,
    make_company,
    make_person,
    portrait,
    reload,
    ric_check,
)

__all__ = [
    "CAPTURES",
    "FORGERY_KINDS",
    "Capture",
    "FontMissingError",
    "Sample",
    "cjk_font_path",
    "make_certificate_sample",
    "make_id_sample",
    "make_licence_sample",
]

FORGERY_KINDS = (
    "genuine",
    "bad_checksum",
    "field_mismatch",
    "naive_paste",
    "digital_paste",
    "careful_paste",
    "naive_text_edit",
    "careful_text_edit",
    "copy_move",
    "recycled_template",
    "seal_mismatch",
    "bad_uscc",
)


@dataclass(frozen=True)
class Capture:
    """How documents reach fengkong: the camera or scanner, the forger's editor, the app."""

    scale: tuple[float, float]  # capture resolution relative to the drawn document
    blur: tuple[float, float]  # Gaussian blur radius (focus, motion, scanner optics)
    noise: tuple[float, float]  # sensor noise sigma at mid-grey
    shot_noise: float  # share of the noise variance that grows with brightness
    lighting: float  # largest brightness fall-off across the page
    camera_quality: tuple[int, int]
    editor_quality: tuple[int, int]  # what the forger saves the edited image at
    app_resize: float  # probability the uploading app downsizes the image
    app_scale: tuple[float, float]
    app_recompress: float  # probability it recompresses it (at the same size)
    app_quality: tuple[int, int]


CAPTURES = {
    # "A": the profile the forensic thresholds were tuned on.
    "A": Capture(
        scale=(0.9, 1.2),
        blur=(0.3, 0.7),
        noise=(2.0, 4.0),
        shot_noise=0.3,
        lighting=0.1,
        camera_quality=(80, 95),
        editor_quality=(80, 95),
        app_resize=0.15,
        app_scale=(0.75, 0.95),
        app_recompress=0.3,
        app_quality=(75, 92),
    ),
    # "B": never tuned on; wider and other ranges of everything.
    "B": Capture(
        scale=(0.8, 1.4),
        blur=(0.2, 1.0),
        noise=(1.5, 5.0),
        shot_noise=0.7,
        lighting=0.3,
        camera_quality=(72, 97),
        editor_quality=(75, 98),
        app_resize=0.3,
        app_scale=(0.6, 0.9),
        app_recompress=0.4,
        app_quality=(68, 90),
    ),
}


@dataclass
class Sample:
    """One generated document: its image (JPEG, base64) and its ground truth."""

    kind: str  # id_card, business_license, certificate
    forgery: str
    image_b64: str
    fields: dict[str, str]
    account: str
    template_of: str | None = None  # the account whose upload was recycled
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def forged(self) -> bool:
        return self.forgery != "genuine"

    @property
    def scale(self) -> float:
        """Pixels of the uploaded image per pixel of the drawn document."""
        return float(self.notes.get("scale", "1"))


@dataclass
class _Shot:
    img: Image.Image
    scale: float
    sigma: float


def _sensor_noise(pixels: np.ndarray, sigma: float, shot: float, rng: random.Random) -> np.ndarray:
    """Gaussian read noise plus shot noise whose variance grows with brightness."""
    gen = np.random.default_rng(rng.randint(0, 2**31))
    luma = pixels.mean(axis=2)
    std = sigma * np.sqrt((1 - shot) + shot * luma / 128.0)
    noise = gen.normal(0.0, 1.0, luma.shape) * std
    chroma = gen.normal(0.0, 0.3, pixels.shape) * std[..., None]
    return np.asarray(pixels + noise[..., None] + chroma)


def _photograph(img: Image.Image, rng: random.Random, cap: Capture, scale: float) -> _Shot:
    """The document as the camera or scanner records it (before its JPEG)."""
    if scale != 1.0:
        size = (round(img.width * scale), round(img.height * scale))
        img = img.resize(size, Image.Resampling.LANCZOS)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(*cap.blur)))
    pixels = np.asarray(img, dtype=np.float32)
    h, w = pixels.shape[:2]
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * np.linspace(-0.5, 0.5, w)[None, :]
    ramp = ramp + np.sin(angle) * np.linspace(-0.5, 0.5, h)[:, None]
    pixels = pixels * (1.0 - rng.uniform(0, cap.lighting) * (ramp + 0.5))[..., None]
    sigma = rng.uniform(*cap.noise)
    pixels = _sensor_noise(pixels, sigma, cap.shot_noise, rng)
    out = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return _Shot(out, scale, sigma)


def _upload(
    img_b64: str, rng: random.Random, cap: Capture, scale: float
) -> tuple[str, dict[str, str]]:
    """What the app sends: the image as is, downsized, or recompressed."""
    roll = rng.random()
    if roll < cap.app_resize:
        factor = rng.uniform(*cap.app_scale)
        img = reload(img_b64)
        img = img.resize(
            (round(img.width * factor), round(img.height * factor)), Image.Resampling.BICUBIC
        )
        out = encode(img, rng.randint(*cap.app_quality))
        return out, {"scale": f"{scale * factor:.4f}", "app": "resized"}
    if roll < cap.app_resize + cap.app_recompress:
        out = encode(reload(img_b64), rng.randint(*cap.app_quality))
        return out, {"scale": f"{scale:.4f}", "app": "recompressed"}
    return img_b64, {"scale": f"{scale:.4f}", "app": "as captured"}


Box = tuple[int, int, int, int]


def _sized(box: Box, scale: float) -> Box:
    left, top, right, bottom = (round(v * scale) for v in box)
    return left, top, right, bottom


def _at(point: tuple[int, int], scale: float) -> tuple[int, int]:
    return round(point[0] * scale), round(point[1] * scale)


# -- forgeries ---------------------------------------------------------------------------
def _retype(
    img: Image.Image,
    shot: _Shot,
    at: tuple[int, int],
    old: str,
    new: str,
    size: int,
    *,
    careful: bool,
    rng: random.Random,
    source: Image.Image | None = None,
) -> None:
    """Hide the text at ``at`` (document coordinates) and print ``new`` there.

    Naive: a flat rectangle in the paper's colour. Careful: a patch of clean background
    (from ``source``, the blank template, else cloned from the right of the field) with
    the text softened and noise added to look like the photo around it.
    """
    s = shot.scale
    font = cjk_font(size)
    width = int(max(font.getlength(old), font.getlength(new))) + 12
    box = _sized((at[0] - 4, at[1] - 2, at[0] + width, at[1] + size + 10), s)
    if careful and source is not None:
        patch = source.crop(box)
    elif careful:
        shift = round((width + 40) * s)
        patch = img.crop((box[0] + shift, box[1], box[2] + shift, box[3]))
    else:
        colour = img.getpixel((box[0] - 6, box[1] - 6))
        patch = Image.new("RGB", (box[2] - box[0], box[3] - box[1]), colour)
    img.paste(patch, (box[0], box[1]))
    ImageDraw.Draw(img).text(
        _at(at, s), new, font=cjk_font(max(8, round(size * s))), fill=(10, 10, 10)
    )
    if careful:
        region = img.crop(box).filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.7)))
        img.paste(grain(region, shot.sigma * rng.uniform(0.6, 1.0), rng), (box[0], box[1]))


def _paste_photo(img: Image.Image, shot: _Shot, rng: random.Random, cap: Capture, how: str) -> None:
    """Replace the ID photo with someone else's.

    ``digital``: a clean picture (a selfie or a file, no print grain) pasted as is;
    ``naive``: lifted from a low-quality JPEG; ``careful``: photographed like the card
    (often lifted from another card's JPEG, on its own 8-pixel grid), feathered in.
    """
    box = _sized(ID_PHOTO_BOX, shot.scale)
    size = box_size(box)
    photo = portrait(rng, size)
    if how == "digital":
        img.paste(photo.filter(ImageFilter.MedianFilter(5)), (box[0], box[1]))
        return
    if how == "naive":
        photo = reload(encode(grain(photo, 9.0, rng), rng.randint(30, 55)))
        img.paste(photo, (box[0], box[1]))
        return
    photo = _photograph(photo, rng, cap, 1.0).img
    if rng.random() < 0.5:
        # Lifted from another JPEG: cropped off that image's block grid.
        dx, dy = rng.randint(1, 7), rng.randint(1, 7)
        bigger = photo.resize((size[0] + dx, size[1] + dy), Image.Resampling.BICUBIC)
        lifted = reload(encode(bigger, rng.randint(*cap.camera_quality)))
        photo = lifted.crop((dx, dy, dx + size[0], dy + size[1]))
    feather = rng.uniform(2, 6) * shot.scale
    inset = round(feather * 1.5)
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle((inset, inset, size[0] - inset, size[1] - inset), fill=255)
    img.paste(photo, (box[0], box[1]), mask.filter(ImageFilter.GaussianBlur(feather)))


# Fields a clone stamp hides, and blank stretches of the card to clone from (document
# coordinates: left, top, right, bottom).
_CLONE_TARGETS = ((405, 138, 478, 200), (180, 138, 240, 200))
_BLANK = ((500, 130, 685, 210), (330, 55, 685, 130), (80, 405, 680, 505))


def _clone_over(img: Image.Image, shot: _Shot, rng: random.Random) -> None:
    """Clone-stamp a stretch of blank background over a field (hiding it)."""
    left, top, right, bottom = rng.choice(_CLONE_TARGETS)
    w, h = right - left + rng.randint(0, 30), bottom - top
    area = rng.choice([b for b in _BLANK if b[2] - b[0] >= w + 2])
    sx = rng.randint(area[0], area[2] - w)
    sy = rng.randint(area[1], max(area[1], area[3] - h))
    s = shot.scale
    src = _sized((sx, sy, sx + w, sy + h), s)
    img.paste(img.crop(src), _at((left - rng.randint(0, 10), top), s))


def _id_number_with(p: Person, birth: date | None = None, bad_check: bool = False) -> str:
    body = (
        p.id_number[:6] + (f"{birth:%Y%m%d}" if birth else p.id_number[6:14]) + p.id_number[14:17]
    )
    check = ric_check(body)
    if bad_check:
        check = "0123456789X"[("0123456789X".index(check) + 3) % 11]
    return body + check


def _capture(cap: Capture | str) -> Capture:
    return CAPTURES[cap] if isinstance(cap, str) else cap


def make_id_sample(
    n: int,
    forgery: str,
    seed: int = 0,
    template: Sample | None = None,
    capture: Capture | str = "A",
) -> Sample:
    """The ``n``-th ID card of a series with the given forgery (``genuine`` for none)."""
    cap = _capture(capture)
    rng = random.Random(seed * 7_919 + n * 31 + FORGERY_KINDS.index(forgery))
    p = make_person(rng)
    account = f"acct{seed}_{n}"
    printed = {
        "name": p.name,
        "sex": p.sex,
        "birth": f"{p.birth.year}年{p.birth.month}月{p.birth.day}日",
    }
    if forgery == "recycled_template" and template is not None:
        img = reload(template.image_b64)
        new = make_person(rng)
        shot = _Shot(img, template.scale, rng.uniform(*cap.noise))
        old = template.fields["name"]
        _retype(img, shot, ID_VALUE_AT["name"], old, new.name, 38, careful=True, rng=rng)
        fields = {**template.fields, "name": new.name}
        out = encode(img, rng.randint(*cap.editor_quality))
        notes = {"scale": f"{template.scale:.4f}", "app": "edited"}
        return Sample("id_card", forgery, out, fields, account, template.account, notes)
    if forgery == "bad_checksum":
        p.id_number = _id_number_with(p, bad_check=True)
    drawn = p
    if forgery == "field_mismatch":
        # The printed birth date was changed (to look older); the number was not.
        older = p.birth.replace(year=p.birth.year - rng.randint(3, 9))
        drawn = Person(p.name, p.sex, p.nation, older, p.address, p.id_number)
        printed["birth"] = f"{older.year}年{older.month}月{older.day}日"
    scale = rng.uniform(*cap.scale)
    shot = _photograph(draw_id_card(drawn, rng), rng, cap, scale)
    captured = encode(shot.img, rng.randint(*cap.camera_quality))
    if forgery not in ("genuine", "bad_checksum", "field_mismatch"):
        # The forger starts from a genuine card's JPEG, edits it and saves it again.
        img = reload(captured)
        _forge_id(img, shot, p, forgery, printed, rng, cap)
        captured = encode(img, rng.randint(*cap.editor_quality))
    image, notes = _upload(captured, rng, cap, scale)
    return Sample(
        "id_card", forgery, image, {**printed, "id_number": p.id_number}, account, None, notes
    )


def _forge_id(
    img: Image.Image,
    shot: _Shot,
    p: Person,
    forgery: str,
    printed: dict[str, str],
    rng: random.Random,
    cap: Capture,
) -> None:
    if forgery in ("naive_paste", "careful_paste", "digital_paste"):
        _paste_photo(img, shot, rng, cap, forgery.split("_")[0])
    elif forgery in ("naive_text_edit", "careful_text_edit"):
        new = make_person(rng)
        blank = _photograph(
            draw_id_card(Person("", p.sex, p.nation, p.birth, p.address, p.id_number), rng),
            rng,
            cap,
            shot.scale,
        ).img
        careful = forgery == "careful_text_edit"
        at = ID_VALUE_AT["name"]
        _retype(img, shot, at, p.name, new.name, 38, careful=careful, rng=rng, source=blank)
        printed["name"] = new.name
    elif forgery == "copy_move":
        _clone_over(img, shot, rng)


def make_licence_sample(
    n: int, forgery: str, seed: int = 0, capture: Capture | str = "A"
) -> Sample:
    """A business licence: genuine, with a broken credit code, or a pasted seal."""
    cap = _capture(capture)
    rng = random.Random(seed * 104_729 + n * 17 + FORGERY_KINDS.index(forgery))
    c = make_company(rng)
    account = f"biz{seed}_{n}"
    if forgery == "bad_uscc":
        c.uscc = c.uscc[:-1] + ("0" if c.uscc[-1] != "0" else "1")
    authority = None
    if forgery == "seal_mismatch":
        authority = make_company(rng).name  # a company's seal where the authority's goes
    scale = rng.uniform(*cap.scale)
    shot = _photograph(draw_licence(c, rng, authority), rng, cap, scale)
    image, notes = _upload(encode(shot.img, rng.randint(*cap.camera_quality)), rng, cap, scale)
    fields = {"name": c.name, "uscc": c.uscc, "legal_rep": c.legal_rep}
    return Sample("business_license", forgery, image, fields, account, None, notes)


def make_certificate_sample(
    n: int, forgery: str, seed: int = 0, capture: Capture | str = "A"
) -> Sample:
    """An income certificate with the employer's seal (another company's when forged)."""
    cap = _capture(capture)
    rng = random.Random(seed * 15_485_863 + n * 13 + FORGERY_KINDS.index(forgery))
    c, p = make_company(rng), make_person(rng)
    seal_text = None
    if forgery == "seal_mismatch":
        other = make_company(rng)
        while other.name == c.name:
            other = make_company(rng)
        seal_text = other.name
    scale = rng.uniform(*cap.scale)
    shot = _photograph(draw_certificate(c, p, rng, seal_text), rng, cap, scale)
    image, notes = _upload(encode(shot.img, rng.randint(*cap.camera_quality)), rng, cap, scale)
    fields = {"company": c.name, "seal": seal_text or c.name}
    return Sample("certificate", forgery, image, fields, f"emp{seed}_{n}", None, notes)
