"""Comparing company names as printed, stamped and OCR-read.

Seal text is read off a curved ring and may lose or mangle a character, the legal-form
suffix included (有限公司 read 有际公司); names also differ in that suffix (有限公司 /
有限责任公司). The distinctive part (place + trade name + line of business) is compared
with a similarity ratio, after a suffix that is mostly there is dropped, so one misread
character still matches while another company's seal (another city, another trade
name) does not. What a seal's text *is* — a registration authority's, a company's, or
too mangled to tell — is judged the same way, by how much of the expected words it
carries in order.

>>> similarity("泓都市瑞丰文化有限公司", "成都市瑞丰文化有限公司") >= MATCH_AT
True
>>> similarity("上海市鼎盛文化有际公司", "上海市鼎盛文化有限公司") >= MATCH_AT
True
>>> similarity("北京市海纳网络有限公司", "杭州市海纳网络有限公司") >= MATCH_AT
False
>>> seal_kind("南京市市场监育繁理局"), seal_kind("成都市润泽电子有限公司"), seal_kind("医只店汤")
('authority', 'company', 'unreadable')
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

MATCH_AT = 0.8
_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团", "合伙企业")
_NOISE = re.compile(r"[\s()（）★·]")
# The names of registration authorities, whose seal a business licence bears.
AUTHORITY_NAMES = ("市场监督管理局", "工商行政管理局", "行政审批局")
# Share of a phrase's characters, in order, a reading must carry to count as it: 4 of
# 市场监督管理局's 7 (two OCR confusions and a lost character still pass), 2 of 有限公司's
# 4. Another company's name carries at most 1 of the authority's (its city's 市).
AUTHORITY_AT = 0.55
COMPANY_AT = 0.5


def coverage(phrase: str, text: str) -> float:
    """Share of ``phrase``'s characters found in ``text`` in order (0–1)."""
    if not phrase:
        return 0.0
    blocks = SequenceMatcher(None, phrase, text, autojunk=False).get_matching_blocks()
    return sum(b.size for b in blocks) / len(phrase)


def core(name: str) -> str:
    """The distinctive part: the name without noise and without a legal-form suffix
    that is at least half there (so a misread suffix is dropped too)."""
    text = _NOISE.sub("", name)
    for suffix in _SUFFIXES:
        tail = text[-len(suffix) :]
        near = coverage(suffix, tail) >= 0.5 if len(suffix) >= 4 else tail == suffix
        if len(text) > len(suffix) and near:
            return text[: -len(suffix)]
    return text


def similarity(a: str, b: str) -> float:
    ca, cb = core(a), core(b)
    if not ca or not cb:
        return 0.0
    return SequenceMatcher(None, ca, cb).ratio()


def best_match(text: str, names: list[str]) -> float:
    return max((similarity(text, n) for n in names), default=0.0)


def seal_kind(text: str) -> str:
    """``authority``, ``company`` or ``unreadable``: what a seal's reading names."""
    clean = _NOISE.sub("", text)
    if max(coverage(p, clean) for p in AUTHORITY_NAMES) >= AUTHORITY_AT:
        return "authority"
    tail = clean[-6:]
    suffix = max(coverage(s, tail) if len(s) >= 4 else float(tail.endswith(s)) for s in _SUFFIXES)
    if len(clean) >= 5 and suffix >= COMPANY_AT:
        return "company"
    return "unreadable"
