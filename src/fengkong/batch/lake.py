"""The event store as a Parquet lake: what batch jobs read when history outgrows a file.

Layout (Hive-style partitions, so Spark, DuckDB, Ray and pyarrow read it as one table)::

    LAKE/_lake.json                          format, counts, first and last event time
    LAKE/events/day=2026-10-01/part-00000.parquet
                 seq, event_id, type, user_id, ts, body
    LAKE/labels.parquet                      event_id, user_id, label, source, at, scenario

``day`` is the UTC day of ``occurred_at``. ``body`` is the event as the store keeps it,
protected fields sealed (:mod:`fengkong.events.protect`): the lake is no more readable
than the database, and a job reveals bodies with the same field key. Reading a lake
gives events in time order (days in order; inside a day by ``ts``, then by ``seq``, the
store's acceptance order).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from fengkong.events import Event, Label, parse_event
from fengkong.events.protect import SEALED

FORMAT = 1
MANIFEST = "_lake.json"
EVENT_COLUMNS = ("seq", "event_id", "type", "user_id", "ts", "body")
LABEL_COLUMNS = ("event_id", "user_id", "label", "source", "at", "scenario")


# event_id, user_id, label, source, at (epoch seconds), scenario
LabelRow = tuple[str | None, str | None, str, str, float, str | None]


def label_row(label: Label) -> LabelRow:
    return (
        label.event_id,
        label.user_id,
        label.label,
        label.source,
        label.at.timestamp(),
        label.scenario,
    )


class LakeError(ValueError):
    """A directory that is not a lake this version reads, or one that would be overwritten."""


def _event_schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("seq", pa.int64()),
            ("event_id", pa.string()),
            ("type", pa.string()),
            ("user_id", pa.string()),
            ("ts", pa.float64()),
            ("body", pa.binary()),
        ]
    )


def _epoch(text: str) -> float:
    dt = datetime.fromisoformat(text)
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


@dataclass
class _DayBuffer:
    rows: list[tuple[int, str, str, str, float, bytes]] = field(default_factory=list)
    parts: int = 0


@dataclass
class LakeWriter:
    """Writes events (in store order) and labels into a new lake directory."""

    root: Path
    rows_per_file: int = 200_000
    _days: dict[str, _DayBuffer] = field(default_factory=dict)
    _events: int = 0
    _first: float = float("inf")
    _last: float = float("-inf")

    def __post_init__(self) -> None:
        if self.root.exists() and any(self.root.iterdir()):
            raise LakeError(f"{self.root} is not empty: give a new directory")
        (self.root / "events").mkdir(parents=True, exist_ok=True)

    def add(self, seq: int, stored_body: bytes, ts: float | None = None) -> None:
        """One event: ``stored_body`` as the store keeps it (protected fields sealed);
        ``ts`` its ``occurred_at`` when the caller already knows it."""
        head = orjson.loads(stored_body)
        ts = _epoch(head["occurred_at"]) if ts is None else ts
        day = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
        buf = self._days.setdefault(day, _DayBuffer())
        buf.rows.append((seq, head["event_id"], head["type"], head["user_id"], ts, stored_body))
        self._events += 1
        self._first, self._last = min(self._first, ts), max(self._last, ts)
        if len(buf.rows) >= self.rows_per_file:
            self._flush(day, buf)

    def _flush(self, day: str, buf: _DayBuffer) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not buf.rows:
            return
        columns = list(zip(*buf.rows, strict=True))
        table = pa.table(dict(zip(EVENT_COLUMNS, columns, strict=True)), schema=_event_schema())
        folder = self.root / "events" / f"day={day}"
        folder.mkdir(exist_ok=True)
        pq.write_table(table, folder / f"part-{buf.parts:05d}.parquet", compression="zstd")
        buf.parts += 1
        buf.rows = []

    def close(self, labels: Iterable[LabelRow]) -> dict[str, Any]:
        """Flush every day, write the labels and the manifest; return the manifest."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        for day, buf in self._days.items():
            self._flush(day, buf)
        rows = list(labels)
        columns: list[Any] = list(zip(*rows, strict=True)) if rows else [[]] * len(LABEL_COLUMNS)
        schema = pa.schema(
            [
                ("event_id", pa.string()),
                ("user_id", pa.string()),
                ("label", pa.string()),
                ("source", pa.string()),
                ("at", pa.float64()),
                ("scenario", pa.string()),
            ]
        )
        pq.write_table(
            pa.table(dict(zip(LABEL_COLUMNS, columns, strict=True)), schema=schema),
            self.root / "labels.parquet",
        )
        manifest = {
            "format": FORMAT,
            "events": self._events,
            "labels": len(rows),
            "days": len(self._days),
            "first_event": _iso(self._first) if self._events else None,
            "last_event": _iso(self._last) if self._events else None,
            "exported_at": _iso(time.time()),
            "bodies": "sealed as stored: reveal with the deployment's field key",
        }
        (self.root / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        return manifest


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def revealer(field_key: bytes | None) -> Callable[[bytes], bytes]:
    """What opens a lake's bodies: the field key's reveal, or (no key) a check that
    refuses sealed bodies, as a lake written from a replay file has none."""
    if field_key is not None:
        from fengkong.events.protect import FieldProtector

        return FieldProtector(field_key).reveal

    def clear_only(body: bytes) -> bytes:
        if SEALED.encode() in body:
            raise LakeError(
                "the lake's bodies are sealed: give the settings (--config or --db) of the "
                "deployment whose field key sealed them"
            )
        return body

    return clear_only


def is_lake(path: Path) -> bool:
    """Whether ``path`` is a lake directory (has its manifest)."""
    return path.is_dir() and (path / MANIFEST).is_file()


def manifest(root: Path) -> dict[str, Any]:
    if not is_lake(root):
        raise LakeError(f"{root}: not a lake (no {MANIFEST}); write one with `fengkong db export`")
    data: dict[str, Any] = json.loads((root / MANIFEST).read_text())
    if data.get("format") != FORMAT:
        raise LakeError(f"{root}: lake format {data.get('format')!r}, this version reads {FORMAT}")
    return data


def event_files(root: Path) -> list[Path]:
    """The lake's event files in time order: days in order, parts in order."""
    manifest(root)
    return sorted((root / "events").glob("day=*/part-*.parquet"))


def file_bodies(path: Path, reveal: Callable[[bytes], bytes] = bytes) -> Iterator[bytes]:
    """The event bodies of one lake file in time order (``ts``, then ``seq``), revealed."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["seq", "ts", "body"])
    order = table.sort_by([("ts", "ascending"), ("seq", "ascending")])
    for body in order.column("body").to_pylist():
        yield reveal(body)


def _day_bodies(files: list[Path], reveal: Callable[[bytes], bytes]) -> Iterator[bytes]:
    """The parts of one day merged into time order (each part is already sorted)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if len(files) == 1:
        yield from file_bodies(files[0], reveal)
        return
    table = pa.concat_tables(pq.read_table(f, columns=["seq", "ts", "body"]) for f in files)
    for body in table.sort_by([("ts", "ascending"), ("seq", "ascending")]).column("body"):
        yield reveal(body.as_py())


def lake_bodies(root: Path, reveal: Callable[[bytes], bytes] | None = None) -> Iterator[bytes]:
    """Every event body of the lake in time order, revealed with ``reveal`` (default:
    clear bodies only, see :func:`revealer`)."""
    reveal = revealer(None) if reveal is None else reveal
    by_day: dict[str, list[Path]] = {}
    for f in event_files(root):
        by_day.setdefault(f.parent.name, []).append(f)
    for day in sorted(by_day):
        yield from _day_bodies(by_day[day], reveal)


def lake_events(
    root: Path, reveal: Callable[[bytes], bytes] | None = None, end: float | None = None
) -> Iterator[Event]:
    """The lake's events in time order, validated; stops at ``end`` (epoch seconds)."""
    for body in lake_bodies(root, reveal):
        event = parse_event(orjson.loads(body))
        if end is not None and event.ts >= end:
            return
        yield event


def lake_labels(root: Path) -> list[Label]:
    """The lake's labels, as stored (oldest first)."""
    import pyarrow.parquet as pq

    manifest(root)
    out = []
    for row in pq.read_table(root / "labels.parquet").to_pylist():
        at = datetime.fromtimestamp(row["at"], UTC)
        data: dict[str, Any] = {"label": row["label"], "source": row["source"], "at": at}
        data["event_id" if row["event_id"] is not None else "user_id"] = (
            row["event_id"] or row["user_id"]
        )
        if row["scenario"]:
            data["scenario"] = row["scenario"]
        out.append(Label.model_validate(data))
    return out


def export_store(
    store: Any,
    out: Path,
    seal: Callable[[bytes], bytes],
    progress: Callable[[int], object] = lambda n: None,
) -> dict[str, Any]:
    """Write a store's events (sealed again with ``seal``) and labels as a new lake."""
    writer = LakeWriter(out)
    for seq, body in store.events_after(0):
        writer.add(seq, seal(body))
        progress(1)
    labels = ((r.event_id, r.user_id, r.label, r.source, r.at, r.scenario) for r in store.labels())
    return writer.close(labels)


def export_jsonl(
    events: Path,
    labels: Path | None,
    out: Path,
    progress: Callable[[int], object] = lambda n: None,
) -> dict[str, Any]:
    """Write a replay file (JSON Lines, validated line by line) and its labels as a lake."""
    from fengkong.events import parse_label

    writer = LakeWriter(out)
    with events.open("rb") as fh:
        for seq, line in enumerate((x for x in fh if x.strip()), start=1):
            event = parse_event(line)
            writer.add(seq, line.strip(), event.ts)
            progress(1)
    rows: list[LabelRow] = []
    if labels is not None:
        with labels.open("rb") as fh:
            rows = [label_row(parse_label(x)) for x in fh if x.strip()]
    return writer.close(rows)
