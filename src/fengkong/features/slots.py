"""Slot layouts and the helpers the compiled feature step calls on its rare paths.

An entity's state is a plain list ``[last_ts, slot, slot, ...]`` with one slot per
accumulator (see ``accumulators.py``). The helpers here expire old buckets from the flat
slot lists, keep the bounded last-seen sets and measure distances on the place grid. They
are plain functions so the generated code reaches them as globals, without attribute
lookups.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import OrderedDict
from typing import Any

Out = dict[str, Any]
EntityState = list[Any]
# A last-seen set is a flat list [v1, t1, v2, t2, ...] (least recently seen first) up to
# this many values: a one-entry dict costs 224 bytes, a two-item list 72. Above it, an
# OrderedDict, whose front pops and moves to the end are O(1) for busy merchants and IPs.
SMALL_SEEN = 16


# ---------------------------------------------------------------- expiry helpers


def count_expire(s: list[Any], lim: int) -> list[Any] | None:
    """Count slot ``[total, idx, n, idx, n, ...]``: drop buckets ``<= lim``."""
    k, end, total = 1, len(s), s[0]
    while k < end and s[k] <= lim:
        total -= s[k + 1]
        k += 2
    if k == end:
        return None
    del s[1:k]
    s[0] = total
    return s


def amount_expire(s: list[Any], lim: int) -> list[Any] | None:
    """Amount slot ``[n, sum, sq, (idx, n, sum, sq, max, min)...]``: drop old buckets."""
    k, end = 3, len(s)
    while k < end and s[k] <= lim:
        s[0] -= s[k + 1]
        s[1] -= s[k + 2]
        s[2] -= s[k + 3]
        k += 6
    if k == end:
        return None
    del s[3:k]
    return s


def pairs_expire(s: list[Any], lim: int) -> list[Any] | None:
    """``[idx, value, idx, value, ...]``: drop pairs with ``idx <= lim``."""
    k, end = 0, len(s)
    while k < end and s[k] <= lim:
        k += 2
    if k == end:
        return None
    del s[:k]
    return s


def percentile_expire(s: list[Any], lim: int) -> list[Any] | None:
    """Percentile slot ``[sorted cents, idx, cents, idx, cents, ...]``."""
    k, end, sl = 1, len(s), s[0]
    while k < end and s[k] <= lim:
        del sl[bisect_left(sl, s[k + 1])]
        k += 2
    if k == end:
        return None
    del s[1:k]
    return s


def hours_expire(s: list[Any], lim: int) -> list[Any] | None:
    """Hours slot ``[total, 24 hour counts, (idx, hour, n)...]``."""
    k, end = 25, len(s)
    while k < end and s[k] <= lim:
        n = s[k + 2]
        s[1 + s[k + 1]] -= n
        s[0] -= n
        k += 3
    if k == end:
        return None
    del s[25:k]
    return s


def seen_expire(s: list[Any] | OrderedDict[Any, float], w: int, lim: int) -> Any:
    """Drop last-seen entries whose bucket is ``<= lim``; ``None`` when nothing is left."""
    if type(s) is list:
        k, end = 0, len(s)
        while k < end and s[k + 1] // w <= lim:
            k += 2
        if k == end:
            return None
        del s[:k]
        return s
    assert isinstance(s, OrderedDict)
    while s:
        v = next(iter(s))
        if s[v] // w > lim:
            break
        del s[v]
    if not s:
        return None
    if len(s) <= SMALL_SEEN:  # the layout depends on the size only, not on the history
        return [x for item in s.items() for x in item]
    return s


def seen_dict(s: list[Any]) -> OrderedDict[Any, float]:
    """A flat ``[v, t, ...]`` last-seen list grown past ``SMALL_SEEN`` values."""
    return OrderedDict(zip(s[::2], s[1::2], strict=True))


def _find(s: list[Any], v: Any) -> int:
    """Index of value ``v`` in a flat ``[v, t, ...]`` list, ``-1`` if absent."""
    if v not in s:
        return -1
    j = s.index(v)
    while j & 1:  # matched a timestamp, not a value (an int cell equal to a time)
        if v not in s[j + 1 :]:
            return -1
        j = s.index(v, j + 1)
    return j


def seen_step(
    st: EntityState,
    i: int,
    v: Any,
    ts: float,
    w: int,
    lim: int,
    cap: int,
    add: bool,
    out: Out,
    o_distinct: str | None,
    o_new: str | None,
    o_last: str | None,
) -> None:
    """distinct / new / last_seen over slot ``i``, then remember ``v`` (when ``add``)."""
    s = st[i]
    if s is not None:
        first = s[1] if type(s) is list else next(iter(s.values()))
        if first // w <= lim:
            s = st[i] = seen_expire(s, w, lim)
    j = -1
    prev = None
    if s is None:
        n = 0
    elif type(s) is list:
        n = len(s) >> 1
        if v is not None:
            j = _find(s, v)
            if j >= 0:
                prev = s[j + 1]
    else:
        n = len(s)
        if v is not None:
            prev = s.get(v)
    if o_distinct is not None:
        out[o_distinct] = n
    if o_new is not None:
        out[o_new] = None if v is None or n == 0 else prev is None
    if o_last is not None:
        out[o_last] = None if prev is None else ts - prev
    if not add or v is None:
        return
    if s is None:
        st[i] = [v, ts]
    elif type(s) is list:
        if j >= 0:
            del s[j : j + 2]
        s += (v, ts)
        if len(s) > 2 * cap:
            del s[:2]
        elif len(s) > 2 * SMALL_SEEN:
            st[i] = seen_dict(s)
    else:
        if prev is not None:
            s.move_to_end(v)
        s[v] = ts
        if len(s) > cap:
            s.popitem(last=False)


# ---------------------------------------------------------------- geography

_KM_PER_RAD = 6371.0088
CELL_DEG = 0.25  # ≈ 28 km north–south: a city and its suburbs
_CELLS_PER_ROW = int(360 / CELL_DEG)


def cell_of(lat: float, lon: float) -> int:
    """Grid cell number of a position (``CELL_DEG`` degrees square)."""
    return int((lat + 90.0) // CELL_DEG) * _CELLS_PER_ROW + int((lon + 180.0) // CELL_DEG)


def cell_centre(cell: int) -> tuple[float, float]:
    row, col = divmod(cell, _CELLS_PER_ROW)
    return (row + 0.5) * CELL_DEG - 90.0, (col + 0.5) * CELL_DEG - 180.0


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * _KM_PER_RAD * math.asin(min(1.0, math.sqrt(a)))


# cell -> (centre latitude in radians, its cosine, centre longitude in degrees): the same
# operands haversine_km computes, so distances are bit-identical. Bounded by the grid.
_CENTRES: dict[int, tuple[float, float, float]] = {}


def _centre(cell: int) -> tuple[float, float, float]:
    lat, lon = cell_centre(cell)
    p = math.radians(lat)
    c = _CENTRES[cell] = (p, math.cos(p), lon)
    return c


def nearest_cell_km(lat: float, lon: float, s: list[Any]) -> float:
    """Distance from a position to the nearest cell of a flat ``[cell, t, ...]`` list."""
    p1 = math.radians(lat)
    c1 = math.cos(p1)
    sin, radians, centres = math.sin, math.radians, _CENTRES
    best = math.inf
    for k in range(0, len(s), 2):
        cell = s[k]
        p2, c2, lon2 = centres.get(cell) or _centre(cell)
        a = sin((p2 - p1) / 2) ** 2 + c1 * c2 * sin(radians(lon2 - lon) / 2) ** 2
        km = 2 * _KM_PER_RAD * math.asin(min(1.0, math.sqrt(a)))
        if km < best:
            best = km
    return best


def places_step(
    st: EntityState,
    i: int,
    cell: int,
    lat: float,
    lon: float,
    ts: float,
    w: int,
    lim: int,
    cap: int,
    new_km: float,
    out: Out,
    o_km: str,
    o_new_city: str,
) -> None:
    """profile(places): km to the nearest recent cell, then remember this cell."""
    s = st[i]
    if s is not None and s[1] // w <= lim:
        s = st[i] = seen_expire(s, w, lim)
    if s is None:
        out[o_km] = out[o_new_city] = None
        st[i] = [cell, ts]
        return
    km = nearest_cell_km(lat, lon, s)
    out[o_km] = km
    out[o_new_city] = km > new_km
    j = _find(s, cell)
    if j >= 0:
        del s[j : j + 2]
    s += (cell, ts)
    if len(s) > 2 * cap:
        del s[:2]
