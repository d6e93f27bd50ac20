"""Lake maintenance: remove a dataset (``emgcorpus rm``) and reclaim space (``emgcorpus vacuum``).

Both run as a :class:`emgcorpus.lake_writer.LakeWriter` (the write lock, recovery of a
crashed writer first, one commit group), so they are crash-safe like ingest:

- :func:`remove_dataset` publishes a new version of every table that held rows of the
  dataset: the metadata tables are rewritten without them, the ``signals`` files of the
  dataset's partition (raw and harmonized streams) are removed from the log. Nothing is
  deleted from disk: earlier snapshots still read the dataset (``Lake.open(path,
  snapshot=...)``, Delta time travel) until :func:`vacuum_lake` runs.
- :func:`vacuum_lake` compacts the metadata tables that have more than one file (one
  file per table, a new version, same rows), then deletes every table file that no
  version inside the retention window references (Delta ``vacuum``, full mode: files a
  crashed foreign writer left are deleted too), so raw-Parquet readers (a
  ``pyarrow.dataset`` over a table folder) count the same rows as Delta readers. The
  retention is :data:`DEFAULT_RETENTION_HOURS` unless given; a shorter one needs
  ``force`` (it makes the versions of the last hours unreadable). ``signals`` files are
  not compacted: they are written in ``seq`` order with small row groups that
  per-recording reads rely on.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from emgcorpus.errors import ConfigError, LakeError
from emgcorpus.lake import Lake
from emgcorpus.lake_location import LakePath, lake_root
from emgcorpus.lake_writer import LakeWriter, delta_table
from emgcorpus.schema import PARTITION_BY, TABLES

#: Retention of ``vacuum`` [h] when none is given: Delta's own default (7 days).
DEFAULT_RETENTION_HOURS = 168


def _datasets(lake: Lake) -> set[str]:
    """Every dataset name that has a row in some metadata table or a ``signals`` partition."""
    names: set[str] = set()
    for table in ("recordings", "channels", "events", "subjects", "harmonized"):
        names.update(
            str(x)
            for x in lake.table(table).to_pyarrow_table(columns=["dataset"])[0].unique().to_pylist()
        )
    actions = pa.table(lake.table("signals").get_add_actions(flatten=True))
    names.update(str(x) for x in pc.unique(actions["partition.dataset"]).to_pylist())
    return names


def remove_dataset(lake_path: str | LakePath, dataset: str) -> dict[str, Any]:
    """Remove every row of ``dataset`` from every table as one new snapshot (history kept).

    Returns ``{"dataset", "rows": {table: rows removed}, "signal_files": files removed,
    "snapshot": the new snapshot}``. LakeError naming the datasets the lake holds when it
    holds no row of ``dataset``.
    """
    lake_path = lake_root(lake_path)
    known = _datasets(Lake.open(lake_path))
    if dataset not in known:
        raise LakeError(
            f"{lake_path}: no dataset {dataset!r} in this lake (it holds {sorted(known) or 'none'})"
        )
    rows: dict[str, int] = {}
    with LakeWriter(lake_path) as writer:
        files = 0
        for table in TABLES:
            if table in PARTITION_BY:
                files, rows[table] = writer.remove_partition(table, "dataset", dataset)
            else:
                rows[table] = writer.replace_rows(
                    table, lambda t: pc.invert(pc.equal(t["dataset"], dataset))
                )
        snapshot = writer.publish()
    return {"dataset": dataset, "rows": rows, "signal_files": files, "snapshot": snapshot}


def vacuum_lake(
    lake_path: str | LakePath,
    retention_hours: int | None = None,
    *,
    dry_run: bool = False,
    force: bool = False,
) -> dict[str, Any]:
    """Compact the metadata tables and delete table files older than ``retention_hours``
    [h] that no version inside the retention references (module docstring).

    ``dry_run`` compacts nothing and deletes nothing: the result lists what would be
    deleted. ConfigError when ``retention_hours`` is below
    :data:`DEFAULT_RETENTION_HOURS` without ``force``, or negative. Returns
    ``{"retention_hours", "dry_run", "compacted": [tables], "deleted": {table: [paths
    relative to the table]}, "snapshot"}``.
    """
    hours = DEFAULT_RETENTION_HOURS if retention_hours is None else retention_hours
    if hours < 0:
        raise ConfigError(f"vacuum retention {hours:g} h: must be >= 0")
    if hours < DEFAULT_RETENTION_HOURS and not force:
        raise ConfigError(
            f"vacuum retention {hours:g} h is shorter than {DEFAULT_RETENTION_HOURS} h: "
            "snapshots of that period become unreadable; pass --force to do it anyway"
        )
    lake_path = lake_root(lake_path)
    compacted: list[str] = []
    deleted: dict[str, list[str]] = {}
    with LakeWriter(lake_path) as writer:
        if not dry_run:
            for table in TABLES:
                if table in PARTITION_BY:
                    continue
                dt = delta_table(lake_path, table, writer.published[table])
                if len(dt.file_uris()) > 1:
                    writer.replace_rows(table)
                    compacted.append(table)
            writer.publish()
        for table in TABLES:
            files = delta_table(lake_path, table).vacuum(
                retention_hours=hours,
                dry_run=dry_run,
                enforce_retention_duration=hours >= DEFAULT_RETENTION_HOURS,
                full=True,
            )
            if files:
                deleted[table] = sorted(files)
        snapshot = writer.published
    return {
        "retention_hours": hours,
        "dry_run": dry_run,
        "compacted": compacted,
        "deleted": deleted,
        "snapshot": snapshot,
    }
