"""Drawing documents for the generator: people, companies, ID cards, licences, seals.

The people, companies and numbers are made up; ID numbers and credit codes are built
with valid check digits (the forgeries in :mod:`fengkong.documents.synth` break them).
Drawn in a CJK font from Debian (``fonts-wqy-microhei`` or ``fonts-noto-cjk``).
"""

from __future__ import annotations

import base64
import io
import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_PATHS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
)

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾"
_GIVEN = "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉萍红建文辉鹏飞宇浩然"
# County codes (GB/T 2260) with the names printed in the address.
_REGIONS = (
    ("110101", "北京市东城区"),
    ("310104", "上海市徐汇区"),
    ("440305", "广东省深圳市南山区"),
    ("330106", "浙江省杭州市西湖区"),
    ("510107", "四川省成都市武侯区"),
    ("420111", "湖北省武汉市洪山区"),
    ("320102", "江苏省南京市玄武区"),
    ("370202", "山东省青岛市市南区"),
)
_STREETS = [
    "建设路",
    "人民路",
    "解放路",
    "中山路",
    "和平街",
    "长江路",
    "朝阳路",
    "文化路",
    "新华街",
    "胜利路",
]
_TRADES = [
    "科技",
    "贸易",
    "商贸",
    "网络",
    "信息",
    "实业",
    "电子",
    "餐饮",
    "物流",
    "建材",
    "文化",
    "咨询",
]
_WORDS = [
    "华信",
    "鼎盛",
    "恒达",
    "金源",
    "瑞丰",
    "博远",
    "天成",
    "佳和",
    "宏图",
    "众联",
    "海纳",
    "同创",
    "润泽",
    "启明",
]
_NATIONS = ("汉", "汉", "汉", "汉", "回", "满", "壮", "苗")


class FontMissingError(RuntimeError):
    """No CJK font installed (``apt-get install fonts-wqy-microhei``)."""


def cjk_font_path() -> Path | None:
    return next((p for p in FONT_PATHS if p.exists()), None)


def cjk_font(size: int) -> ImageFont.FreeTypeFont:
    path = cjk_font_path()
    if path is None:
        raise FontMissingError("no CJK font: apt-get install fonts-wqy-microhei")
    return ImageFont.truetype(str(path), size)


@dataclass
class Person:
    name: str
    sex: str
    nation: str
    birth: date
    address: str
    id_number: str


@dataclass
class Company:
    name: str
    uscc: str
    legal_rep: str
    founded: date
    address: str


def ric_check(body17: str) -> str:
    weights = [pow(2, 17 - i, 11) for i in range(17)]
    total = sum(int(d) * w for d, w in zip(body17, weights, strict=True))
    return "10X98765432"[total % 11]


def uscc_check(body17: str) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    total = sum(alphabet.index(c) * w for c, w in zip(body17, weights, strict=True))
    return alphabet[(31 - total % 31) % 31]


def make_person(rng: random.Random) -> Person:
    code, place = rng.choice(_REGIONS)
    birth = date(1960, 1, 1) + timedelta(days=rng.randint(0, 16000))
    seq = rng.randint(0, 999)
    sex = "男" if seq % 2 else "女"
    body = f"{code}{birth:%Y%m%d}{seq:03d}"
    name = rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.randint(1, 2)))
    street = f"{rng.choice(_STREETS)}{rng.randint(1, 300)}号"
    address = f"{place}{street}{rng.randint(1, 30)}栋{rng.randint(101, 2508)}室"
    return Person(name, sex, rng.choice(_NATIONS), birth, address, body + ric_check(body))


def make_company(rng: random.Random) -> Company:
    code, place = rng.choice(_REGIONS)
    city = place.split("省")[-1][:3]
    name = f"{city}{rng.choice(_WORDS)}{rng.choice(_TRADES)}有限公司"
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "91" + code + "".join(rng.choice(alphabet) for _ in range(9))
    founded = date(2005, 1, 1) + timedelta(days=rng.randint(0, 6500))
    rep = rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(_GIVEN)
    street = f"{place}{rng.choice(_STREETS)}{rng.randint(1, 300)}号"
    return Company(name, body + uscc_check(body), rep, founded, street)


# -- drawing ---------------------------------------------------------------------------
def _guilloche(img: Image.Image, rng: random.Random, colour: tuple[int, int, int]) -> None:
    """The fine wavy security lines printed behind an ID card's fields."""
    draw = ImageDraw.Draw(img)
    w, h = img.size
    phase = rng.uniform(0, math.tau)
    for k in range(0, h + 40, 9):
        pts = [(x, k + 6 * math.sin(x / 23.0 + phase + k / 31.0)) for x in range(0, w + 8, 8)]
        draw.line(pts, fill=colour, width=1)


