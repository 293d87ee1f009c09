"""Declarative feature definitions: a small language, parsed into plain data.

A definition reads like the question it answers::

    count(event where type=register) by device over 1h
    distinct(user) by ip24 over 24h
    sum(amount) by user over 7d
    mean(amount where type in (payment, transfer)) by user over 30d
    new(device) by user over 90d
    since(event where type=account_change) by user over 90d
    first_seen(phone) over 90d
    profile(travel) by user over 90d
    value(attributes.bureau_score)
    category(attributes.channel)
    mean(attributes.bureau_score) by user over 30d

``value(X)`` passes a numeric field of the event through (``attributes.NAME``, ``amount``,
``geo.lat`` ...; anything not a finite number is unknown), ``category(X)`` a categorical
one (text; numbers written as text, so ``1`` and ``"1"`` are one category). Windowed
amount aggregates (``sum``, ``mean``, ``std``, ``max``, ``min``, ``zscore``,
``percentile``) also take ``attributes.NAME``.

``... as NAME`` gives an explicit name; otherwise the name is derived from the
definition (``distinct(user) by ip24 over 24h`` -> ``ip24.distinct_users_24h``).

>>> d = parse_feature("count(event where type=register) by device over 1h")
>>> d.name, d.entity, d.window_s, d.bucket_s
('device.register_events_1h', 'device', 3600, 60)
>>> parse_feature("distinct(user_id) by ip_prefix24 over 24h").name
'ip24.distinct_users_24h'
>>> parse_feature("value(attributes.V1)").name, parse_feature("category(type)").name
('attr.V1', 'event.type')
>>> parse_feature("mean(attributes.V1) by user over 7d").name
'user.attr_V1_mean_7d'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from fengkong.events import OPERATIONS

# Entity keys: what a definition can group by, and what `distinct`/`new` can count.
ENTITIES: tuple[str, ...] = (
    "user",
    "device",
    "ip",
    "ip24",
    "phone",
    "id_number",
    "bank_card",
    "merchant",
    "cp_account",
    "cp_card",
)
# Further per-event values that `distinct`, `new`, `last_seen` and `last` can look at.
FIELDS: tuple[str, ...] = (*ENTITIES, "payee", "type", "operation", "cell")
_ALIASES = {
    "user_id": "user",
    "device_key": "device",
    "ip_prefix24": "ip24",
    "ip_prefix": "ip24",
    "merchant_id": "merchant",
    "counterparty_account": "cp_account",
    "counterparty_card": "cp_card",
    "counterparty": "payee",
}
_PLURAL = {"ip24": "ip24s", "id_number": "id_numbers", "type": "types", "payee": "payees"}

AGGREGATES: tuple[str, ...] = (
    "count",  # count(event) : events in the window
    "sum",  # sum(amount)
    "mean",
    "std",  # population standard deviation
    "max",
    "min",
    "zscore",  # (this amount - window mean) / window std
    "percentile",  # share (0..100) of the entity's last N amounts below this amount
    "distinct",  # distinct values of a field in the window
    "new",  # this event's value not seen for the entity in the window
    "last_seen",  # seconds since this event's value was last seen for the entity
    "first_seen",  # seconds since the entity's first event in the window
    "since",  # seconds since the entity's last matching event
    "last",  # a field of the entity's last matching event
    "profile",  # hours | places | travel: per-user baselines with several outputs
    "value",  # a numeric field of the event itself (no state)
    "category",  # a categorical field of the event itself (no state)
)
EVENT_AGGREGATES = frozenset({"value", "category"})
ATTRIBUTE_PREFIX = "attributes."
# Numeric fields of the event that ``value`` reads (besides ``attributes.NAME``); booleans
# are 0 / 1.
VALUE_FIELDS: tuple[str, ...] = (
    "amount",
    "geo.lat",
    "geo.lon",
    "geo.accuracy_m",
    "context.in_call",
    "context.caller_in_contacts",
    "context.screen_sharing",
    "context.remote_control_app",
    "device.fingerprint.is_emulator",
    "device.fingerprint.is_rooted",
)
# Categorical fields of the event that ``category`` reads (besides ``attributes.NAME``).
CATEGORY_FIELDS: tuple[str, ...] = (
    "type",
    "operation",
    "currency",
    "context.entry",
    "device.fingerprint.platform",
)
AMOUNT_AGGREGATES = frozenset({"sum", "mean", "std", "max", "min", "zscore", "percentile"})
SEEN_AGGREGATES = frozenset({"distinct", "new", "last_seen"})
PROFILES: dict[str, tuple[str, ...]] = {
    # share of the user's events in this hour of day ±1 (local time); unusual hour flag
    "hours": ("hour_share", "is_unusual_hour"),
    # km to the nearest usual place (~25 km grid cells seen in the window); new city flag
    "places": ("km_from_usual", "is_new_city"),
    # distance / speed from the previous located event; impossible travel flag
    "travel": ("km_from_last", "geo_velocity_kmh", "is_impossible_travel"),
}
EVENT_TYPES: frozenset[str] = frozenset(
    {
        "register",
        "login",
        "payment",
        "credit_draw",
        "transfer",
        "withdrawal",
        "account_change",
        "qr_scan",
        "document_upload",
        "voice_check",
    }
)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Bucket widths, coarsest first: a window gets the coarsest width that still gives it
# at least 24 buckets, so its edge is never more than ~4 % off a sliding window.
_BUCKET_WIDTHS = (86400, 21600, 3600, 900, 300, 60, 10, 1)
MIN_WINDOW_S = 60
MAX_WINDOW_S = 90 * 86400
DEFAULT_HORIZON_S = 90 * 86400

_DEF = re.compile(
    r"""^\s*(?P<agg>[a-z_]+)\s*\(\s*(?P<field>attributes\.[A-Za-z0-9_][A-Za-z0-9_-]*|[a-z_0-9.]*)\s*
        (?:where\s+(?P<where>[^)]*?(?:\([^)]*\))?[^)]*?))?\s*\)
        (?:\s+by\s+(?P<by>[a-z_0-9]+))?
        (?:\s+over\s+(?P<over>\d+[smhd]))?
        (?:\s+as\s+(?P<alias>[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)?))?\s*$""",
    re.VERBOSE,
)
_COND = re.compile(
    r"^\s*(?P<key>type|operation)\s*(?:=\s*(?P<one>[a-z_]+)|in\s*\((?P<many>[a-z_,\s]+)\))\s*$"
)
_OPERATIONS = OPERATIONS
_ATTRIBUTE = re.compile(r"attributes\.[A-Za-z0-9_][A-Za-z0-9_-]*")


class FeatureSpecError(ValueError):
    """A feature definition that does not parse or does not make sense."""


@dataclass(frozen=True, slots=True)
class FeatureDef:
    """One parsed definition. ``outputs`` are the dotted feature names it produces."""

    text: str
    agg: str
    field: str  # "event", "amount", "attributes.NAME", a name of FIELDS, or a profile kind
    entity: str  # "event" for value / category: the event itself, no state
    window_s: int  # 0: no window (never happens for windowed aggregates)
    bucket_s: int
    types: frozenset[str] | None  # filter on event type (None: every event)
    operations: frozenset[str] | None  # filter on account_change operation
    outputs: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.outputs[0]

    @property
    def attribute(self) -> str | None:
        """``NAME`` of a field ``attributes.NAME``, else None."""
        if self.field.startswith(ATTRIBUTE_PREFIX):
            return self.field[len(ATTRIBUTE_PREFIX) :]
        return None

    @property
    def n_buckets(self) -> int:
        return self.window_s // self.bucket_s

    @property
    def group_key(self) -> tuple[object, ...]:
        """Definitions with equal group keys share one accumulator in the state."""
        kind = (
            "amount"
            if self.agg in AMOUNT_AGGREGATES - {"percentile"}
            else ("seen" if self.agg in SEEN_AGGREGATES else self.agg)
        )
        ops = tuple(sorted(self.operations)) if self.operations else None
        types = tuple(sorted(self.types)) if self.types else None
        return (kind, self.field, self.entity, self.window_s, types, ops)


def window_text(seconds: int) -> str:
    """``3600`` -> ``"1h"``, ``86400`` -> ``"24h"``, ``604800`` -> ``"7d"``.

    Days from two days up, hours from one hour up, else minutes or seconds.
    """
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= (2 * size if unit == "d" else size):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_window(text: str) -> tuple[int, int]:
    """``"24h"`` -> ``(86400, 3600)``: the window and its bucket width in seconds."""
    m = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not m:
        raise FeatureSpecError(f"bad window {text!r}: write e.g. 10m, 1h, 7d")
    window = int(m.group(1)) * _UNITS[m.group(2)]
    if not MIN_WINDOW_S <= window <= MAX_WINDOW_S:
        raise FeatureSpecError(f"window {text!r} outside 1m..90d")
    for width in _BUCKET_WIDTHS:
        if window % width == 0 and window // width >= 24:
            return window, width
    return window, 1


def _filters(where: str | None) -> tuple[frozenset[str] | None, frozenset[str] | None]:
    if not where:
        return None, None
    types: frozenset[str] | None = None
    ops: frozenset[str] | None = None
    for part in re.split(r"\s+and\s+", where.strip()):
        m = _COND.match(part)
        if not m:
            raise FeatureSpecError(
                f"bad condition {part!r}: write type=register, type in (payment, transfer) "
                "or operation=change_phone"
            )
        values = frozenset(
            [m.group("one")] if m.group("one") else [v.strip() for v in m.group("many").split(",")]
        )
        known = EVENT_TYPES if m.group("key") == "type" else _OPERATIONS
        unknown = sorted(values - known)
        if unknown:
            raise FeatureSpecError(f"unknown {m.group('key')} {unknown[0]!r}")
        if m.group("key") == "type":
            types = values
        else:
            ops = values
    if ops is not None and types is None:
        types = frozenset({"account_change"})
    return types, ops


def _filter_tag(types: frozenset[str] | None, ops: frozenset[str] | None) -> str:
    if ops:
        return "_".join(sorted(ops))
    if types:
        return "_".join(sorted(types))
    return ""


def _derive_names(
    agg: str,
    field: str,
    entity: str,
    window: str,
    types: frozenset[str] | None,
    ops: frozenset[str] | None,
) -> tuple[str, ...]:
    tag = _filter_tag(types, ops)
    suffix = f"_{tag}" if tag else ""
    if agg == "count":
        return (f"{entity}.{tag + '_' if tag else ''}events_{window}",)
    if agg in AMOUNT_AGGREGATES:
        if field.startswith(ATTRIBUTE_PREFIX):
            return (f"{entity}.attr_{field[len(ATTRIBUTE_PREFIX) :]}_{agg}{suffix}_{window}",)
        return (f"{entity}.amount_{agg}{suffix}_{window}",)
    if agg == "distinct":
        return (f"{entity}.distinct_{_PLURAL.get(field, field + 's')}{suffix}_{window}",)
    if agg == "new":
        return (f"{entity}.is_new_{field}{suffix}",)
    if agg == "last_seen":
        return (f"{entity}.secs_since_{field}_seen{suffix}",)
    if agg == "first_seen":
        return (f"{entity}.secs_since_first_seen",)
    if agg == "since":
        return (f"{entity}.secs_since_{tag or 'event'}",)
    if agg == "last":
        return (f"{entity}.last_{tag + '_' if tag else ''}{field}",)
    return tuple(f"{entity}.{out}" for out in PROFILES[field])


def _event_field(text: str, agg: str, field: str, m: re.Match[str]) -> FeatureDef:
    """``value(X)`` / ``category(X)``: a field of the event itself, no window, no state."""
    if m.group("by") or m.group("over") or m.group("where"):
        raise FeatureSpecError(f"{agg}(...) reads the event itself: no `by`, `over` or `where`")
    known = VALUE_FIELDS if agg == "value" else CATEGORY_FIELDS
    if field.startswith(ATTRIBUTE_PREFIX):
        name = f"attr.{field[len(ATTRIBUTE_PREFIX) :]}"
    elif field in known:
        name = "event." + field.replace("device.fingerprint.", "").replace(".", "_")
    else:
        raise FeatureSpecError(
            f"{agg} takes attributes.NAME or one of {', '.join(known)}; got {field!r}"
        )
    alias = m.group("alias")
    if alias is not None:
        name = alias if "." in alias else f"{name.split('.')[0]}.{alias}"
    return FeatureDef(text.strip(), agg, field, "event", 0, 1, None, None, (name,))


def parse_feature(text: str) -> FeatureDef:
    """Parse one definition; raises :class:`FeatureSpecError` saying what is wrong."""
    m = _DEF.match(text)
    if not m:
        raise FeatureSpecError(f"cannot parse {text!r}: write e.g. 'sum(amount) by user over 7d'")
    agg = m.group("agg")
    if agg not in AGGREGATES:
        raise FeatureSpecError(f"unknown aggregate {agg!r}; one of {', '.join(AGGREGATES)}")
    field = _ALIASES.get(m.group("field"), m.group("field"))
    if field.startswith("attributes") and not _ATTRIBUTE.fullmatch(field):
        raise FeatureSpecError(f"cannot parse {text!r}: write attributes.NAME")
    if agg in EVENT_AGGREGATES:
        return _event_field(text, agg, field, m)
    by = m.group("by")
    if agg == "first_seen":
        if by is not None and by != field:
            raise FeatureSpecError("first_seen(X) takes no `by`: it is about X itself")
        by = field
    entity = _ALIASES.get(by or "", by or "")
    if entity not in ENTITIES:
        raise FeatureSpecError(f"unknown entity {by!r}; one of {', '.join(ENTITIES)}")
    if agg == "count" and field != "event":
        raise FeatureSpecError("count takes `event`: count(event where type=login)")
    if agg in AMOUNT_AGGREGATES and field != "amount" and not field.startswith(ATTRIBUTE_PREFIX):
        raise FeatureSpecError(f"{agg} takes `amount` or `attributes.NAME`")
    if agg in SEEN_AGGREGATES | {"last"} and field not in FIELDS:
        raise FeatureSpecError(f"unknown field {field!r}; one of {', '.join(FIELDS)}")
    if agg == "since" and field != "event":
        raise FeatureSpecError("since takes `event`: since(event where type=account_change)")
    if agg == "profile":
        if field not in PROFILES:
            raise FeatureSpecError(f"unknown profile {field!r}; one of {', '.join(PROFILES)}")
        if entity != "user":
            raise FeatureSpecError("profiles are per user: profile(travel) by user")
    over = m.group("over")
    window, bucket = parse_window(over) if over else parse_window(window_text(DEFAULT_HORIZON_S))
    if over is None and agg not in {"new", "last_seen", "first_seen", "since", "last", "profile"}:
        raise FeatureSpecError(f"{agg} needs a window: add e.g. `over 24h`")
    types, ops = _filters(m.group("where"))
    if agg == "profile" and (types or ops):
        raise FeatureSpecError("profiles take no `where`")
    names = _derive_names(agg, field, entity, window_text(window), types, ops)
    alias = m.group("alias")
    if alias is not None:
        if len(names) > 1:
            raise FeatureSpecError("a profile has several outputs and cannot be renamed")
        names = (alias if "." in alias else f"{entity}.{alias}",)
    return FeatureDef(text.strip(), agg, field, entity, window, bucket, types, ops, names)


# The default feature set. Keep docs/features.md in step with this list.
DEFAULT_FEATURES: tuple[str, ...] = (
    # batch registration: accounts behind one device / IP / range / phone / ID / card
    "count(event where type=register) by device over 1h as accounts_registered_1h",
    "count(event where type=register) by device over 24h as accounts_registered_24h",
    "count(event where type=register) by device over 7d as accounts_registered_7d",
    "distinct(user) by device over 24h",
    "distinct(user) by device over 30d",
    "count(event where type=register) by ip over 1h as accounts_registered_1h",
    "distinct(user) by ip over 24h",
    "count(event) by ip over 1h",
    "count(event where type=register) by ip24 over 1h as accounts_registered_1h",
    "distinct(user) by ip24 over 24h",
    "distinct(user) by phone over 7d as accounts_7d",
    "first_seen(phone) over 90d",
    "distinct(user) by id_number over 30d as accounts_30d",
    "distinct(user) by bank_card over 30d as accounts_30d",
    # fast device / network switching
    "distinct(device) by user over 1h",
    "distinct(device) by user over 24h",
    "distinct(ip) by user over 24h",
    # velocity
    "count(event) by user over 10m",
    "count(event where type=login) by user over 1h",
    "count(event where type in (payment, credit_draw, transfer, withdrawal)) by user "
    "over 1h as money_events_1h",
    "sum(amount) by user over 24h",
    "sum(amount) by user over 7d",
    "count(event where type=payment) by merchant over 1h",
    "sum(amount) by merchant over 24h",
    "distinct(user) by merchant over 24h",
    "distinct(user) by cp_account over 24h as senders_24h",
    "distinct(cp_account where type=transfer) by user over 7d as transfer_payees_7d",
    # amount habit: the user's own normal range
    "mean(amount) by user over 30d",
    "std(amount) by user over 30d",
    "max(amount) by user over 30d",
    "zscore(amount) by user over 30d",
    "percentile(amount) by user over 90d",
    # per-user baselines: hours, devices, places, travel, payees
    "profile(hours) by user over 30d",
    "new(device) by user over 90d",
    "last_seen(device) by user over 90d",
    "first_seen(user) over 90d",
    "profile(places) by user over 90d",
    "profile(travel) by user over 90d",
    "new(payee) by user over 90d",
    # account changes right before money moves (scam: close credit line, change phone)
    "since(event where type=account_change) by user over 90d as secs_since_account_change",
    "last(operation where type=account_change) by user over 90d as last_account_change",
    "count(event where type=account_change) by user over 24h",
)


def merge_definitions(base: Sequence[str], more: Sequence[str]) -> list[str]:
    """``base`` then the definitions of ``more`` it lacks. A definition of ``more`` that
    means the same as one of ``base`` in other words (``over 1d`` / ``over 24h``) takes
    its place, so a model's inputs are defined by the very text it was trained with."""
    out = list(base)
    meaning = {replace(parse_feature(t), text=""): i for i, t in enumerate(out)}
    for text in more:
        if text in out:
            continue
        i = meaning.get(replace(parse_feature(text), text=""))
        if i is None:
            out.append(text)
        else:
            out[i] = text
    return out


def default_definitions() -> list[FeatureDef]:
    """The default feature set, parsed."""
    return [parse_feature(t) for t in DEFAULT_FEATURES]


def feature_names(defs: list[FeatureDef]) -> list[str]:
    """All output names of ``defs`` in definition order; duplicates are an error."""
    names: list[str] = []
    seen: set[str] = set()
    for d in defs:
        for n in d.outputs:
            if n in seen:
                raise FeatureSpecError(f"two definitions produce {n!r}; rename one with `as`")
            seen.add(n)
            names.append(n)
    return names


def default_feature_names() -> list[str]:
    """Names of the default features, e.g. ``user.amount_zscore_30d``."""
    return feature_names(default_definitions())
