"""Writing to the lake: one writer at a time, atomic visibility across tables.

Delta Lake commits one table at a time. The lake's *visible* state is the snapshot file
``<lake>/_emgcorpus/snapshot.json`` (table -> version), replaced atomically (temp file +
``os.replace``) only after every table of a batch is committed. Readers read each table
AT its snapshot version, so table versions committed by a run that crashed before
publishing are invisible; the next writer restores those tables to the snapshot version
(``DeltaTable.restore``) before it writes, so the orphans never become visible.

``signals`` (the bulk) is written by :class:`SignalFileWriter`: pyarrow's streaming
Parquet writer straight to files under the table (one row group at a time, so memory
holds a row group, not a file), then one Delta commit adds the files with their
statistics (the same ones delta-rs would record). Files of an uncommitted write are
never referenced by the log, so readers never see them.

A writer holds an exclusive ``flock`` on ``<lake>/_emgcorpus/write.lock``; a second
writer (another process, or another writer in the same process) gets a LakeError. The
kernel drops the lock when the holder dies, so a crashed run never blocks the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import ColumnProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.transaction import AddAction, RemoveAction

from emgcorpus.errors import LakeError
from emgcorpus.schema import PARTITION_BY, TABLES

META_DIR = "_emgcorpus"
SNAPSHOT_FILE = "snapshot.json"
LOCK_FILE = "write.lock"
SNAPSHOT_FORMAT = 1

#: Parquet settings of every table: zstd level 1 (fast, about as small as snappy+).
COMPRESSION: Literal["ZSTD"] = "ZSTD"
COMPRESSION_LEVEL = 1
#: Rows (chunks of <= 4 MiB) per Parquet row group of ``signals``: small groups make
#: reading one recording touch little more than its own bytes.
SIGNAL_ROW_GROUP_ROWS = 8

#: Parquet file size the Delta writer aims at [bytes]; it buffers about this much.
TARGET_FILE_BYTES = 64 * 1024 * 1024

#: Columns of ``signals`` with Delta min/max statistics (those used to find rows).
SIGNAL_STAT_COLUMNS = ("recording_id", "seq", "stream", "chunk_index", "start_sample", "n_samples")

#: Delta statistics only on the columns used to find rows (not on the payload).
_TABLE_CONFIG: dict[str, dict[str, str | None]] = {
    "signals": {"delta.dataSkippingNumIndexedCols": "6"},
}


def snapshot_path(lake: Path) -> Path:
    return Path(lake) / META_DIR / SNAPSHOT_FILE


def read_snapshot(lake: Path) -> dict[str, int]:
    """Table -> version published in ``<lake>/_emgcorpus/snapshot.json``; LakeError if absent."""
    path = snapshot_path(lake)
    if not path.is_file():
        raise LakeError(f"{lake}: not an emgcorpus lake (no {META_DIR}/{SNAPSHOT_FILE})")
    try:
        doc = json.loads(path.read_text())
        versions = {str(k): int(v) for k, v in doc["versions"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise LakeError(f"{path}: unreadable snapshot ({exc})") from None
    missing = sorted(set(TABLES) - set(versions))
    if missing:
        raise LakeError(f"{path}: snapshot lacks tables {missing}")
    return versions


def write_snapshot(lake: Path, versions: dict[str, int]) -> None:
    """Publish ``versions`` atomically (write a temp file, fsync, ``os.replace``)."""
    path = snapshot_path(lake)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{SNAPSHOT_FILE}.{os.getpid()}.tmp")
    doc = {"format": SNAPSHOT_FORMAT, "versions": dict(sorted(versions.items()))}
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def writer_properties(table: str) -> WriterProperties:
    """Parquet writer settings of ``table``."""
    if table == "signals":
        return WriterProperties(
            compression=COMPRESSION,
            compression_level=COMPRESSION_LEVEL,
            max_row_group_size=SIGNAL_ROW_GROUP_ROWS,
            column_properties={
                "data": ColumnProperties(statistics_enabled="NONE", dictionary_enabled=False)
            },
        )
    return WriterProperties(compression=COMPRESSION, compression_level=COMPRESSION_LEVEL)


def create_tables(lake: Path) -> dict[str, int]:
    """Create every missing table (empty, version 0); return table -> latest version."""
    versions: dict[str, int] = {}
    for name, schema in TABLES.items():
        uri = Path(lake) / name
        if DeltaTable.is_deltatable(str(uri)):
            versions[name] = DeltaTable(uri).version()
            continue
        uri.mkdir(parents=True, exist_ok=True)
        dt = DeltaTable.create(
            uri,
            schema,
            mode="ignore",
            partition_by=PARTITION_BY.get(name),
            name=name,
            configuration=_TABLE_CONFIG.get(name),
        )
        versions[name] = dt.version()
    return versions


class LakeWriter:
    """Exclusive, crash-safe writer. Use as a context manager.

    ``append`` commits rows to one table (invisible to readers), ``publish`` makes every
    table written so far visible at once. Leaving the context without ``publish`` (an
    exception, or on purpose) restores the written tables to the published snapshot.
    """

    def __init__(self, lake: str | Path) -> None:
        self.lake = Path(lake)
        self._lock_fd: int | None = None
        self.published: dict[str, int] = {}
        self._dirty: set[str] = set()

    # --- lock ---------------------------------------------------------------------
    def _acquire(self) -> None:
        lock = self.lake / META_DIR / LOCK_FILE
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LakeError(
                f"{self.lake}: another writer holds {lock} (pid {holder}); "
                "wait for it to finish (one ingest/harmonize at a time per lake)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def _release(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # --- context ------------------------------------------------------------------
    def __enter__(self) -> LakeWriter:
        self._acquire()
        try:
            self.published = read_snapshot(self.lake)
            self.recover()
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._dirty:
                self.rollback()
        finally:
            self._release()

    def recover(self) -> list[str]:
        """Restore every table whose latest version is past the snapshot; return their names."""
        restored = []
        for name, version in self.published.items():
            dt = DeltaTable(self.lake / name)
            if dt.version() > version:
                dt.restore(version)
                restored.append(name)
        return restored

    def rollback(self) -> None:
        """Undo unpublished commits: restore written tables to the published versions."""
        self.recover()
        self._dirty.clear()

    def append(self, table: str, data: pa.Table | pa.RecordBatchReader) -> None:
        """Commit ``data`` (a table, or a stream read batch by batch) to ``table``, unpublished.

        An empty ``pa.Table`` commits nothing.
        """
        if self._lock_fd is None:
            raise LakeError("LakeWriter.append outside its `with` block")
        if isinstance(data, pa.Table):
            if data.num_rows == 0:
                return
            data = data.select(TABLES[table].names).cast(TABLES[table])
        write_deltalake(
            self.lake / table,
            data,
            mode="append",
            partition_by=PARTITION_BY.get(table),
            writer_properties=writer_properties(table),
            target_file_size=TARGET_FILE_BYTES,
        )
        self._dirty.add(table)

    def upsert(self, table: str, data: pa.Table, keys: tuple[str, ...]) -> None:
        """Commit ``data`` to ``table``, unpublished: rows whose ``keys`` match an existing
        row replace it, the others are inserted (one Delta MERGE commit)."""
        if self._lock_fd is None:
            raise LakeError("LakeWriter.upsert outside its `with` block")
        if data.num_rows == 0:
            return
        data = data.select(TABLES[table].names).cast(TABLES[table])
        predicate = " AND ".join(f"t.{k} = s.{k}" for k in keys)
        (
            DeltaTable(self.lake / table)
            .merge(
                data,
                predicate,
                source_alias="s",
                target_alias="t",
                writer_properties=writer_properties(table),
            )
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute()
        )
        self._dirty.add(table)

    def append_signals(self, batches: Iterable[pa.RecordBatch]) -> bool:
        """Stream ``signals`` rows into new Parquet files and commit them, unpublished.

        Returns False (nothing committed) if ``batches`` is empty.
        """
        if self._lock_fd is None:
            raise LakeError("LakeWriter.append_signals outside its `with` block")
        with SignalFileWriter(self.lake / "signals") as files:
            for batch in batches:
                files.write(batch)
        if not files.actions:
            return False
        DeltaTable(self.lake / "signals").create_write_transaction(
            list[AddAction | RemoveAction](files.actions),
            mode="append",
            schema=TABLES["signals"],
            partition_by=PARTITION_BY["signals"],
        )
        self._dirty.add("signals")
        return True

    def publish(self) -> dict[str, int]:
        """Make every committed table visible at once; return the new snapshot."""
        versions = dict(self.published)
        for name in self._dirty:
            versions[name] = DeltaTable(self.lake / name).version()
        write_snapshot(self.lake, versions)
        self.published = versions
        self._dirty.clear()
        return versions


#: A writer passes rows on to Parquet once it holds this many rows or bytes.
_FLUSH_ROWS = 16 * SIGNAL_ROW_GROUP_ROWS
_FLUSH_BYTES = 16 * 1024 * 1024


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
    (referenced, not copied) until ``_FLUSH_ROWS`` rows or ``_FLUSH_BYTES`` have come, so
    a batch of fewer than ``SIGNAL_ROW_GROUP_ROWS`` rows must not be a view of a larger
    buffer (its whole buffer would stay alive); rows held back after a flush are copied.
    Parquet encoding and compression run on a
    background thread, one write at a time, while the caller reads the next recording.
    ``actions`` lists the finished files as Delta AddActions (nothing is committed here).
    """

    def __init__(self, table_dir: Path, target_bytes: int = TARGET_FILE_BYTES) -> None:
        self.table_dir = Path(table_dir)
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
            self._pending_rows < _FLUSH_ROWS and self._pending_bytes < _FLUSH_BYTES
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
            self._sink = pa.OSFile(str(self.table_dir / self._rel), "wb")
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
