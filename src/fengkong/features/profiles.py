"""Profile accumulators: the user's usual hours, usual places, and travel since the
last located event (``profile(hours|places|travel)``; see ``accumulators.py`` for how
accumulators emit their step's source)."""

from __future__ import annotations

from fengkong.features.accumulators import Accumulator
from fengkong.features.slots import SMALL_SEEN, EntityState, hours_expire, seen_expire
from fengkong.features.spec import FeatureDef

__all__ = ["HoursProfile", "PlacesProfile", "TravelProfile"]


class HoursProfile(Accumulator):
    """``profile(hours)``: how usual this local hour of day is for the user.

    Slot: ``[total, 24 hour counts, (idx, hour, count)...]``.
    """

    __slots__ = ("min_count", "o_share", "o_unusual", "threshold")

    def __init__(self, d: FeatureDef, min_count: int = 10, threshold: float = 0.05) -> None:
        super().__init__(d)
        self.o_share, self.o_unusual = d.outputs
        self.min_count = min_count
        self.threshold = threshold

    def outputs(self) -> list[str]:
        return [self.o_share, self.o_unusual]

    def fields(self) -> tuple[str, ...]:
        return ("hour",)

    def emit(self, i: int, acc: str) -> list[str]:
        c, lim = f"c{self.width}", self._lim()
        share, unusual = repr(self.o_share), repr(self.o_unusual)
        return [
            f"s = st[{i}]",
            f"if s is not None and s[25] <= {lim}:",
            f"    s = st[{i}] = hours_expire(s, {lim})",
            "if s is None:",
            f"    out[{share}] = out[{unusual}] = None",
            f"    s = st[{i}] = [0] * 25",
            f"    s += ({c}, h, 0)",
            "else:",
            "    k = s[0]",
            f"    if k >= {self.min_count}:",
            "        q = (s[1 + (h + 23) % 24] + s[1 + h] + s[1 + (h + 1) % 24]) / k",
            f"        out[{share}] = q",
            f"        out[{unusual}] = q < {self.threshold!r}",
            "    else:",
            f"        out[{share}] = out[{unusual}] = None",
            "    k = s[-3]",
            # same bucket and hour (a late event takes the path of late.py)
            f"    if k < {c}:",
            f"        s += ({c}, h, 0)",
            "    elif s[-2] != h:",
            "        s += (k, h, 0)",
            "s[0] += 1",
            "s[1 + h] += 1",
            "s[-1] += 1",
        ]

    def prune(self, st: EntityState, i: int, lim: int) -> bool:
        s = st[i]
        if s is not None and s[25] <= lim:
            s = st[i] = hours_expire(s, lim)
        return s is None


class PlacesProfile(Accumulator):
    """``profile(places)``: distance to the user's usual places (grid cells seen).

    Slot: a last-seen list ``[cell, ts, ...]`` bounded at ``cap`` cells.
    """

    __slots__ = ("cap", "new_km", "o_km", "o_new_city")

    def __init__(self, d: FeatureDef, cap: int = 16, new_km: float = 50.0) -> None:
        super().__init__(d)
        self.o_km, self.o_new_city = d.outputs
        self.cap = min(cap, SMALL_SEEN)
        self.new_km = new_km

    def outputs(self) -> list[str]:
        return [self.o_km, self.o_new_city]

    def fields(self) -> tuple[str, ...]:
        return ("cell",)

    def emit(self, i: int, acc: str) -> list[str]:
        km, new = repr(self.o_km), repr(self.o_new_city)
        return [
            "if v_cell is None:",
            f"    out[{km}] = out[{new}] = None",
            "else:",
            f"    places_step(st, {i}, v_cell, lat, lon, ts, {self.width}, {self._lim()}, "
            f"{self.cap}, {self.new_km!r}, out, {km}, {new})",
        ]

    def prune(self, st: EntityState, i: int, lim: int) -> bool:
        if st[i] is not None:
            st[i] = seen_expire(st[i], self.width, lim)
        return st[i] is None


class TravelProfile(Accumulator):
    """``profile(travel)``: distance and speed since the previous located event.

    Slot: ``(ts, lat, lon)`` of the last located event.
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

    def fields(self) -> tuple[str, ...]:
        return ("cell",)  # lat / lon come with the cell

    def emit(self, i: int, acc: str) -> list[str]:
        last, kmh, travel = repr(self.o_last), repr(self.o_kmh), repr(self.o_travel)
        return [
            f"s = st[{i}]",
            f"if s is not None and s[0] // {self.width} <= {self._lim()}:",
            f"    s = st[{i}] = None",
            "if s is None or lat is None:",
            f"    out[{last}] = out[{kmh}] = out[{travel}] = None",
            "else:",
            "    k = haversine_km(s[1], s[2], lat, lon)",
            f"    m = k * 3600.0 / max(ts - s[0], {self.min_dt!r})",
            f"    out[{last}] = k",
            f"    out[{kmh}] = m",
            f"    out[{travel}] = m > {self.max_kmh!r} and k > {self.min_km!r}",
            "if lat is not None:",
            f"    st[{i}] = (ts, lat, lon)",
        ]

    def prune(self, st: EntityState, i: int, lim: int) -> bool:
        s = st[i]
        if s is not None and s[0] // self.width <= lim:
            st[i] = None
        return st[i] is None