def portrait(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """A stand-in ID photo: head, hair and shoulders, blurred and grainy like a print."""
    w, h = size
    bg = rng.choice([(235, 240, 250), (250, 250, 250), (200, 220, 245)])
    img = Image.new("RGB", size, bg)
    d = ImageDraw.Draw(img)
    skin = (rng.randint(200, 240), rng.randint(160, 200), rng.randint(130, 170))
    cloth = tuple(rng.randint(10, 90) for _ in range(3))
    cx = w // 2 + rng.randint(-8, 8)
    d.polygon(
        [
            (cx - w * 0.45, h),
            (cx - w * 0.3, h * 0.72),
            (cx + w * 0.3, h * 0.72),
            (cx + w * 0.45, h),
        ],
        fill=cloth,
    )
    d.rectangle((cx - w * 0.08, h * 0.55, cx + w * 0.08, h * 0.75), fill=skin)
    hw, hh = w * rng.uniform(0.25, 0.32), h * rng.uniform(0.28, 0.34)
    d.ellipse((cx - hw - 4, h * 0.12, cx + hw + 4, h * 0.12 + hh * 1.2), fill=(20, 15, 12))
    d.ellipse((cx - hw, h * 0.2, cx + hw, h * 0.2 + 2 * hh), fill=skin)
    for ex in (-hw * 0.4, hw * 0.4):
        d.ellipse((cx + ex - 6, h * 0.42, cx + ex + 6, h * 0.42 + 6), fill=(30, 25, 20))
    d.line((cx - 12, h * 0.6, cx + 12, h * 0.6), fill=(150, 70, 70), width=3)
    img = img.filter(ImageFilter.GaussianBlur(1.2))
    return grain(img, rng.uniform(3, 6), rng)


def grain(img: Image.Image, sigma: float, rng: random.Random) -> Image.Image:
    pixels = np.asarray(img, dtype=np.float32)
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, sigma, pixels.shape[:2])
    return Image.fromarray(np.clip(pixels + noise[..., None], 0, 255).astype(np.uint8))


