"""The stored explanation of a decision: rule hits in clear, the feature vector packed.

An explanation is what a decision needs to be understood: the rule hits with the values
they saw, the stages' notes (documents, shadow rules, freezes...) and the facts and
features the stages computed. The names of those facts and features are the same for
every event of a pipeline, so they are stored once, as a *schema* (in the store's
``meta`` table, key ``explain_schema:<id>``), and each explanation keeps only the values
in the schema's order::

    {"rules": [...], "packed": {"schema": "3f…", "facts": [4, false, …], "features": […]}}

:func:`unpack` turns it back into the full form (``{"facts": {...}, "features": {...},
"rules": [...]}``) that ``explain=true`` shows; explanations stored before packing
(plain ``facts`` / ``features`` objects) pass through unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import orjson

PACKED = "packed"
SCHEMA_KEY = "explain_schema:"
_OPTIONS = orjson.OPT_NON_STR_KEYS


class UnknownSchema(LookupError):
    """A packed explanation whose schema the store does not hold."""


def schema_id(facts: tuple[str, ...], features: tuple[str, ...]) -> str:
    """A short, stable name for one ordering of fact and feature names."""
    digest = hashlib.blake2b(orjson.dumps([facts, features]), digest_size=8)
    return digest.hexdigest()


def schema_json(facts: tuple[str, ...], features: tuple[str, ...]) -> str:
    return orjson.dumps({"facts": facts, "features": features}).decode()


class Packer:
    """Packs explanations; remembers the schemas it has already had stored.

    ``save(key, value)`` stores a new schema (the store's ``set_meta``) before the
    first explanation that uses it is written.
    """

    def __init__(self, save: Callable[[str, str], None], known: Callable[[str], str | None]):
        self._save = save
        self._known = known
        self._ids: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = {}

    def _schema(self, facts: tuple[str, ...], features: tuple[str, ...]) -> str:
        key = (facts, features)
        found = self._ids.get(key)
        if found is None:
            found = schema_id(facts, features)
            if self._known(SCHEMA_KEY + found) is None:
                self._save(SCHEMA_KEY + found, schema_json(facts, features))
            self._ids[key] = found
        return found

    def pack(
        self, facts: Mapping[str, Any], features: Mapping[str, Any], notes: Mapping[str, Any]
    ) -> bytes:
        """The stored form of one explanation (JSON text)."""
        schema = self._schema(tuple(facts), tuple(features))
        packed = {
            "schema": schema,
            "facts": list(facts.values()),
            "features": list(features.values()),
        }
        return orjson.dumps({**notes, PACKED: packed}, option=_OPTIONS, default=str)


def unpack(stored: bytes, schema_of: Callable[[str], str | None]) -> bytes:
    """The full explanation (JSON) of a stored one; ``schema_of(key)`` reads ``meta``."""
    data = orjson.loads(stored)
    if not isinstance(data, dict) or PACKED not in data:
        return stored
    packed = data.pop(PACKED)
    raw = schema_of(SCHEMA_KEY + packed["schema"])
    if raw is None:
        raise UnknownSchema(f"explanation schema {packed['schema']} is not stored")
    names = orjson.loads(raw)
    if schema_id(tuple(names["facts"]), tuple(names["features"])) != packed["schema"]:
        raise UnknownSchema(f"explanation schema {packed['schema']} does not match its names")
    full = {
        "facts": dict(zip(names["facts"], packed["facts"], strict=True)),
        "features": dict(zip(names["features"], packed["features"], strict=True)),
        **data,
    }
    return orjson.dumps(full, option=_OPTIONS)
