"""Ring mining's per-file work on Ray: each task turns one lake file into graph tables.

Reading and parsing the events is what grows with history; the rings are then mined on
the driver from the (much smaller) link and money tables, exactly as ``graph mine``
does locally. ``address=None`` starts a local Ray with ``num_cpus`` workers; give a
cluster's address (``ray://head:10001`` or ``auto``) to run on one. The field key goes
to the tasks so they can reveal the sealed identifiers; run them only on workers you
would trust with the database itself.

    >>> from pathlib import Path
    >>> tables = graph_tables_on_ray(Path("lake"), field_key=None)  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fengkong.batch.lake import event_files, file_bodies, revealer
from fengkong.events import parse_event
from fengkong.graph.tables import GraphTables


def file_tables(path: str, field_key: bytes | None) -> GraphTables:
    """The graph tables of one lake file (what a Ray task or a Spark partition runs)."""
    import orjson

    bodies = file_bodies(Path(path), revealer(field_key))
    return GraphTables.from_events(parse_event(orjson.loads(b)) for b in bodies)


def concat_tables(parts: list[GraphTables]) -> GraphTables:
    """Tables of the lake's files (in :func:`event_files` order) as one, in time order.

    A stable sort by time is enough to give the rows of a sequential read: the parts of
    one day were written in the store's order, so ties keep it.
    """
    import pandas as pd

    if not parts:
        return GraphTables.from_events([])
    links = pd.concat([p.links for p in parts], ignore_index=True)
    money = pd.concat([p.money for p in parts], ignore_index=True)
    return GraphTables(
        links.sort_values("ts", kind="stable", ignore_index=True),
        money.sort_values("ts", kind="stable", ignore_index=True),
    )


def graph_tables_on_ray(
    root: Path,
    field_key: bytes | None,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
) -> GraphTables:
    """The lake's graph tables, one Ray task per file, joined in time order."""
    import ray

    started = not ray.is_initialized()
    if started:
        init: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address is not None:
            init["address"] = address
        else:
            init["num_cpus"] = num_cpus
        ray.init(**init)
    try:
        task = ray.remote(file_tables)
        refs = [task.remote(str(f), field_key) for f in event_files(root)]
        return concat_tables(list(ray.get(refs)))
    finally:
        if started:
            ray.shutdown()
