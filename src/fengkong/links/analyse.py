"""Risk facts of a QR payload or link: what a phishing page gives away in its address.

Phishing QR codes and links lean on a few devices that hold across campaigns: a brand
name in a domain the brand does not own (``alipay-refund.example-help.com``), look-alike
spellings (``a1ipay``), raw IP hosts, punycode, URL shorteners that hide the target,
cheap top-level domains, credentials-style ``user@host`` tricks and lure words
("refund", "unfreeze", "客服"). Each is a fact; ``risk`` combines them.

>>> facts = analyse_link("https://alipay-refund.example-help.com/pay?id=88")
>>> facts["link.impersonates_brand"], facts["link.has_lure_words"], facts["link.risk"] >= 0.6
(True, True, True)
>>> analyse_link("https://qr.alipay.com/bax01234")["link.is_official"]
True
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from publicsuffixlist import PublicSuffixList

LinkValue = str | bool | float | int | None

# Brand keyword (as it appears in hosts, pinyin included) -> domains the brand owns.
OFFICIAL_DOMAINS: dict[str, frozenset[str]] = {
    "alipay": frozenset({"alipay.com", "alipayobjects.com", "antgroup.com", "alipay.cn"}),
    "huabei": frozenset({"alipay.com", "antgroup.com"}),
    "jiebei": frozenset({"alipay.com", "antgroup.com"}),
    "antgroup": frozenset({"antgroup.com"}),
    "taobao": frozenset({"taobao.com", "tb.cn"}),
    "tmall": frozenset({"tmall.com"}),
    "weixin": frozenset({"qq.com", "weixin.com"}),
    "wechat": frozenset({"qq.com", "wechat.com"}),
    "tenpay": frozenset({"tenpay.com", "qq.com"}),
    "unionpay": frozenset({"unionpay.com", "95516.com"}),
    "icbc": frozenset({"icbc.com.cn", "icbc.com"}),
    "ccb": frozenset({"ccb.com", "ccb.cn"}),
    "bankofchina": frozenset({"boc.cn", "bankofchina.com"}),
    "abchina": frozenset({"abchina.com"}),
    "cmbchina": frozenset({"cmbchina.com", "cmbimg.com"}),
    "jdpay": frozenset({"jd.com", "jdpay.com"}),
    "meituan": frozenset({"meituan.com"}),
    "pinduoduo": frozenset({"pinduoduo.com", "yangkeduo.com"}),
    "paypal": frozenset({"paypal.com"}),
}
SHORTENERS = frozenset(
    {
        "t.cn",
        "url.cn",
        "dwz.cn",
        "suo.im",
        "bit.ly",
        "tinyurl.com",
        "is.gd",
        "goo.gl",
        "t.co",
        "ow.ly",
        "rebrand.ly",
        "cutt.ly",
        "s.id",
        "v.gd",
    }
)
# Cheap or free top-level domains that host a large share of phishing pages.
SUSPICIOUS_TLDS = frozenset(
    {
        "top",
        "xyz",
        "icu",
        "club",
        "vip",
        "tk",
        "ml",
        "ga",
        "cf",
        "gq",
        "work",
        "buzz",
        "cyou",
        "sbs",
        "rest",
        "cfd",
        "bond",
        "lol",
        "monster",
        "click",
        "link",
        "live",
        "fun",
    }
)
LURE_WORDS = (
    "refund",
    "tuikuan",
    "退款",
    "verify",
    "verification",
    "kefu",
    "客服",
    "claim",
    "lottery",
    "中奖",
    "compensat",
    "理赔",
    "unfreeze",
    "jiedong",
    "解冻",
    "zhuxiao",
    "注销",
    "cancel",
    "close-credit",
    "guanbi",
    "关闭",
    "credit-report",
    "zhengxin",
    "征信",
    "safe-account",
    "anquan",
    "安全账户",
    "login",
    "signin",
    "account-update",
    "bonus",
    "免费",
    "secure",
    "confirm",
    "suspend",
    "unlock",
)
# Look-alike characters folded before looking for brand names (a1ipay, taoba0, ...).
_FOLD = str.maketrans({"1": "l", "0": "o", "3": "e", "5": "s", "@": "a"})
# RFC 2606 / 6761 names: never registered, used by documentation and simulations.
RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost"})
_OFFICIAL_LABELS = frozenset(OFFICIAL_DOMAINS) | frozenset(
    d.split(".", 1)[0] for owned in OFFICIAL_DOMAINS.values() for d in owned
)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]{0,15}://")
_psl = PublicSuffixList()

FACT_NAMES: dict[str, str] = {
    "link.is_url": "bool",
    "link.scheme": "str",
    "link.host": "str",
    "link.domain": "str",
    "link.is_official": "bool",
    "link.impersonates_brand": "bool",
    "link.brand": "str",
    "link.is_ip_host": "bool",
    "link.is_punycode": "bool",
    "link.is_shortener": "bool",
    "link.is_http": "bool",
    "link.has_userinfo": "bool",
    "link.suspicious_tld": "bool",
    "link.has_lure_words": "bool",
    "link.is_personal_collection": "bool",
    "link.risk": "num",
}

_WEIGHTS = {
    "link.impersonates_brand": 0.6,
    "link.has_userinfo": 0.4,
    "link.is_ip_host": 0.4,
    "link.is_punycode": 0.3,
    "link.has_lure_words": 0.3,
    "link.suspicious_tld": 0.25,
    "link.is_shortener": 0.2,
    "link.is_http": 0.1,
}


def _host_facts(host: str) -> dict[str, LinkValue]:
    out: dict[str, LinkValue] = {}
    try:
        ipaddress.ip_address(host.strip("[]"))
        is_ip = True
    except ValueError:
        is_ip = False
    domain = None if is_ip else _psl.privatesuffix(host)
    tld = host.rsplit(".", 1)[-1] if "." in host else host
    out["link.host"] = host
    out["link.domain"] = domain
    out["link.is_ip_host"] = is_ip
    out["link.is_punycode"] = "xn--" in host
    out["link.is_shortener"] = (domain or host) in SHORTENERS
    out["link.suspicious_tld"] = not is_ip and tld in SUSPICIOUS_TLDS
    folded = _ascii_skeleton(host).translate(_FOLD).replace("rn", "m").replace("vv", "w")
    brand = next((b for b in OFFICIAL_DOMAINS if b in folded), None)
    official = any(domain in owned for owned in OFFICIAL_DOMAINS.values()) if domain else False
    if domain is not None and domain.rsplit(".", 1)[-1] in RESERVED_TLDS:
        # Documentation and test data name a brand's own site ``brand.example``.
        official = official or domain.split(".", 1)[0] in _OFFICIAL_LABELS
    out["link.brand"] = brand
    out["link.is_official"] = official
    out["link.impersonates_brand"] = brand is not None and not official
    return out


def _ascii_skeleton(host: str) -> str:
    """Punycode labels decoded and stripped of accents: ``xn--lipay-9ta`` -> ``alipay``."""
    if "xn--" not in host:
        return host
    try:
        text = host.encode("ascii").decode("idna")
    except UnicodeError:
        return host
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _is_personal_collection(payload: str, domain: str | None) -> bool:
    """Face-to-face personal collection codes (WeChat ``wxp://f2f…``, Alipay ``fkx…``)."""
    low = payload.lower()
    if low.startswith("wxp://f2f"):
        return True
    return domain == "alipay.com" and "/fkx" in low


@lru_cache(maxsize=4096)
def analyse_link(payload: str) -> dict[str, LinkValue]:
    """Facts of a decoded QR payload or link (``link.*``), cached per distinct payload."""
    text = payload.strip()[:4096]
    candidate = text if _SCHEME.match(text) else f"http://{text}" if "." in text else ""
    try:
        parts = urlsplit(candidate) if candidate else None
        host = (parts.hostname or "") if parts else ""
    except ValueError:
        parts, host = None, ""
    out: dict[str, LinkValue] = dict.fromkeys(FACT_NAMES)
    is_url = bool(parts and host and " " not in host)
    out["link.is_url"] = is_url
    out["link.scheme"] = parts.scheme.lower() if parts else None
    out["link.is_personal_collection"] = False
    if not is_url or parts is None:
        out["link.is_personal_collection"] = _is_personal_collection(text, None)
        out["link.is_official"] = False
        out["link.impersonates_brand"] = False
        out["link.risk"] = 0.0
        return out
    out.update(_host_facts(host.lower()))
    out["link.is_http"] = parts.scheme.lower() == "http" and _SCHEME.match(text) is not None
    out["link.has_userinfo"] = "@" in parts.netloc
    rest = unquote(f"{host} {parts.path} {parts.query}").lower()
    out["link.has_lure_words"] = any(word in rest for word in LURE_WORDS)
    domain = out["link.domain"]
    out["link.is_personal_collection"] = _is_personal_collection(
        text, domain if isinstance(domain, str) else None
    )
    if out["link.is_official"]:
        out["link.risk"] = 0.0
    else:
        score = sum((w for name, w in _WEIGHTS.items() if out[name]), 0.0)
        out["link.risk"] = round(min(1.0, score), 3)
    return out
