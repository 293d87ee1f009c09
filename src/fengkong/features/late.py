"""Late events: an event older than its entity's newest one (``ts < st[0]``).

The compiled step takes this path only for such an event (a transfer whose client
clock lags, or a committed event the state repair counts again after its write was
lost, see ``state_repair.py``); an in-order stream never reaches it. The event's
features are read as for any event; its update goes into its *own* (older) bucket
when that bucket is still inside the window of the entity's newest event, and is
dropped when it is not, so every windowed value stays what the raw events give. A
last-seen value (a distinct set's times, ``since``, ``last``, the last located place)
never moves backwards.

``top`` below is the newest bucket that has left the window at the entity's newest
event (``int(st[0] // width) - n``): a late event whose bucket is ``<= top`` is out.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import OrderedDict
from typing import Any

from fengkong.features.accumulators import (
    Accumulator,
    AmountWindow,
    CountWindow,
    FirstSeenWindow,
    LastWindow,
    PercentileWindow,
    SeenWindow,
)
from fengkong.features.profiles import HoursProfile, PlacesProfile, TravelProfile
from fengkong.features.slots import (
    SMALL_SEEN,
    EntityState,
    Out,
    _find,
    hours_expire,
    nearest_cell_km,
    seen_dict,
    seen_expire,
)

# ---------------------------------------------------------------- the late updates


def count_late(st: EntityState, i: int, c: int, top: int) -> None:
    """Count slot ``[total, idx, n, ...]``: one more in bucket ``c``."""
    if c <= top:
        return
    s = st[i]
    if s is None:
        st[i] = [1, c, 1]
        return
    k = len(s) - 2
    while k >= 1 and s[k] > c:
        k -= 2
    if k >= 1 and s[k] == c:
        s[k + 1] += 1
    else:
        s[k + 2 : k + 2] = (c, 1)
    s[0] += 1


def amount_late(st: EntityState, i: int, c: int, x: int | float, top: int) -> None:
    """Amount slot ``[n, sum, sq, (idx, n, sum, sq, max, min)...]``: ``x`` in bucket ``c``."""
    if c <= top:
        return
    s, q = st[i], x * x
    if s is None:
        st[i] = [1, x, q, c, 1, x, q, x, x]
        return
    k = len(s) - 6
    while k >= 3 and s[k] > c:
        k -= 6
    if k >= 3 and s[k] == c:
        s[k + 1] += 1
        s[k + 2] += x
        s[k + 3] += q
        s[k + 4] = max(s[k + 4], x)
        s[k + 5] = min(s[k + 5], x)
    else:
        s[k + 6 : k + 6] = (c, 1, x, q, x, x)
    s[0] += 1
    s[1] += x
    s[2] += q


def first_late(st: EntityState, i: int, c: int, ts: float, top: int) -> None:
    """First-seen slot ``[idx, first ts, ...]``: ``ts`` may be bucket ``c``'s first."""
    if c <= top:
        return
    s = st[i]
    if s is None:
        st[i] = [c, ts]
        return
    k = len(s) - 2
    while k >= 0 and s[k] > c:
        k -= 2
    if k >= 0 and s[k] == c:
        s[k + 1] = min(s[k + 1], ts)
    else:
        s[k + 2 : k + 2] = (c, ts)


def since_late(st: EntityState, i: int, ts: float, w: int, top: int) -> None:
    """``since``: the last matching event's time, never moved backwards."""
    t = st[i]
    if ts // w > top and (t is None or ts > t):
        st[i] = ts


def last_late(st: EntityState, i: int, ts: float, v: Any, w: int, top: int) -> None:
    """``last``: ``(ts, value)`` of the last matching event, never moved backwards."""
    s = st[i]
    if ts // w > top and (s is None or ts > s[0]):
        st[i] = (ts, v)


def percentile_late(st: EntityState, i: int, c: int, x: Any, top: int, size: int) -> None:
    """Percentile slot ``[sorted, idx, x, ...]`` (pairs oldest first): ``x`` in bucket
    ``c``, the oldest pair dropped past ``size`` (the late one itself, if oldest)."""
    if c <= top:
        return
    s = st[i]
    if s is None:
        st[i] = [[x], c, x]
        return
    k = len(s) - 2
    while k >= 1 and s[k] > c:
        k -= 2
    s[k + 2 : k + 2] = (c, x)
    q = s[0]
    insort(q, x)
    if len(q) > size:
        del q[bisect_left(q, s[2])]
        del s[1:3]


def hours_late(st: EntityState, i: int, c: int, h: int, top: int) -> None:
    """Hours slot ``[total, 24 counts, (idx, hour, n)...]``: hour ``h`` in bucket ``c``."""
    if c <= top:
        return
    s = st[i]
    if s is None:
        s = st[i] = [0] * 25
        s += (c, h, 0)
    k = len(s) - 3
    while k >= 25 and s[k] > c:
        k -= 3
    j = k
    while j >= 25 and s[j] == c and s[j + 1] != h:
        j -= 3
    if j >= 25 and s[j] == c:
        s[j + 2] += 1
    else:
        s[k + 3 : k + 3] = (c, h, 1)
    s[0] += 1
    s[1 + h] += 1


