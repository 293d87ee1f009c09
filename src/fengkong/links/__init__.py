"""QR payloads and links: facts that expose phishing pages and collection-code tricks."""

from fengkong.links.analyse import (
    FACT_NAMES,
    LURE_WORDS,
    OFFICIAL_DOMAINS,
    SHORTENERS,
    SUSPICIOUS_TLDS,
    LinkValue,
    analyse_link,
)

__all__ = [
    "FACT_NAMES",
    "LURE_WORDS",
    "OFFICIAL_DOMAINS",
    "SHORTENERS",
    "SUSPICIOUS_TLDS",
    "LinkValue",
    "analyse_link",
]
