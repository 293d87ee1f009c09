"""Comparing company names as printed, stamped and OCR-read.

Seal text is read off a curved ring and often loses or mangles a character; names
also differ in their legal-form suffix (有限公司 / 有限责任公司). The distinctive part
(place + trade name + line of business) is compared with a similarity ratio, so one
misread character still matches while another company's seal (another city, another
trade name) does not.

>>> similarity("泓都市瑞丰文化有限公司", "成都市瑞丰文化有限公司") >= MATCH_AT
True
>>> similarity("北京市海纳网络有限公司", "杭州市海纳网络有限公司") >= MATCH_AT
False
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

MATCH_AT = 0.8
_SUFFIX = re.compile(r"(股份有限公司|有限责任公司|有限公司|集团|合伙企业)$")
_NOISE = re.compile(r"[\s()（）★·]")


def core(name: str) -> str:
    return _SUFFIX.sub("", _NOISE.sub("", name))


def similarity(a: str, b: str) -> float:
    ca, cb = core(a), core(b)
    if not ca or not cb:
        return 0.0
    return SequenceMatcher(None, ca, cb).ratio()


def best_match(text: str, names: list[str]) -> float:
    return max((similarity(text, n) for n in names), default=0.0)
