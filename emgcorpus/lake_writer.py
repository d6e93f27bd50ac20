"""Writing to the lake: one writer at a time, atomic visibility across tables.

Delta Lake commits one table at a time. The lake's *visible* state is the snapshot file
``<lake>/_emgcorpus/snapshot.json`` (table -> version), replaced atomically (temp file +
``os.replace``) only after every table of a batch is committed. Readers read each table
AT its snapshot version, so table versions committed by a run that crashed before
publishing are invisible; the next writer restores those tables to the snapshot version
(``DeltaTable.restore``) before it writes, so the orphans never become visible.

``signals`` (the bulk) is written by :class:`emgcorpus.signal_writer.SignalFileWriter`:
pyarrow's streaming Parquet writer straight to files under the table (one row group at a
time, so memory holds a row group, not a file), then one Delta commit adds the files
with their statistics (the same ones delta-rs would record). Files of an uncommitted write are
never referenced by the log, so readers never see them.

A writer holds an exclusive ``flock`` on ``<lake>/_emgcorpus/write.lock``; a second
writer (another process, or another writer in the same process) gets a LakeError. The
kernel drops the lock when the holder dies, so a crashed run never blocks the next one.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import pyarrow as pa
from deltalake import ColumnProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.transaction import AddAction, RemoveAction

from emgcorpus.errors import LakeError
from emgcorpus.schema import (
    COMPRESSION,
    COMPRESSION_LEVEL,
    PARTITION_BY,
    SIGNAL_ROW_GROUP_ROWS,
    TABLES,
    TARGET_FILE_BYTES,
)
from emgcorpus.signal_writer import SignalFileWriter

META_DIR = "_emgcorpus"
SNAPSHOT_FILE = "snapshot.json"
LOCK_FILE = "write.lock"
SNAPSHOT_FORMAT = 1

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

    @contextmanager
    def signals(self) -> Iterator[SignalFileWriter]:
        """A block that streams ``signals`` rows (``.write(batch)``) into new Parquet files.

        On leaving the block the files are committed (unpublished) in one Delta commit;
        nothing is committed when no rows were written. An exception in the block deletes
        the block's files and propagates (nothing committed).
        """
        if self._lock_fd is None:
            raise LakeError("LakeWriter.signals outside its `with` block")
        with SignalFileWriter(self.lake / "signals") as files:
            yield files
        if not files.actions:
            return
        DeltaTable(self.lake / "signals").create_write_transaction(
            list[AddAction | RemoveAction](files.actions),
            mode="append",
            schema=TABLES["signals"],
            partition_by=PARTITION_BY["signals"],
        )
        self._dirty.add("signals")

    def publish(self) -> dict[str, int]:
        """Make every committed table visible at once; return the new snapshot."""
        versions = dict(self.published)
        for name in self._dirty:
            versions[name] = DeltaTable(self.lake / name).version()
        write_snapshot(self.lake, versions)
        self.published = versions
        self._dirty.clear()
        return versions
