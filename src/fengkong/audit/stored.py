"""How the large columns of audited records are stored: plain, or zstd-compressed.

An event body, a decision and its explanation are JSON, so a stored value that starts
with :data:`MARK` (a byte JSON never starts with) is compressed: ``MARK``, one byte
naming the dictionary, then a zstd frame without its magic number. Each dictionary is
trained on the store's own first records and kept in the file's ``meta`` table
(``zstd_dict:<n>``, base64), so the file alone can be read back.

A record's digest covers the *plain* value: recompressing a row, or reading it back
from an archive or another backend, leaves the audit chain as it was. Readers that hash
rows (:mod:`fengkong.audit.verify`, evidence bundles, adoption) pass them through
:class:`Plain` first.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Callable, Collection
from typing import Any, Protocol

import zstandard

MARK = 0x01
DICT_KEY = "zstd_dict:"
FORMAT = zstandard.FORMAT_ZSTD1_MAGICLESS


class UnknownDictionary(LookupError):
    """A compressed value whose dictionary the file does not hold."""


def dictionary_key(number: int) -> str:
    return f"{DICT_KEY}{number}"


class Plain:
    """Turns stored values back into the plain ones; dictionaries read once, on demand.

    ``meta(key)`` reads the store's ``meta`` table.
    """

    def __init__(self, meta: Callable[[str], str | None]) -> None:
        self._meta = meta
        self._readers: dict[int, zstandard.ZstdDecompressor] = {}

    def add(self, number: int, data: bytes) -> None:
        """Know dictionary ``number`` without reading ``meta`` (the writer trained it)."""
        if not data:  # a column whose samples trained no dictionary: zstd alone
            self._readers[number] = zstandard.ZstdDecompressor(format=FORMAT)
            return
        d = zstandard.ZstdCompressionDict(data, dict_type=zstandard.DICT_TYPE_FULLDICT)
        self._readers[number] = zstandard.ZstdDecompressor(dict_data=d, format=FORMAT)

    def _reader(self, number: int) -> zstandard.ZstdDecompressor:
        found = self._readers.get(number)
        if found is None:
            raw = self._meta(dictionary_key(number))
            if raw is None:
                raise UnknownDictionary(f"compression dictionary {number} is not stored")
            self.add(number, base64.b64decode(raw))
            found = self._readers[number]
        return found

    def __call__(self, stored: bytes) -> bytes:
        """The plain value of ``stored`` (returned as it is when not compressed)."""
        if not stored or stored[0] != MARK:
            return stored
        return self._reader(stored[1]).decompress(stored[2:])

    def value(self, v: Any) -> Any:
        """A column value as read from SQLite: compressed bytes made plain, others kept."""
        if isinstance(v, bytes | memoryview) and len(v) and v[0] == MARK:
            return self(bytes(v))
        return v

    def row(self, row: tuple[Any, ...], columns: Collection[int]) -> tuple[Any, ...]:
        """``row`` with the values at ``columns`` (the compressible ones) made plain."""
        return tuple(self.value(v) if i in columns else v for i, v in enumerate(row))


class _Executes(Protocol):
    def execute(self, sql: str, params: Any = ..., /) -> Any: ...


def plain_of(conn: _Executes) -> Plain:
    """A :class:`Plain` reading the dictionaries of the database ``conn`` is open on
    (PostgreSQL keeps values plain: none is found there)."""

    def meta(key: str) -> str | None:
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:  # no meta table: nothing was compressed
            return None
        return None if row is None else str(row[0])

    return Plain(meta)
