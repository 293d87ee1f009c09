"""Accumulators: the per-entity state behind each group of feature definitions.

Each accumulator owns one *slot* (a plain list) in an entity's state and does two things
per event in one call, :meth:`Accumulator.step`: write its features' values as they were
*before* the event, then add the event. Slots hold only plain mergeable data (ints,
floats, strings, deques and ordered dicts of them) so that they pickle cheaply and map
onto Redis structures (hash per bucket, HyperLogLog, sorted set) later.

Windows are bucketed: a window of ``n`` buckets of width ``w`` seconds covers the
buckets ``cur - n + 1 .. cur`` where ``cur = ts // w`` is the current event's bucket.
Every accumulator expires on that same rule, so every windowed value is exactly
reproducible from the raw events (see docs/features.md, "Windows").

The code is written for CPython speed: no per-event allocation beyond a new bucket,
attribute lookups hoisted into locals, expiry checked against the oldest bucket only.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections import OrderedDict, deque
from typing import Any

from fengkong.features.spec import FeatureDef

Out = dict[str, Any]
Slot = list[Any]
# "No entry yet" for SeenWindow's oldest-time hint: far future, so never expired.
_FAR = 1e18


class Rec:
    """The values of one event the accumulators look at; one instance, reused."""

    __slots__ = (
        "bank_card",
        "cell",
        "cents",
        "cp_account",
        "cp_card",
        "device",
        "event",
        "hour",
        "id_number",
        "ip",
        "ip24",
        "lat",
        "lon",
        "merchant",
        "operation",
        "payee",
        "phone",
        "ts",
        "type",
        "user",
    )

    def __init__(self) -> None:
        self.ts = 0.0
        self.type = ""
        self.event = "event"  # `count(event)` and `since(event)` count every event
        self.cents: int | None = None
        self.hour = 0
        self.lat: float | None = None
        self.lon: float | None = None
        self.cell: int | None = None
        self.operation: str | None = None
        self.payee: str | None = None
        self.user: str | None = None
        self.device: str | None = None
        self.ip: str | None = None
        self.ip24: str | None = None
        self.phone: str | None = None
        self.id_number: str | None = None
        self.bank_card: str | None = None
        self.merchant: str | None = None
        self.cp_account: str | None = None
        self.cp_card: str | None = None


class Accumulator:
    """Base: filter and window shared by all accumulators."""

    __slots__ = ("n", "ops", "types", "width")

    def __init__(self, d: FeatureDef) -> None:
        self.width = d.bucket_s
        self.n = d.n_buckets
        self.types = d.types
        self.ops = d.operations

    def accepts(self, r: Rec) -> bool:
        types = self.types
        if types is None:
            return True
        if r.type not in types:
            return False
        return self.ops is None or r.operation in self.ops

    def new_slot(self) -> Slot:
        raise NotImplementedError

    def step(self, slot: Slot, r: Rec, out: Out) -> None:
        raise NotImplementedError

    def prune(self, slot: Slot, now: float) -> bool:
        """Drop what has left the window at ``now``; True when nothing is left."""
        raise NotImplementedError

    def outputs(self) -> list[str]:
        raise NotImplementedError


class CountWindow(Accumulator):
    """``count(event [where ...]) by E over W``. Slot: ``[total, deque([idx, n])]``."""

    __slots__ = ("name",)

    def __init__(self, d: FeatureDef) -> None:
        super().__init__(d)
        self.name = d.name

    def outputs(self) -> list[str]:
        return [self.name]

    def new_slot(self) -> Slot:
        return [0, deque()]

    def step(self, slot: Slot, r: Rec, out: Out) -> None:
        cur = int(r.ts // self.width)
        q = slot[1]
        if q and q[0][0] <= cur - self.n:
            lim = cur - self.n
            total = slot[0]
            while q and q[0][0] <= lim:
                total -= q.popleft()[1]
            slot[0] = total
        out[self.name] = slot[0]
        if self.types is None or self.accepts(r):
            if q and q[-1][0] >= cur:  # same bucket (or a late event: newest bucket)
                q[-1][1] += 1
            else:
                q.append([cur, 1])
            slot[0] += 1

    def prune(self, slot: Slot, now: float) -> bool:
        lim = int(now // self.width) - self.n
        q = slot[1]
        while q and q[0][0] <= lim:
            slot[0] -= q.popleft()[1]
        return not q


class AmountWindow(Accumulator):
    """sum / mean / std / max / min / zscore of amounts over one window.

    Slot: ``[count, sum, sum_sq, deque([idx, count, sum, sum_sq, max, min])]`` with
    amounts in integer cents, so sums are exact and mergeable (Redis: HINCRBY).
    """

    __slots__ = ("o_max", "o_mean", "o_min", "o_std", "o_sum", "o_z", "z_min")

    def __init__(self, defs: list[FeatureDef], z_min_count: int = 3) -> None:
        super().__init__(defs[0])
        names = {d.agg: d.name for d in defs}
        self.o_sum = names.get("sum")
        self.o_mean = names.get("mean")
        self.o_std = names.get("std")
        self.o_max = names.get("max")
        self.o_min = names.get("min")
        self.o_z = names.get("zscore")
        self.z_min = z_min_count

    def outputs(self) -> list[str]:
        names = (self.o_sum, self.o_mean, self.o_std, self.o_max, self.o_min, self.o_z)
        return [n for n in names if n is not None]

    def new_slot(self) -> Slot:
        return [0, 0, 0, deque()]

    def step(self, slot: Slot, r: Rec, out: Out) -> None:
        cur = int(r.ts // self.width)
        q = slot[3]
        if q and q[0][0] <= cur - self.n:
            self._expire(slot, cur - self.n)
        cnt = slot[0]
        x = r.cents
        if cnt:
            s = slot[1]
            if self.o_sum is not None:
                out[self.o_sum] = s / 100
            if self.o_mean is not None:
                out[self.o_mean] = s / cnt / 100
            if self.o_std is not None or self.o_z is not None:
                # Exact integer numerator: cnt² · variance in cents².
                std_c = math.sqrt(cnt * slot[2] - s * s) / cnt
                if self.o_std is not None:
                    out[self.o_std] = std_c / 100
                if self.o_z is not None:
                    out[self.o_z] = (
                        (x - s / cnt) / std_c
                        if x is not None and cnt >= self.z_min and std_c > 0
                        else None
                    )
            if self.o_max is not None:
                out[self.o_max] = max([b[4] for b in q]) / 100
            if self.o_min is not None:
                out[self.o_min] = min([b[5] for b in q]) / 100
        else:
            if self.o_sum is not None:
                out[self.o_sum] = 0.0
            for name in (self.o_mean, self.o_std, self.o_max, self.o_min, self.o_z):
                if name is not None:
                    out[name] = None
        if x is not None and (self.types is None or self.accepts(r)):
            sq = x * x
            if q and q[-1][0] >= cur:
                b = q[-1]
                b[1] += 1
                b[2] += x
                b[3] += sq
                if x > b[4]:
                    b[4] = x
                if x < b[5]:
                    b[5] = x
            else:
                q.append([cur, 1, x, sq, x, x])
            slot[0] = cnt + 1
            slot[1] += x
            slot[2] += sq

    def _expire(self, slot: Slot, lim: int) -> None:
        q = slot[3]
        while q and q[0][0] <= lim:
            b = q.popleft()
            slot[0] -= b[1]
            slot[1] -= b[2]
            slot[2] -= b[3]

    def prune(self, slot: Slot, now: float) -> bool:
        self._expire(slot, int(now // self.width) - self.n)
        return not slot[3]


class SeenWindow(Accumulator):
    """distinct / new / last_seen of one field over one window.

    Slot: ``[oldest_ts, OrderedDict(value -> last ts)]`` in last-seen order, bounded at
    ``cap`` values (least recently seen dropped first), so a distinct count is exact
    below ``cap`` and ``min(true, cap)`` above it. ``oldest_ts`` is a lower bound of the
    first entry's time, so the common case (nothing to expire) costs one comparison.
    """

    __slots__ = ("cap", "field", "o_distinct", "o_last", "o_new")

    def __init__(self, defs: list[FeatureDef], cap: int) -> None:
        super().__init__(defs[0])
        self.field = defs[0].field
        names = {d.agg: d.name for d in defs}
        self.o_distinct = names.get("distinct")
        self.o_new = names.get("new")
        self.o_last = names.get("last_seen")
        self.cap = cap

    def outputs(self) -> list[str]:
        names = (self.o_distinct, self.o_new, self.o_last)
        return [n for n in names if n is not None]

    def new_slot(self) -> Slot:
        return [_FAR, OrderedDict()]

    def _expire(self, slot: Slot, lim: int) -> None:
        od = slot[1]
        w = self.width
        while od:
            k = next(iter(od))
            t = od[k]
            if t // w > lim:
                slot[0] = t
                return
            del od[k]
        slot[0] = _FAR

    def step(self, slot: Slot, r: Rec, out: Out) -> None:
        ts = r.ts
        w = self.width
        cur = int(ts // w)
        if slot[0] // w <= cur - self.n:
            self._expire(slot, cur - self.n)
        od = slot[1]
        v = getattr(r, self.field)
        if self.o_distinct is not None:
            out[self.o_distinct] = len(od)
        if self.o_new is not None:
            out[self.o_new] = None if v is None or not od else v not in od
        if self.o_last is not None:
            t = None if v is None else od.get(v)
            out[self.o_last] = None if t is None else ts - t
        if v is not None and (self.types is None or self.accepts(r)):
            if v in od:
                od.move_to_end(v)
                od[v] = ts
            else:
                od[v] = ts
                if len(od) > self.cap:
                    od.popitem(last=False)
                    slot[0] = od[next(iter(od))]
            if slot[0] == _FAR:
                slot[0] = ts

    def prune(self, slot: Slot, now: float) -> bool:
        self._expire(slot, int(now // self.width) - self.n)
        return not slot[1]


class FirstSeenWindow(Accumulator):
    """``first_seen(E) over W``: seconds since E's first event in the window.

    Slot: ``deque([idx, first ts in bucket])``, one entry per active bucket.
    """

    __slots__ = ("name",)

    def __init__(self, d: FeatureDef) -> None:
        super().__init__(d)
        self.name = d.name

    def outputs(self) -> list[str]:
        return [self.name]

    def new_slot(self) -> Slot:
        return [deque()]

    def step(self, slot: Slot, r: Rec, out: Out) -> None:
        cur = int(r.ts // self.width)
        q = slot[0]
        lim = cur - self.n
        while q and q[0][0] <= lim:
            q.popleft()
        out[self.name] = r.ts - q[0][1] if q else None
        if (self.types is None or self.accepts(r)) and (not q or q[-1][0] < cur):
            q.append([cur, r.ts])

    def prune(self, slot: Slot, now: float) -> bool:
        lim = int(now // self.width) - self.n
        q = slot[0]
        while q and q[0][0] <= lim:
            q.popleft()
        return not q


class LastWindow(Accumulator):
    """``since(event where ...)`` / ``last(FIELD where ...)``: the last matching event.

    Slot: ``[ts or None, value]``.
    """

    __slots__ = ("field", "is_since", "name")

    def __init__(self, d: FeatureDef) -> None:
        super().__init__(d)
        self.name = d.name
        self.field = d.field
        self.is_since = d.agg == "since"

    def outputs(self) -> list[str]:
        return [self.name]

    def new_slot(self) -> Slot:
        return [None, None]

    def step(self, slot: Slot, r: Rec, out: Out) -> None:
        t = slot[0]
        if t is not None and t // self.width <= r.ts // self.width - self.n:
            slot[0] = t = None
            slot[1] = None
        if t is None:
            out[self.name] = None
        else:
            out[self.name] = r.ts - t if self.is_since else slot[1]
        if self.types is None or self.accepts(r):
            v = getattr(r, self.field)
            if v is not None:
                slot[0] = r.ts
                slot[1] = v

    def prune(self, slot: Slot, now: float) -> bool:
        t = slot[0]
        if t is not None and t // self.width <= now // self.width - self.n:
            slot[0] = slot[1] = None
        return slot[0] is None


class PercentileWindow(Accumulator):
    """``percentile(amount)``: rank of this amount among the last ``size`` in the window.

    Slot: ``[deque([idx, cents]), sorted list of the same cents]``.
    """

    __slots__ = ("min_count", "name", "size")

    def __init__(self, d: FeatureDef, size: int = 200, min_count: int = 5) -> None:
        super().__init__(d)
        self.name = d.name
        self.size = size
        self.min_count = min_count

    def outputs(self) -> list[str]:
        return [self.name]

    def new_slot(self) -> Slot:
        return [deque(), []]

    def _expire(self, slot: Slot, lim: int) -> None:
        q, sl = slot
        while q and q[0][0] <= lim:
            del sl[bisect_left(sl, q.popleft()[1])]

    def step(self, slot: Slot, r: Rec, out: Out) -> None:
        cur = int(r.ts // self.width)
        q, sl = slot
        if q and q[0][0] <= cur - self.n:
            self._expire(slot, cur - self.n)
        x = r.cents
        if x is None or len(sl) < self.min_count:
            out[self.name] = None
        else:
            lo = bisect_left(sl, x)
            out[self.name] = 100.0 * (lo + (bisect_right(sl, x) - lo) / 2) / len(sl)
        if x is not None and (self.types is None or self.accepts(r)):
            q.append([cur, x])
            insort(sl, x)
            if len(q) > self.size:
                del sl[bisect_left(sl, q.popleft()[1])]

    def prune(self, slot: Slot, now: float) -> bool:
        self._expire(slot, int(now // self.width) - self.n)
        return not slot[0]


class HoursProfile(Accumulator):
    """``profile(hours)``: how usual this local hour of day is for the user.

    Slot: ``[total, [24 counts], deque([idx, {hour: count}])]``.
    """

    __slots__ = ("min_count", "o_share", "o_unusual", "threshold")

    def __init__(self, d: FeatureDef, min_count: int = 10, threshold: float = 0.05) -> None:
        super().__init__(d)
        self.o_share, self.o_unusual = d.outputs
        self.min_count = min_count
        self.threshold = threshold

    def outputs(self) -> list[str]:
        return [self.o_share, self.o_unusual]

    def new_slot(self) -> Slot:
        return [0, [0] * 24, deque()]

    def _expire(self, slot: Slot, lim: int) -> None:
        counts = slot[1]
        q = slot[2]
        while q and q[0][0] <= lim:
            for h, c in q.popleft()[1].items():
                counts[h] -= c
                slot[0] -= c

    def step(self, slot: Slot, r: Rec, out: Out) -> None:
        cur = int(r.ts // self.width)
        q = slot[2]
        if q and q[0][0] <= cur - self.n:
            self._expire(slot, cur - self.n)
        total = slot[0]
        h = r.hour
        counts = slot[1]
        if total >= self.min_count:
            share = (counts[h - 1] + counts[h] + counts[(h + 1) % 24]) / total
            out[self.o_share] = share
            out[self.o_unusual] = share < self.threshold
        else:
            out[self.o_share] = None
            out[self.o_unusual] = None
        if q and q[-1][0] >= cur:
            b = q[-1][1]
            b[h] = b.get(h, 0) + 1
        else:
            q.append([cur, {h: 1}])
        counts[h] += 1
        slot[0] = total + 1

    def prune(self, slot: Slot, now: float) -> bool:
        self._expire(slot, int(now // self.width) - self.n)
        return not slot[2]


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


class PlacesProfile(SeenWindow):
    """``profile(places)``: distance to the user's usual places (grid cells seen).

    Reuses :class:`SeenWindow` over the event's cell, bounded at ``cap`` cells.
    """

    __slots__ = ("new_km", "o_km", "o_new_city")

    def __init__(self, d: FeatureDef, cap: int = 16, new_km: float = 50.0) -> None:
        super().__init__([d], cap)
        self.field = "cell"
        self.o_distinct = self.o_new = self.o_last = None
        self.o_km, self.o_new_city = d.outputs
        self.new_km = new_km

    def outputs(self) -> list[str]:
        return [self.o_km, self.o_new_city]

    def step(self, slot: Slot, r: Rec, out: Out) -> None:
        cell = r.cell
        if cell is None:
            out[self.o_km] = None
            out[self.o_new_city] = None
            return
        w = self.width
        if slot[0] // w <= r.ts // w - self.n:
            self._expire(slot, int(r.ts // w) - self.n)
        od = slot[1]
        if not od:
            out[self.o_km] = None
            out[self.o_new_city] = None
        else:
            lat, lon = r.lat, r.lon
            km = min(haversine_km(lat, lon, *cell_centre(c)) for c in od)  # type: ignore[arg-type]
            out[self.o_km] = km
            out[self.o_new_city] = km > self.new_km
        super().step(slot, r, {})


class TravelProfile(Accumulator):
    """``profile(travel)``: distance and speed since the previous located event.

    Slot: ``[ts or None, lat, lon]``.
    """

    __slots__ = ("max_kmh", "min_dt", "min_km", "o_kmh", "o_last", "o_travel")

    def __init__(self, d: FeatureDef, max_kmh: float = 900.0, min_km: float = 100.0) -> None:
        super().__init__(d)
        self.o_last, self.o_kmh, self.o_travel = d.outputs
        self.max_kmh = max_kmh
        self.min_km = min_km
        self.min_dt = 60.0  # GPS jitter between near-simultaneous events is not travel

    def outputs(self) -> list[str]:
        return [self.o_last, self.o_kmh, self.o_travel]

    def new_slot(self) -> Slot:
        return [None, 0.0, 0.0]

    def step(self, slot: Slot, r: Rec, out: Out) -> None:
        t = slot[0]
        if t is not None and t // self.width <= r.ts // self.width - self.n:
            slot[0] = t = None
            slot[1] = slot[2] = 0.0
        lat, lon = r.lat, r.lon
        if t is None or lat is None or lon is None:
            out[self.o_last] = out[self.o_kmh] = out[self.o_travel] = None
        else:
            km = haversine_km(slot[1], slot[2], lat, lon)
            kmh = km * 3600.0 / max(r.ts - t, self.min_dt)
            out[self.o_last] = km
            out[self.o_kmh] = kmh
            out[self.o_travel] = kmh > self.max_kmh and km > self.min_km
        if lat is not None:
            slot[0] = r.ts
            slot[1] = lat
            slot[2] = lon

    def prune(self, slot: Slot, now: float) -> bool:
        t = slot[0]
        if t is not None and t // self.width <= now // self.width - self.n:
            slot[0] = None
            slot[1] = slot[2] = 0.0
        return slot[0] is None
