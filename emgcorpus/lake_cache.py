"""Process-wide caches behind :class:`emgcorpus.lake.Lake` reads.

A Delta table version never changes once committed, so what is read from it can be kept
and shared by every ``Lake`` of the process (a Dask worker opens the lake in every task):

- metadata tables (``recordings``, ``channels``, ``events``, ``subjects``,
  ``harmonized``) read once per version, sorted by a key and indexed by it, so the rows
  of one recording are a zero-copy slice found in O(1) instead of a filter over the
  whole corpus;
- the ``signals`` file list with each file's min/max ``seq`` (Delta statistics);
- Parquet footers of ``signals`` files, so reading a recording opens its file(s)
  without re-parsing the footer.

Entries are keyed by the table folder, the version and the identity (inode, size,
mtime) of that version's log file, so a lake deleted and re-created at the same path
is never served stale. Each cache is a bounded LRU; memory is that of the metadata rows
(no samples): measured about 0.15 KiB per channel row and 0.2 KiB per recording row.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

from emgcorpus.lake_location import (
    LakePath,
    StorePath,
    StoreStat,
    delta_options,
    lake_root,
    parquet_source,
)
from emgcorpus.schema import TABLES

T = TypeVar("T")

#: Metadata tables kept per process (a few lakes x 5 tables).
MAX_TABLES = 20
#: Parquet footers of ``signals`` files kept per process.
MAX_FOOTERS = 512


class _LRU:
    """A small thread-safe LRU map; values are computed outside the lock."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]  # type: ignore[no-any-return]
        value = make()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_TABLES = _LRU(MAX_TABLES)
_FOOTERS = _LRU(MAX_FOOTERS)


def clear_caches() -> None:
    """Drop every cached table and footer (tests; or to give memory back)."""
    _TABLES.clear()
    _FOOTERS.clear()


def _stat(path: LakePath) -> os.stat_result | StoreStat:
    return path.stat() if isinstance(path, StorePath) else os.stat(path)


def _version_stamp(table_dir: LakePath, version: int) -> tuple[int, int, int] | None:
    """Identity of the log entry of ``version`` (None once the log was checkpointed away;
    always None on an object store, where it would cost a request per read: a remote lake
    deleted and re-created at the same URL within one process is not detected)."""
    if isinstance(table_dir, StorePath):
        return None
    try:
        st = _stat(table_dir / "_delta_log" / f"{version:020d}.json")
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


@dataclass(frozen=True)
class IndexedTable:
    """A metadata table sorted by ``key`` (+ ``order``), with the row span of every key."""

    frame: pl.DataFrame
    spans: dict[Hashable, tuple[int, int]]

    def rows(self, key: Hashable) -> pl.DataFrame:
        """Rows of ``key`` (a zero-copy slice; empty if absent)."""
        start, n = self.spans.get(key, (0, 0))
        return self.frame.slice(start, n)


def _read_frame(table_dir: LakePath, version: int) -> pl.DataFrame:
    """The table at ``version``; columns the current schema added since the table was
    written (e.g. ``events.gesture``) read as nulls of their type."""
    dt = DeltaTable(str(table_dir), version=version, storage_options=delta_options(table_dir))
    arrow = dt.to_pyarrow_table()
    schema = TABLES.get(table_dir.name)
    if schema is not None:
        for f in schema:
            if f.name not in arrow.column_names:
                arrow = arrow.append_column(f, pa.nulls(arrow.num_rows, f.type))
    frame = pl.from_arrow(arrow)
    assert isinstance(frame, pl.DataFrame)
    return frame


def key_spans(frame: pl.DataFrame, key: tuple[str, ...]) -> dict[Hashable, tuple[int, int]]:
    """(first row, row count) of every value of ``key`` in ``frame``, which is sorted by
    ``key``; a key is the column's value, or a tuple of values for several columns."""
    groups = (
        frame.select(list(key))
        .with_row_index("_i")
        .group_by(list(key), maintain_order=True)
        .agg(pl.col("_i").first().alias("_start"), pl.len().alias("_n"))
    )
    cols = [groups[k].to_list() for k in key]
    keys = cols[0] if len(key) == 1 else list(zip(*cols))
    starts, ns = groups["_start"].to_list(), groups["_n"].to_list()
    return {k: (int(s), int(n)) for k, s, n in zip(keys, starts, ns)}