def seen_late(st: EntityState, i: int, v: Any, ts: float, w: int, top: int, cap: int) -> None:
    """Last-seen set (flat ``[v, t, ...]`` or an OrderedDict, least recent first):
    ``v`` seen at ``ts``, kept in time order; its newer sighting is kept if it has one."""
    if v is None or ts // w <= top:
        return
    s = st[i]
    if s is None:
        st[i] = [v, ts]
        return
    if type(s) is not list:
        _seen_late_dict(st, i, s, v, ts, cap)
        return
    j = _find(s, v)
    if j >= 0:
        if s[j + 1] >= ts:
            return
        del s[j : j + 2]
    k = len(s) - 2
    while k >= 0 and s[k + 1] > ts:
        k -= 2
    s[k + 2 : k + 2] = (v, ts)
    if len(s) > 2 * cap:
        del s[:2]
    elif len(s) > 2 * SMALL_SEEN:
        st[i] = seen_dict(s)


def _seen_late_dict(
    st: EntityState, i: int, s: OrderedDict[Any, float], v: Any, ts: float, cap: int
) -> None:
    prev = s.get(v)
    if prev is not None and prev >= ts:
        return
    items = [(a, t) for a, t in s.items() if a != v]
    times = [t for _, t in items]
    k = len(times)
    while k > 0 and times[k - 1] > ts:
        k -= 1
    items.insert(k, (v, ts))
    if len(items) > cap:
        del items[0]
    st[i] = OrderedDict(items)


def places_late(
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
    top: int,
) -> None:
    """profile(places) of a late event: read as ``places_step`` does, then remember
    the cell at its own time."""
    s = st[i]
    if s is not None and s[1] // w <= lim:
        s = st[i] = seen_expire(s, w, lim)
    if s is None:
        out[o_km] = out[o_new_city] = None
    else:
        km = nearest_cell_km(lat, lon, s)
        out[o_km] = km
        out[o_new_city] = km > new_km
    seen_late(st, i, cell, ts, w, top, cap)


# ---------------------------------------------------------------- the emitted code

LATE_HELPERS = {
    f.__name__: f
    for f in (
        count_late,
        amount_late,
        first_late,
        since_late,
        last_late,
        percentile_late,
        hours_late,
        seen_late,
        places_late,
        hours_expire,
    )
}


def emit_late(acc: Accumulator, i: int, flag: str) -> list[str]:
    """The source of ``acc``'s step for a late event: its features read as in
    :meth:`Accumulator.emit` (nothing added), then the late update of this module."""
    w, top = acc.width, f"int(st[0] // {acc.width}) - {acc.n}"
    c = f"c{w}"
    if isinstance(acc, HoursProfile):
        return _hours(acc, i, top)
    if isinstance(acc, PlacesProfile):
        km, new = repr(acc.o_km), repr(acc.o_new_city)
        return [
            "if v_cell is None:",
            f"    out[{km}] = out[{new}] = None",
            "else:",
            f"    places_late(st, {i}, v_cell, lat, lon, ts, {w}, {acc._lim()}, "
            f"{acc.cap}, {acc.new_km!r}, out, {km}, {new}, {top})",
        ]
    read = acc.emit(i, "False")
    if isinstance(acc, TravelProfile):
        assert read[-2] == "if lat is not None:"  # the update: only if newer
        return [
            *read[:-2],
            f"if lat is not None and (s is None or ts > s[0]) and ts // {w} > {top}:",
            f"    st[{i}] = (ts, lat, lon)",
        ]
    if isinstance(acc, CountWindow):
        add = f"count_late(st, {i}, {c}, {top})"
    elif isinstance(acc, AmountWindow):
        add = f"amount_late(st, {i}, {c}, {acc.var}, {top}) if {acc.var} is not None else None"
    elif isinstance(acc, SeenWindow):
        add = f"seen_late(st, {i}, v_{acc.field}, ts, {w}, {top}, {acc.cap})"
    elif isinstance(acc, FirstSeenWindow):
        add = f"first_late(st, {i}, {c}, ts, {top})"
    elif isinstance(acc, LastWindow):
        add = (
            f"since_late(st, {i}, ts, {w}, {top})"
            if acc.is_since
            else f"last_late(st, {i}, ts, v_{acc.field}, {w}, {top}) "
            f"if v_{acc.field} is not None else None"
        )
    elif isinstance(acc, PercentileWindow):
        add = (
            f"percentile_late(st, {i}, {c}, {acc.var}, {top}, {acc.size}) "
            f"if {acc.var} is not None else None"
        )
    else:
        raise TypeError(f"no late update for {type(acc).__name__}")
    return [*read, f"if {flag}:", f"    {add}"]


def _hours(acc: HoursProfile, i: int, top: str) -> list[str]:
    share, unusual, lim = repr(acc.o_share), repr(acc.o_unusual), acc._lim()
    return [
        f"s = st[{i}]",
        f"if s is not None and s[25] <= {lim}:",
        f"    s = st[{i}] = hours_expire(s, {lim})",
        f"if s is None or s[0] < {acc.min_count}:",
        f"    out[{share}] = out[{unusual}] = None",
        "else:",
        "    q = (s[1 + (h + 23) % 24] + s[1 + h] + s[1 + (h + 1) % 24]) / s[0]",
        f"    out[{share}] = q",
        f"    out[{unusual}] = q < {acc.threshold!r}",
        f"hours_late(st, {i}, c{acc.width}, h, {top})",
    ]
