"""From a worker's analysis to the ``document.*`` facts rules read, with reasons.

Pure: the analysis (a dict from :func:`fengkong.documents.analyse.analyse_document`)
and what the stage knows (the company names to compare seals with) in, facts and
human-readable reasons out. The weights of ``document.tamper_score`` were set on the
generated documents of ``benchmarks/bench_documents.py``.
"""

from __future__ import annotations

from typing import Any

from fengkong.documents.names import MATCH_AT, best_match, seal_kind

FACT_NAMES: dict[str, str] = {
    "document.pending": "bool",
    "document.unreadable": "bool",
    "document.ocr_lines": "num",
    "document.id_number_found": "bool",
    "document.id_number_valid": "bool",
    "document.id_checksum_ok": "bool",
    "document.id_birth_matches": "bool",
    "document.id_sex_matches": "bool",
    "document.id_region_matches": "bool",
    "document.id_age": "num",
    "document.uscc_found": "bool",
    "document.uscc_valid": "bool",
    "document.seal_found": "bool",
    "document.seal_is_authority": "bool",
    "document.seal_readable": "bool",
    "document.seal_matches_company": "bool",
    "document.seal_similarity": "num",
    "document.ela_region": "num",
    "document.noise_region": "num",
    "document.copy_move_blocks": "num",
    "document.djpeg_region": "num",
    "document.text_box_z": "num",
    "document.tamper_score": "num",
    "document.near_duplicate_accounts_30d": "num",
    "document.near_duplicate_bits": "num",
}
# Per forensic score: (where it starts to count, where it adds 0.5 to the tamper score,
# weight); it adds 1 at twice the second minus the first. Set on
# the generated documents of capture profile A, seed 0 (benchmarks/bench_documents.py):
# the noise residual (genuine ID cards: at most 5 blocks; a clean photo pasted on a
# printed card: 179 and more; half the other pastes and a quarter of the flat-box
# edits: 10 and more) and the double-JPEG trace of edits saved at a finer quality than
# the camera's (genuine: at most 6 blocks; edits with the trace: 15 and more). Error
# level and copy-move stay facts for rules and reviewers but add nothing: their genuine
# and forged distributions overlapped (docs/documents.md). The text-line check
# (genuine ID cards: at most 4.1; careful text edits 4.2 and more, six of eight above
# 7; flat-box edits 6.3 and more) counts from 4.5.
FORENSIC_LIMITS: dict[str, tuple[float, float, float]] = {
    "noise_region": (7.0, 14.0, 1.0),
    "djpeg_region": (8.0, 16.0, 1.0),
    "text_box_z": (4.5, 6.0, 1.0),
    "ela_region": (1e9, 2e9, 0.0),
    "copy_move_blocks": (1e9, 2e9, 0.0),
}


# The limits were set on ID cards. On white-paper documents (licences, certificates:
# paper saturating at 255, seal ink) the same limits flagged 11 of 16 genuine ones of
# the held-out profile, so there the scores stay facts and add nothing.
TAMPER_KINDS = ("id_card",)


def tamper_score(analysis: dict[str, Any], kind: str = "id_card") -> float:
    """0–1: how strongly the pixel forensics point at an edited region."""
    if kind not in TAMPER_KINDS:
        return 0.0
    score = 0.0
    for name, (starts_at, half_at, weight) in FORENSIC_LIMITS.items():
        value = float(analysis.get(name) or 0.0)
        score += weight * min(1.0, max(0.0, 0.5 * (value - starts_at) / (half_at - starts_at)))
    return round(min(1.0, score), 3)