def _admitting(low: np.ndarray, high: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Indices ``i`` whose range ``low[i]..high[i]`` holds at least one of ``values``
    (sorted ascending)."""
    inside = np.searchsorted(values, high, "right") - np.searchsorted(values, low, "left")
    return np.flatnonzero(inside > 0)


def indexed_table(
    table_dir: LakePath, version: int, key: tuple[str, ...], order: tuple[str, ...] = ()
) -> IndexedTable:
    """The table at ``version``, sorted by ``key + order`` and indexed by ``key`` (cached).

    Span keys are the value of the key column, or a tuple of values for several columns.
    """
    table_dir = lake_root(table_dir)

    def make() -> IndexedTable:
        frame = _read_frame(table_dir, version).sort([*key, *order])
        return IndexedTable(frame, key_spans(frame, key))

    stamp = _version_stamp(table_dir, version)
    return _TABLES.get(("indexed", str(table_dir), version, stamp, key, order), make)


@dataclass(frozen=True)
class SignalFiles:
    """Data files of ``signals`` with their min/max ``seq`` (-1/huge where unknown)."""

    paths: list[str]
    min_seq: np.ndarray
    max_seq: np.ndarray

    def holding(self, seq: int) -> list[str]:
        """Paths (relative to the table) whose statistics admit ``seq``, sorted."""
        return self.holding_any(np.array([seq], np.int64))

    def holding_any(self, seqs: np.ndarray) -> list[str]:
        """Paths whose statistics admit at least one of ``seqs`` (sorted ascending), sorted."""
        return sorted(self.paths[i] for i in _admitting(self.min_seq, self.max_seq, seqs))


def signal_files(table: DeltaTable, table_dir: LakePath, version: int) -> SignalFiles:
    """Data files of ``signals`` at ``version`` (from the Delta log's add actions; cached)."""
    table_dir = lake_root(table_dir)

    def make() -> SignalFiles:
        actions = pl.DataFrame(table.get_add_actions(flatten=True))
        if actions.height == 0:
            return SignalFiles([], np.zeros(0, np.int64), np.zeros(0, np.int64))
        lo = actions["min.seq"] if "min.seq" in actions.columns else None
        hi = actions["max.seq"] if "max.seq" in actions.columns else None
        big = np.iinfo(np.int64).max
        n = actions.height
        min_seq = lo.cast(pl.Int64).fill_null(-1).to_numpy() if lo is not None else np.full(n, -1)
        max_seq = hi.cast(pl.Int64).fill_null(big).to_numpy() if hi is not None else np.full(n, big)
        return SignalFiles(
            actions["path"].to_list(), np.asarray(min_seq, np.int64), np.asarray(max_seq, np.int64)
        )

    stamp = _version_stamp(table_dir, version)
    return _TABLES.get(("signal-files", str(table_dir), version, stamp), make)


@dataclass(frozen=True)
class Footer:
    """A Parquet footer with its row groups' min/max ``seq`` and min ``chunk_index``."""

    meta: pq.FileMetaData
    low: np.ndarray
    high: np.ndarray
    first_chunk: np.ndarray

    def row_groups_holding(self, value: int) -> list[int]:
        """Row groups whose ``seq`` statistics admit ``value`` (all where they are missing)."""
        return self.row_groups_holding_any(np.array([value], np.int64))

    def row_groups_holding_any(self, values: np.ndarray) -> list[int]:
        """Row groups whose ``seq`` statistics admit one of ``values`` (sorted ascending)."""
        return _admitting(self.low, self.high, values).tolist()


def _min_max(meta: pq.FileMetaData, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Per row group min/max of integer ``column`` (int64 extremes where unknown)."""
    n = meta.num_row_groups
    low, high = np.full(n, np.iinfo(np.int64).min), np.full(n, np.iinfo(np.int64).max)
    names = list(meta.schema.names)
    if column in names:
        idx = names.index(column)
        for i in range(n):
            stats = meta.row_group(i).column(idx).statistics
            if stats is not None and stats.has_min_max:
                low[i], high[i] = int(stats.min), int(stats.max)
    return low, high


def _footer(path: LakePath) -> Footer:
    meta = pq.read_metadata(parquet_source(path))
    low, high = _min_max(meta, "seq")
    first_chunk, _ = _min_max(meta, "chunk_index")
    return Footer(meta, low, high, first_chunk)


def parquet_footer(path: LakePath) -> Footer:
    """The Parquet footer of a ``signals`` file with its row-group statistics (cached by
    path, inode, size and mtime; on an object store by path: table files are written once
    under unique names)."""
    if isinstance(path, StorePath):
        return _FOOTERS.get((str(path),), lambda: _footer(path))
    st = _stat(path)
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    return _FOOTERS.get(key, lambda: _footer(path))