def jpeg(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


ID_BG = (222, 232, 240)
ID_SIZE = (1000, 630)
ID_PHOTO_BOX = (690, 90, 930, 390)
# Where each printed field's value starts on the card, for edits and ground truth.
ID_VALUE_AT = {"name": (190, 70), "sex": (190, 150), "nation": (420, 150), "birth": (190, 230)}


def draw_id_card(p: Person, rng: random.Random, photo: Image.Image | None = None) -> Image.Image:
    img = Image.new("RGB", ID_SIZE, ID_BG)
    _guilloche(img, rng, (205, 218, 232))
    d = ImageDraw.Draw(img)
    label, value = cjk_font(30), cjk_font(38)
    blue = (40, 90, 150)
    d.text((70, 75), "姓名", font=label, fill=blue)
    d.text(ID_VALUE_AT["name"], p.name, font=value, fill=(10, 10, 10))
    d.text((70, 155), "性别", font=label, fill=blue)
    d.text(ID_VALUE_AT["sex"], p.sex, font=value, fill=(10, 10, 10))
    d.text((320, 155), "民族", font=label, fill=blue)
    d.text(ID_VALUE_AT["nation"], p.nation, font=value, fill=(10, 10, 10))
    d.text((70, 235), "出生", font=label, fill=blue)
    birth = f"{p.birth.year}年{p.birth.month}月{p.birth.day}日"
    d.text(ID_VALUE_AT["birth"], birth, font=value, fill=(10, 10, 10))
    d.text((70, 315), "住址", font=label, fill=blue)
    for i in range(0, len(p.address), 12):
        d.text(
            (190, 310 + (i // 12) * 48), p.address[i : i + 12], font=cjk_font(34), fill=(10, 10, 10)
        )
    d.text((70, 520), "公民身份号码", font=label, fill=blue)
    d.text((300, 512), p.id_number, font=cjk_font(44), fill=(10, 10, 10))
    img.paste(photo or portrait(rng, box_size(ID_PHOTO_BOX)), ID_PHOTO_BOX[:2])
    return img


def box_size(box: tuple[int, int, int, int]) -> tuple[int, int]:
    return box[2] - box[0], box[3] - box[1]


def draw_seal(text: str, diameter: int, rng: random.Random, centre: str = "★") -> Image.Image:
    """A round red seal: ring, text along the upper arc, a star; RGBA for stamping."""
    size = diameter + 8
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    red = (215, 30, 35, 235)
    c = size / 2
    r = diameter / 2
    d.ellipse((c - r, c - r, c + r, c + r), outline=red, width=max(4, diameter // 40))
    d.text((c, c), centre, font=cjk_font(int(diameter * 0.28)), fill=red, anchor="mm")
    font = cjk_font(int(diameter * 0.13))
    span = min(250.0, 18.0 * len(text) + 40)  # degrees of arc the text covers
    for i, ch in enumerate(text):
        # Characters from the left-bottom over the top to the right, tops outward.
        angle = -90 - span / 2 + span * (i + 0.5) / len(text)
        rad = math.radians(angle)
        side = int(font.size) + 8
        glyph = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text(
            (glyph.width / 2, glyph.height / 2), ch, font=font, fill=red, anchor="mm"
        )
        glyph = glyph.rotate(-(angle + 90), resample=Image.Resampling.BICUBIC, expand=True)
        gx = c + (r * 0.76) * math.cos(rad) - glyph.width / 2
        gy = c + (r * 0.76) * math.sin(rad) - glyph.height / 2
        img.alpha_composite(glyph, (int(gx), int(gy)))
    return img.rotate(rng.uniform(-8, 8), resample=Image.Resampling.BICUBIC)


def stamp(img: Image.Image, seal: Image.Image, at: tuple[int, int]) -> None:
    """Press ``seal`` onto ``img``: red ink multiplies with the paper beneath."""
    region = img.crop((at[0], at[1], at[0] + seal.width, at[1] + seal.height))
    base = np.asarray(region, dtype=np.float32)
    ink = np.asarray(seal, dtype=np.float32)
    alpha = ink[..., 3:4] / 255.0
    mixed = base * (1 - alpha) + (base * ink[..., :3] / 255.0) * alpha
    img.paste(Image.fromarray(np.clip(mixed, 0, 255).astype(np.uint8)), at)


LICENCE_SIZE = (1100, 780)


def draw_licence(c: Company, rng: random.Random, authority: str | None = None) -> Image.Image:
    img = Image.new("RGB", LICENCE_SIZE, (250, 247, 238))
    d = ImageDraw.Draw(img)
    d.rectangle((20, 20, 1080, 760), outline=(190, 60, 50), width=10)
    d.text((550, 90), "营 业 执 照", font=cjk_font(64), fill=(180, 30, 30), anchor="mm")
    f = cjk_font(32)
    rows = [
        ("统一社会信用代码", c.uscc),
        ("名称", c.name),
        ("类型", "有限责任公司"),
        ("法定代表人", c.legal_rep),
        ("注册资本", f"{rng.choice(['壹佰', '伍佰', '贰佰', '壹仟'])}万元整"),
        ("成立日期", f"{c.founded.year}年{c.founded.month:02d}月{c.founded.day:02d}日"),
        ("住所", c.address),
    ]
    for i, (k, v) in enumerate(rows):
        y = 170 + i * 70
        d.text((80, y), k, font=f, fill=(20, 20, 20))
        d.text((380, y), v, font=f, fill=(20, 20, 20))
    city = c.address.split("省")[-1][:3]
    seal = draw_seal(authority or f"{city}市场监督管理局", 230, rng)
    stamp(img, seal, (800, 500))
    return img


CERT_SIZE = (1000, 760)


def draw_certificate(
    c: Company, p: Person, rng: random.Random, seal_text: str | None = None
) -> Image.Image:
    """An employment and income certificate (在职收入证明) bearing the company seal."""
    img = Image.new("RGB", CERT_SIZE, (252, 252, 250))
    d = ImageDraw.Draw(img)
    d.text((500, 80), "在职收入证明", font=cjk_font(52), fill=(20, 20, 20), anchor="mm")
    f = cjk_font(30)
    lines = [
        f"兹证明{p.name}同志",
        f"身份证号码{p.id_number}",
        f"自{c.founded.year + 1}年起在我单位工作",
        f"月收入人民币{rng.randint(6, 40)}000元",
        "特此证明",
    ]
    for i, line in enumerate(lines):
        d.text((90, 170 + i * 62), line, font=f, fill=(20, 20, 20))
    d.text((560, 560), f"单位名称 {c.name}"[:22], font=cjk_font(28), fill=(20, 20, 20))
    d.text((600, 620), f"{c.founded.year + 10}年06月18日", font=cjk_font(28), fill=(20, 20, 20))
    stamp(img, draw_seal(seal_text or c.name, 240, rng), (640, 470))
    return img


def encode(img: Image.Image, quality: int) -> str:
    return base64.b64encode(jpeg(img, quality)).decode()


def reload(data_b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(data_b64))).convert("RGB")