def document_facts(
    analysis: dict[str, Any], kind: str, companies: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """Facts and reasons of one analysed document.

    ``companies`` are the names a company seal must carry: printed on this document,
    given with the event, or on this account's business licence.
    """
    facts: dict[str, Any] = dict.fromkeys(FACT_NAMES)
    facts["document.pending"] = False
    reasons: list[str] = []
    if "error" in analysis:
        facts["document.unreadable"] = True
        return facts, [f"image unreadable: {analysis['error']}"]
    facts["document.unreadable"] = False
    facts["document.ocr_lines"] = analysis.get("ocr_lines")
    for key in (
        "id_number_found",
        "id_number_valid",
        "id_checksum_ok",
        "id_birth_matches",
        "id_sex_matches",
        "id_region_matches",
        "id_age",
        "uscc_found",
        "uscc_valid",
        "ela_region",
        "noise_region",
        "copy_move_blocks",
        "djpeg_region",
        "text_box_z",
    ):
        if key in analysis:
            facts[f"document.{key}"] = analysis[key]
    if facts["document.id_checksum_ok"] is False:
        reasons.append("ID number check digit is wrong")
    for key, what in (("id_birth_matches", "birth date"), ("id_sex_matches", "sex")):
        if facts[f"document.{key}"] is False:
            reasons.append(f"printed {what} disagrees with the ID number")
    if facts["document.uscc_valid"] is False:
        reasons.append("unified social credit code fails its check")
    _seal_facts(analysis, kind, companies, facts, reasons)
    facts["document.tamper_score"] = tamper_score(analysis, kind)
    if facts["document.tamper_score"] >= 0.5:
        parts = ", ".join(f"{k}={analysis.get(k)}" for k in FORENSIC_LIMITS)
        reasons.append(f"pixel forensics point at an edited region ({parts})")
    return facts, reasons


def _seal_facts(
    analysis: dict[str, Any],
    kind: str,
    companies: list[str],
    facts: dict[str, Any],
    reasons: list[str],
) -> None:
    seals: list[dict[str, Any]] = analysis.get("seals") or []
    facts["document.seal_found"] = bool(seals)
    if not seals:
        return
    # Judged from the text, so analyses stored before the judgement changed re-score alike.
    kinds = [seal_kind(s["text"]) for s in seals]
    authority = "authority" in kinds
    facts["document.seal_is_authority"] = authority
    facts["document.seal_readable"] = any(k != "unreadable" for k in kinds)
    company_seals = [s for s, k in zip(seals, kinds, strict=True) if k == "company"]
    if not facts["document.seal_readable"]:
        # Weak evidence: a worn, blurred or tiny seal is common on honest uploads.
        reasons.append(f"seal text unreadable: {seals[0]['text']!r}")
        return
    if kind == "business_license" and not authority:
        facts["document.seal_matches_company"] = False
        texts = ", ".join(repr(s["text"]) for s in company_seals)
        reasons.append(f"licence seal is a company's, not a registration authority's: {texts}")
        return
    if not company_seals or not companies:
        return
    best = max(best_match(s["text"], companies) for s in company_seals)
    facts["document.seal_similarity"] = round(best, 3)
    facts["document.seal_matches_company"] = best >= MATCH_AT
    if best < MATCH_AT:
        texts = ", ".join(repr(s["text"]) for s in company_seals)
        reasons.append(f"seal {texts} does not name the company {companies[0]!r}")


# Facts that, when False, mean the document contradicts itself.
HARD_FAILURES = (
    "document.id_checksum_ok",
    "document.id_birth_matches",
    "document.id_sex_matches",
    "document.uscc_valid",
    "document.seal_matches_company",
)


def document_risk(facts: dict[str, Any]) -> tuple[float, bool]:
    """A 0–1 risk of one document's facts and whether the default rules act on it.

    The same conditions as the default pack's document rules: any self-contradiction,
    a near-duplicate of another account's upload, or a tamper score of 0.5 or more.
    """
    hard = any(facts.get(name) is False for name in HARD_FAILURES)
    recycled = bool(facts.get("document.near_duplicate_accounts_30d"))
    tamper = float(facts.get("document.tamper_score") or 0.0)
    risk = max(1.0 if hard else 0.0, 0.9 if recycled else 0.0, tamper)
    return risk, hard or recycled or tamper >= 0.5
