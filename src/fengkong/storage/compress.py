"""Compressing the stored event bodies, decisions and explanations (zstd, dictionaries).

One value is a few hundred bytes of JSON whose keys and shapes repeat from row to row:
zstd alone saves little on it, zstd with a dictionary trained on such rows saves 60-80 %.
The first ``train_after`` values of each column are stored plain and kept as samples; a
background thread trains that column's dictionary from them (zstandard releases the
GIL); the next write transaction stores it in ``meta`` (:func:`install`), recompresses
the sample rows and compresses from then on. The format and its reader are
:mod:`fengkong.audit.stored`: the audit chain's digests cover the plain values.

Several writers on one file agree on one dictionary per column: the first to install
one names it in ``meta`` (``zstd_column:<column>``) inside its write transaction, and a
writer that finds one there adopts it instead of its own.
"""

from __future__ import annotations

import base64
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import zstandard

from fengkong.audit.stored import DICT_KEY, FORMAT, MARK, Plain, dictionary_key

log = logging.getLogger(__name__)

COLUMN_KEY = "zstd_column:"
# column -> (table, column): the values a compressor is used for.
COLUMNS = {
    "event": ("events", "body"),
    "decision": ("decisions", "body"),
    "explain": ("decisions", "explain"),
}
DICT_SIZE = 32768
LEVEL = 3
_CHUNK = 500


# A stored value is a few hundred bytes to a few KB: parameters sized for that (and the
# dictionary) instead of for an unknown size keep zstd's tables at a quarter of the size,
# so each value's compression resets less memory (3.2 -> 1.2 µs for a 370 B event body,
# the same output size); any window up to the default limit is read back the same way.
_VALUE_SIZE = 4096


def _params() -> zstandard.ZstdCompressionParameters:
    return zstandard.ZstdCompressionParameters.from_level(
        LEVEL,
        source_size=_VALUE_SIZE,
        dict_size=DICT_SIZE,
        format=FORMAT,
        write_content_size=True,
        write_checksum=False,
        write_dict_id=False,
    )


@dataclass
class _Column:
    samples: list[bytes] = field(default_factory=list)
    sample_ids: list[str] = field(default_factory=list)
    trained: bytes | None = None
    writer: tuple[int, zstandard.ZstdCompressor] | None = None


class Compressor:
    """Encodes the values of :data:`COLUMNS`; ``train_after = 0`` stores them plain."""

    def __init__(self, plain: Plain, train_after: int = 1000) -> None:
        self.plain = plain
        self.train_after = train_after
        self._columns = {name: _Column() for name in COLUMNS}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def encode(self, column: str, value: bytes, event_id: str) -> bytes:
        """The stored form of ``value`` (plain until the column has a dictionary)."""
        state = self._columns[column]
        with self._lock:
            if state.writer is not None:
                number, writer = state.writer
                return bytes((MARK, number)) + writer.compress(value)
            if len(state.samples) < self.train_after:
                state.samples.append(value)
                state.sample_ids.append(event_id)
                if len(state.samples) == self.train_after:
                    self._start(column)
        return value

    def _start(self, column: str) -> None:
        thread = threading.Thread(
            target=self._train, args=(column,), name=f"zstd-train-{column}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _train(self, column: str) -> None:
        state = self._columns[column]
        try:
            samples: list[bytes | bytearray | memoryview[int]] = list(state.samples)
            trained = zstandard.train_dictionary(DICT_SIZE, samples).as_bytes()
        except zstandard.ZstdError as exc:  # too few distinct samples: no dictionary
            log.info("no zstd dictionary for %s: %s", column, exc)
            trained = b""
        with self._lock:
            state.trained = trained

    def wait(self) -> None:
        """Until the dictionaries being trained are ready (tests, the end of a replay)."""
        for thread in list(self._threads):
            thread.join()

    @property
    def ready(self) -> bool:
        """A trained dictionary waits to be installed."""
        return any(s.trained is not None and s.writer is None for s in self._columns.values())

    def load(self, conn: sqlite3.Connection) -> None:
        """Compress with the dictionaries the file already names (a restart)."""
        rows = conn.execute(
            "SELECT key, value FROM meta WHERE key LIKE ?", (COLUMN_KEY + "%",)
        ).fetchall()
        for key, value in rows:
            column = str(key)[len(COLUMN_KEY) :]
            if column in self._columns:
                self._activate(column, self._writer(conn, int(value)))

    def _writer(
        self, conn: sqlite3.Connection, number: int
    ) -> tuple[int, zstandard.ZstdCompressor]:
        row = conn.execute(
            "SELECT value FROM meta WHERE key = ?", (dictionary_key(number),)
        ).fetchone()
        data = b"" if row is None else base64.b64decode(row[0])
        params = _params()
        if data:
            d = zstandard.ZstdCompressionDict(data, dict_type=zstandard.DICT_TYPE_FULLDICT)
            d.precompute_compress(compression_params=params)
            writer = zstandard.ZstdCompressor(dict_data=d, compression_params=params)
        else:
            writer = zstandard.ZstdCompressor(compression_params=params)
        self.plain.add(number, data)
        return number, writer

    def _activate(self, column: str, writer: tuple[int, zstandard.ZstdCompressor]) -> None:
        state = self._columns[column]
        with self._lock:
            state.writer = writer
            state.samples, state.sample_ids, state.trained = [], [], None

    def install(self, conn: sqlite3.Connection) -> Callable[[], None]:
        """In the caller's write transaction: store the trained dictionaries and
        recompress the rows their samples came from. Returns what to call once that
        transaction has committed: compressing starts then (never with a dictionary
        the file does not hold)."""
        ready: list[tuple[str, tuple[int, zstandard.ZstdCompressor]]] = []
        for column, state in self._columns.items():
            if state.trained is None or state.writer is not None:
                continue
            named = conn.execute(
                "SELECT value FROM meta WHERE key = ?", (COLUMN_KEY + column,)
            ).fetchone()
            if named is None:
                number = _next_number(conn)
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [
                        (dictionary_key(number), base64.b64encode(state.trained).decode()),
                        (COLUMN_KEY + column, str(number)),
                    ],
                )
            else:  # another writer on this file installed one first: use it
                number = int(named[0])
            writer = self._writer(conn, number)
            _recompress(conn, column, writer, state.sample_ids)
            ready.append((column, writer))

        def activate() -> None:
            for column, writer in ready:
                self._activate(column, writer)

        return activate


def _recompress(
    conn: sqlite3.Connection,
    column: str,
    writer: tuple[int, zstandard.ZstdCompressor],
    ids: Sequence[str],
) -> None:
    table, name = COLUMNS[column]
    number, compressor = writer
    head = bytes((MARK, number))
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT event_id, {name} FROM {table} WHERE event_id IN ({marks})", chunk
        ).fetchall()
        plain = [(str(e), v.encode() if isinstance(v, str) else bytes(v)) for e, v in rows]
        conn.executemany(
            f"UPDATE {table} SET {name} = ? WHERE event_id = ?",
            [(head + compressor.compress(v), e) for e, v in plain if v[:1] != bytes((MARK,))],
        )


def _next_number(conn: sqlite3.Connection) -> int:
    keys = conn.execute("SELECT key FROM meta WHERE key LIKE ?", (DICT_KEY + "%",)).fetchall()
    used = [int(str(k[0])[len(DICT_KEY) :]) for k in keys]
    number = max(used, default=0) + 1
    if number > 255:
        raise RuntimeError("no compression dictionary number left (255 in this file)")
    return number
