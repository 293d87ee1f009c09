"""Printed fields of ID cards, business licences and certificates, from OCR lines.

Labels and values come out of OCR either as one line (``民族汉``) or as neighbours on
the same row (``姓名`` | ``陈强鹏``); both are read. Numbers are found by their shape
anywhere on the page when no label is next to them.
"""

from __future__ import annotations

import re

from fengkong.documents.ocr import Line

ID_NUMBER = re.compile(r"(?<![0-9])([1-9][0-9]{16}[0-9Xx])(?![0-9])")
USCC = re.compile(
    r"(?<![0-9A-Z])([0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10})(?![0-9A-Z])"
)
DATE = re.compile(r"([12][0-9]{3})\s*年\s*([0-9]{1,2})\s*月\s*([0-9]{1,2})\s*日")
COMPANY = re.compile(
    r"([\u4e00-\u9fff（）()]{4,40}(?:有限公司|有限责任公司|股份有限公司|集团|合伙企业|个体工商户|厂|店))"
)

ID_LABELS = {"name": "姓名", "sex": "性别", "nation": "民族", "birth": "出生", "address": "住址"}
LICENCE_LABELS = {
    "name": "名称",
    "type": "类型",
    "legal_rep": "法定代表人",
    "capital": "注册资本",
    "founded": "成立日期",
    "address": "住所",
}


def _clean(text: str) -> str:
    return re.sub(r"[\s:：]", "", text)


def _value(lines: list[Line], label: str, stop: tuple[str, ...] = ()) -> str | None:
    """The value after ``label``: on the same line, else the next line on its row."""
    for i, line in enumerate(lines):
        text = _clean(line.text)
        at = text.find(label)
        if at < 0:
            continue
        rest = text[at + len(label) :]
        for other in stop:
            if other in rest:
                rest = rest[: rest.index(other)]
        if rest:
            return rest
        row = [
            o
            for o in lines[i + 1 :]
            if abs(o.cy - line.cy) < max(line.height, o.height) * 0.7 and o.box[0] > line.box[0]
        ]
        if row:
            return _clean(min(row, key=lambda o: o.box[0]).text)
    return None


def _address(lines: list[Line], label: str, until: str) -> str | None:
    """A value that wraps over several lines (an address) up to the next label."""
    start = next((i for i, ln in enumerate(lines) if label in _clean(ln.text)), None)
    if start is None:
        return None
    parts = [_clean(lines[start].text).split(label, 1)[1]]
    for line in lines[start + 1 :]:
        text = _clean(line.text)
        if until in text or any(lab in text for lab in ID_LABELS.values()):
            break
        if line.box[0] >= lines[start].box[0]:
            parts.append(text)
    joined = "".join(parts)
    return joined or None


def id_card_fields(lines: list[Line]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in ("name", "sex", "nation", "birth"):
        value = _value(lines, ID_LABELS[key], stop=("民族", "性别"))
        if value:
            out[key] = value
    address = _address(lines, "住址", "公民身份号码")
    if address:
        out["address"] = address
    for line in lines:
        found = ID_NUMBER.search(_clean(line.text))
        if found:
            out["id_number"] = found.group(1).upper()
            break
    return out


def licence_fields(lines: list[Line]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, label in LICENCE_LABELS.items():
        value = _value(lines, label)
        if value:
            out[key] = value
    for line in lines:
        found = USCC.search(_clean(line.text).upper())
        if found:
            out["uscc"] = found.group(1)
            break
    return out


def company_names(lines: list[Line]) -> list[str]:
    """Every company name printed on the page."""
    names: list[str] = []
    for line in lines:
        text = re.sub(r"(单位名称|公司名称|名称)", " ", _clean(line.text))
        names.extend(m.group(1) for m in COMPANY.finditer(text))
    return names


def parse_date(text: str) -> tuple[int, int, int] | None:
    found = DATE.search(text)
    if not found:
        return None
    return int(found.group(1)), int(found.group(2)), int(found.group(3))
