"""Event fields read as they are: ``value(X)`` and ``category(X)`` and their loads.

Both the online features stage and offline training sets run these through the compiled
step of the features engine, so a field reads the same everywhere.

>>> num("12.5"), num(True), num(float("nan")), num("n/a"), num(None)
(12.5, 1.0, None, None, None)
>>> cat(3), cat(3.0), cat("3"), cat(True), cat(""), cat(None)
('3', '3', '3', 'true', None, None)
"""

from __future__ import annotations

import math
from typing import Any

from fengkong.features.spec import ATTRIBUTE_PREFIX, FeatureDef

# Longer texts are cut: a category is a label, not a document.
MAX_CATEGORY_CHARS = 64

# How the compiled step reads each known event field (an expression on ``event``).
_VALUE_EXPR: dict[str, str] = {
    "amount": "None if event.amount is None else float(event.amount)",
    "geo.lat": "None if event.geo is None else event.geo.lat",
    "geo.lon": "None if event.geo is None else event.geo.lon",
    "geo.accuracy_m": "None if event.geo is None else event.geo.accuracy_m",
    "context.in_call": "num(getattr(event.context, 'in_call', None))",
    "context.caller_in_contacts": "num(getattr(event.context, 'caller_in_contacts', None))",
    "context.screen_sharing": "num(getattr(event.context, 'screen_sharing', None))",
    "context.remote_control_app": "num(getattr(event.context, 'remote_control_app', None))",
    "device.fingerprint.is_emulator": (
        "num(getattr(getattr(event.device, 'fingerprint', None), 'is_emulator', None))"
    ),
    "device.fingerprint.is_rooted": (
        "num(getattr(getattr(event.device, 'fingerprint', None), 'is_rooted', None))"
    ),
}
_CATEGORY_EXPR: dict[str, str] = {
    "type": "event.type._value_",
    "operation": "event.operation",
    "currency": "event.currency",
    "context.entry": "getattr(event.context, 'entry', None)",
    "device.fingerprint.platform": (
        "getattr(getattr(event.device, 'fingerprint', None), 'platform', None)"
    ),
}


def value_var(d: FeatureDef) -> tuple[str, int]:
    """The step's local holding the value a definition aggregates, and its scale.

    Amounts are integer cents (``x``, scale 100: exact, mergeable sums); an attribute is
    its float value (``a_<NAME>``, scale 1).
    """
    name = d.attribute
    return ("x", 100) if name is None else (attribute_var(name), 1)


def attribute_var(name: str) -> str:
    """A Python identifier for attribute ``name`` (unique per name)."""
    return "a_" + "".join(ch if ch.isalnum() or ch == "_" else f"_{ord(ch)}_" for ch in name)


def num(v: Any) -> float | None:
    """A finite number from a JSON value (numbers, booleans, numeric text), else None."""
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, int | float):
        f = float(v)
    elif isinstance(v, str):
        try:
            f = float(v.strip())
        except ValueError:
            return None
    else:
        return None
    return f if math.isfinite(f) else None


def cat(v: Any) -> str | None:
    """A category from a JSON value: text as is, numbers written canonically, else None."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        v = v.strip()
        return v[:MAX_CATEGORY_CHARS] if v else None
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return None
        return str(int(v)) if v.is_integer() else repr(v)
    return None


def _slug(field: str) -> str:
    return field.replace(".", "_")


def local(d: FeatureDef) -> str:
    """The local of the compiled step that holds this value / category definition."""
    name = d.attribute
    if d.agg == "value":
        return attribute_var(name) if name is not None else "e_" + _slug(d.field)
    return "k" + attribute_var(name) if name is not None else "ke_" + _slug(d.field)


def load_lines(defs: list[FeatureDef], numeric_attributes: set[str]) -> list[str]:
    """Source lines that load every field ``defs`` read and the numeric attributes
    windowed aggregates read (``numeric_attributes``: attribute names)."""
    numeric = set(numeric_attributes)
    categorical: set[str] = set()
    lines: list[str] = []
    for d in defs:
        name = d.attribute
        if name is None:
            expr = (_VALUE_EXPR if d.agg == "value" else _CATEGORY_EXPR)[d.field]
            if d.agg == "category":
                expr = f"cat({expr})"
            lines.append(f"{local(d)} = {expr}")
        elif d.agg == "value":
            numeric.add(name)
        else:
            categorical.add(name)
    if not numeric and not categorical:
        return lines
    nums = sorted(numeric)
    cats = sorted(categorical)
    names = [attribute_var(n) for n in nums] + ["k" + attribute_var(n) for n in cats]
    lines += ["attrs = event.attributes", "if attrs is None:", f"    {' = '.join(names)} = None"]
    lines.append("else:")
    for n in nums:
        # Inline for the common case, a float; the rest (text, ints, NaN) through num().
        var = attribute_var(n)
        lines += [
            f"    v = attrs.get({n!r})",
            f"    {var} = v if type(v) is float and -INF < v < INF else num(v)",
        ]
    lines += [f"    k{attribute_var(n)} = cat(attrs.get({n!r}))" for n in cats]
    return lines


def numeric_attributes(fields: set[str]) -> set[str]:
    """Attribute names among the fields accumulators read (``attributes.NAME``)."""
    return {f[len(ATTRIBUTE_PREFIX) :] for f in fields if f.startswith(ATTRIBUTE_PREFIX)}
