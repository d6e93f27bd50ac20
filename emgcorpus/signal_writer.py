"""Writing ``signals`` rows straight to Parquet files of the Delta table, for one commit.

:class:`SignalFileWriter` streams record batches through pyarrow's Parquet writer into
new files under the table folder (partition folder ``dataset=<name>``), one row group of
``SIGNAL_ROW_GROUP_ROWS`` at a time, and lists the finished files as Delta AddActions
with the statistics delta-rs would record (row count, min/max/null count of
``SIGNAL_STAT_COLUMNS``). Committing them is the caller's job
(:meth:`emgcorpus.lake_writer.LakeWriter.signals`); files never committed are
never referenced by the log, so readers never see them.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake.transaction import AddAction

from emgcorpus.errors import LakeError
from emgcorpus.lake_location import LakePath, lake_root, open_output
from emgcorpus.schema import (
    COMPRESSION,
    COMPRESSION_LEVEL,
    SIGNAL_ROW_GROUP_ROWS,
    SIGNAL_STAT_COLUMNS,
    TABLES,
    TARGET_FILE_BYTES,
)

#: A writer passes rows on to Parquet once it holds this many rows or bytes.
FLUSH_ROWS = 16 * SIGNAL_ROW_GROUP_ROWS
FLUSH_BYTES = 16 * 1024 * 1024


class _FileStats:
    """Delta statistics (row count, min/max/null count of SIGNAL_STAT_COLUMNS) of one file."""

    def __init__(self) -> None:
        self.rows = 0
        self.low: dict[str, Any] = {}
        self.high: dict[str, Any] = {}

    def add(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        for name in SIGNAL_STAT_COLUMNS:
            mm = pc.min_max(table[name]).as_py()
            lo, hi = mm["min"], mm["max"]
            self.low[name] = lo if name not in self.low else min(self.low[name], lo)
            self.high[name] = hi if name not in self.high else max(self.high[name], hi)

    def to_json(self) -> str:
        return json.dumps(
            {
                "numRecords": self.rows,
                "minValues": self.low,
                "maxValues": self.high,
                "nullCount": dict.fromkeys(self.low, 0),
            }
        )


class SignalFileWriter:
    """Writes ``signals`` rows to Parquet files of one table folder, partitioned by dataset.

    Rows go out in row groups of ``SIGNAL_ROW_GROUP_ROWS`` (the last of a file may be
    smaller); a file is closed once it reaches ``TARGET_FILE_BYTES``. A batch is held
    (referenced, not copied) until ``FLUSH_ROWS`` rows or ``FLUSH_BYTES`` have come, so
    a batch of fewer than ``SIGNAL_ROW_GROUP_ROWS`` rows must not be a view of a larger
    buffer (its whole buffer would stay alive); rows held back after a flush are copied.
    Parquet encoding and compression run on a
    background thread, one write at a time, while the caller reads the next recording.
    ``actions`` lists the finished files as Delta AddActions (nothing is committed here).
    ``on_new_file(rel)`` is called with each file's path (relative to the table) before
    the file is created (the lake writer's staging list).
    """

    def __init__(
        self,
        table_dir: LakePath,
        target_bytes: int = TARGET_FILE_BYTES,
        on_new_file: Callable[[str], None] | None = None,
    ) -> None:
        self.table_dir = lake_root(table_dir)
        self.on_new_file = on_new_file
        self.target_bytes = int(target_bytes)
        schema = TABLES["signals"]
        self.file_schema = schema.remove(schema.get_field_index("dataset"))
        self.actions: list[AddAction] = []
        self._dataset: str | None = None
        self._sink: pa.NativeFile | None = None
        self._writer: pq.ParquetWriter | None = None
        self._rel = ""
        self._stats = _FileStats()
        self._pending: list[pa.RecordBatch] = []  # rows of an incomplete row group
        self._pending_rows = 0
        self._pending_bytes = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="signals-writer")
        self._inflight: Future[None] | None = None

    def __enter__(self) -> SignalFileWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        try:
            if exc_type is None:
                self.close()
            else:
                self._abandon()
        finally:
            self._pool.shutdown(wait=True)

    def write(self, batch: pa.RecordBatch) -> None:
        """Add rows of one dataset (a ``signals`` record batch)."""
        datasets = batch.column("dataset").unique().to_pylist()
        if len(datasets) != 1:
            raise LakeError(f"signals batch mixes datasets {datasets}: one per batch")
        if datasets[0] != self._dataset:
            self._finish_file()
            self._dataset = str(datasets[0])
        rows = SIGNAL_ROW_GROUP_ROWS
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self._pending_bytes += batch.get_total_buffer_size()
        # many small rows go out together (one write call costs ~ms); big ones at once
        if self._pending_rows < rows or (
            self._pending_rows < FLUSH_ROWS and self._pending_bytes < FLUSH_BYTES
        ):
            return
        table = pa.Table.from_batches(self._pending)
        full = table.num_rows - table.num_rows % rows
        self._write_rows(table.slice(0, full))
        # held back as a copy: a slice would keep the caller's whole sample buffer alive
        rest = table.slice(full).take(pa.array(range(table.num_rows - full), pa.int64()))
        self._pending = rest.to_batches()
        self._pending_rows = rest.num_rows
        self._pending_bytes = rest.get_total_buffer_size()
        if self._sink is not None and self._sink.tell() >= self.target_bytes:
            self._finish_file()  # (the size lags by the write in flight)

    def close(self) -> None:
        """Write held-back rows and close the open file."""
        self._finish_file()

    # --- internals ----------------------------------------------------------------
    def _write_rows(self, table: pa.Table) -> None:
        if self._writer is None:
            assert self._dataset is not None
            part = f"dataset={quote(self._dataset, safe='')}"
            (self.table_dir / part).mkdir(parents=True, exist_ok=True)
            self._rel = f"{part}/part-00000-{uuid.uuid4()}-c000.zstd.parquet"
            if self.on_new_file is not None:
                self.on_new_file(self._rel)  # before the file exists (crash recovery)
            self._sink = open_output(self.table_dir / self._rel)
            self._writer = pq.ParquetWriter(
                self._sink,
                self.file_schema,
                compression=COMPRESSION,
                compression_level=COMPRESSION_LEVEL,
                use_dictionary=[c for c in self.file_schema.names if c != "data"],
                write_statistics=[c for c in self.file_schema.names if c != "data"],
            )
            self._stats = _FileStats()
        table = table.drop_columns(["dataset"]).cast(self.file_schema)
        self._wait()
        self._inflight = self._pool.submit(self._encode, self._writer, self._stats, table)

    @staticmethod
    def _encode(writer: pq.ParquetWriter, stats: _FileStats, table: pa.Table) -> None:
        writer.write_table(table, row_group_size=SIGNAL_ROW_GROUP_ROWS)
        stats.add(table)

    def _wait(self) -> None:
        """Wait for the write in flight (re-raising its error)."""
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            inflight.result()

    def _finish_file(self) -> None:
        if self._pending_rows:
            pending = pa.Table.from_batches(self._pending)
            self._pending, self._pending_rows, self._pending_bytes = [], 0, 0
            self._write_rows(pending)
        self._wait()
        if self._writer is None or self._sink is None:
            return
        self._writer.close()
        self._sink.close()
        path = self.table_dir / self._rel
        self.actions.append(
            AddAction(
                path=self._rel,
                size=path.stat().st_size,
                partition_values={"dataset": self._dataset},
                modification_time=int(time.time() * 1000),
                data_change=True,
                stats=self._stats.to_json(),
            )
        )
        self._writer = self._sink = None

    def _abandon(self) -> None:
        """Close and delete files that will not be committed."""
        with contextlib.suppress(Exception):
            self._wait()
        if self._writer is not None:
            self._writer.close()
        if self._sink is not None:
            self._sink.close()
        for rel in [a.path for a in self.actions] + ([self._rel] if self._writer else []):
            (self.table_dir / rel).unlink(missing_ok=True)
        self._writer = self._sink = None
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0
        self.actions = []
