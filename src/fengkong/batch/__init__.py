"""Batch work at scale: the event store as a Parquet lake, and jobs that read it.

:mod:`.lake` writes and reads the lake; :mod:`.ray_jobs` runs ring mining's per-file
work on a Ray cluster (a local one by default). docs/deployment.md ("Batch work at
scale") shows the same jobs on Spark.
"""

from fengkong.batch.lake import (
    LakeError,
    LakeWriter,
    event_files,
    is_lake,
    lake_bodies,
    lake_events,
    lake_labels,
    manifest,
)

__all__ = [
    "LakeError",
    "LakeWriter",
    "event_files",
    "is_lake",
    "lake_bodies",
    "lake_events",
    "lake_labels",
    "manifest",
]
