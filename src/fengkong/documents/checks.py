"""Consistency of what a document prints: number checksums and fields against numbers.

A resident ID number (GB 11643) encodes the holder's county, birth date and sex, and
ends with an ISO 7064 check character; a unified social credit code (GB 32100) ends with
its own. python-stdnum (``stdnum.cn.ric``, ``stdnum.cn.uscc``) checks both. Forgers who
retype a name and a birth date often forget the number, or the number's check digit.
"""

from __future__ import annotations

from datetime import date

from stdnum.cn import ric, uscc

from fengkong.documents.fields import parse_date

Facts = dict[str, bool | float | int | str | None]


def id_number_facts(number: str | None, printed: dict[str, str], today: date) -> Facts:
    """``id_number_valid``, ``id_checksum_ok`` and agreement with the printed fields."""
    out: Facts = {
        "id_number_found": number is not None,
        "id_number_valid": None,
        "id_checksum_ok": None,
        "id_birth_matches": None,
        "id_sex_matches": None,
        "id_region_matches": None,
        "id_age": None,
    }
    if number is None:
        return out
    compact = ric.compact(number)
    if len(compact) != 18 or not compact[:17].isdigit():
        out["id_number_valid"] = False
        return out
    # stdnum computes the check character from the whole number (its last one ignored).
    out["id_checksum_ok"] = ric.calc_check_digit(compact) == compact[-1]
    out["id_number_valid"] = ric.is_valid(compact)
    try:
        born = ric.get_birth_date(compact)
    except Exception:
        born = None
    if born is not None:
        out["id_age"] = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        printed_birth = parse_date(printed.get("birth", ""))
        if printed_birth is not None:
            out["id_birth_matches"] = printed_birth == (born.year, born.month, born.day)
    if printed.get("sex") in ("男", "女"):
        male = int(compact[16]) % 2 == 1
        out["id_sex_matches"] = (printed["sex"] == "男") == male
    out["id_region_matches"] = _region_matches(compact, printed.get("address"))
    return out


def _region_matches(number: str, address: str | None) -> bool | None:
    """Does the printed address name the county (or province) the number was issued in?

    People move, so a mismatch is weak evidence; it is a fact, not a verdict.
    """
    if not address:
        return None
    try:
        place = ric.get_birth_place(number)
    except Exception:
        return None
    county = str(place.get("county", ""))
    province = str(place.get("province", ""))
    if county and county in address:
        return True
    return bool(province) and province.rstrip("省市") in address


def uscc_facts(code: str | None) -> Facts:
    if code is None:
        return {"uscc_found": False, "uscc_valid": None}
    return {"uscc_found": True, "uscc_valid": uscc.is_valid(code)}
