"""Writing to the lake: one writer at a time, atomic visibility across tables.

Delta Lake commits one table at a time, and readers outside emgcorpus (polars
``scan_delta``, DuckDB's ``delta_scan``, ``deltalake.DeltaTable``) read the *latest*
version of each table. emgcorpus itself reads the tables at the versions named by the
snapshot file ``<lake>/_emgcorpus/snapshot.json`` (table -> version). The protocol keeps
the two equal:

1. **Stage.** Everything a batch writes goes to new Parquet files under the table folders
   first, none of them referenced by any Delta log: ``signals`` rows as they are read
   (:class:`emgcorpus.signal_writer.SignalFileWriter`), the metadata rows
   (:meth:`LakeWriter.append`, :meth:`LakeWriter.upsert`) one file per call. Each file's
   name goes to ``_emgcorpus/staged.txt`` before the file is created. No table gets a
   version while a batch is written, so a crash here changes nothing any reader sees.
2. **Commit group** (:meth:`LakeWriter.publish`). The journal ``_emgcorpus/commit.json``
   (base snapshot -> target snapshot) is written, then each staged table gets one Delta
   commit (log entries only: the files exist), in the order ``signals``, ``channels``,
   ``events``, ``subjects``, ``recordings``, ``harmonized`` (the row that makes a
   recording or a stream reachable comes last), then ``snapshot.json`` is replaced
   atomically with the target and the journal and staging list are removed.
3. **Recovery** runs under the writer lock at the start of every writer and of every
   :meth:`emgcorpus.lake.Lake.open` (so every command, read-only ones too, and the
   Python API) when a journal, a staging list, or a table version past the snapshot
   exists: a journal whose every commit landed is rolled forward (the snapshot becomes
   its target: the batch was complete); otherwise every table past the snapshot is
   restored to it (``DeltaTable.restore``, a new version with the snapshot's files) and
   the snapshot is re-published at those new versions; staged files no table version
   references are deleted.

What remains: a SIGKILL *inside* the commit group (a few Delta log writes, milliseconds)
leaves some tables one version past the snapshot until the next emgcorpus command opens
the lake; an outside reader in that window sees the committed part of one batch (rows
whose recording is not yet in ``recordings``). A reader on the lake while a writer
publishes can see the same partial group (Delta has no multi-table transactions); a
writer never holds a commit group open longer than those log writes. A recovered lake's
snapshot names the restore versions (same files, new numbers). Crash safety is against
process death (SIGKILL, OOM): files are not fsynced, so a power loss may lose more.
A lake that cannot be locked (read-only folder) is read at its snapshot unrecovered.

A writer holds an exclusive ``flock`` on ``<lake>/_emgcorpus/write.lock``; a second
writer (another process, or another writer in the same process) gets a LakeError naming
the holder's pid (it waits only while a reader holds the lock to recover, which takes
moments). The kernel drops the lock when the holder dies, so a crashed run never blocks
the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake import Schema as DeltaSchema
from deltalake.transaction import AddAction, RemoveAction

from emgcorpus.errors import LakeError
from emgcorpus.lake_location import (
    LakePath,
    StorePath,
    delta_options,
    filesystem_and_path,
    lake_root,
    parquet_source,
    table_uri,
)
from emgcorpus.schema import (
    COMPRESSION,
    COMPRESSION_LEVEL,
    PARTITION_BY,
    TABLES,
)
from emgcorpus.signal_writer import SignalFileWriter

META_DIR = "_emgcorpus"
SNAPSHOT_FILE = "snapshot.json"
LOCK_FILE = "write.lock"
JOURNAL_FILE = "commit.json"
STAGING_FILE = "staged.txt"
SNAPSHOT_FORMAT = 1

#: Order of the commits of one group: the rows that make others reachable come last.
COMMIT_ORDER = ("signals", "channels", "events", "subjects", "recordings", "harmonized")

#: Seconds :func:`create_lake` waits for another process creating the same lake, and a
#: writer waits for a reader that holds the lock to recover a crashed writer's leftovers.
CREATE_WAIT_S = 30.0
_RECOVERING = "recovering"

#: Delta statistics only on the columns used to find rows (not on the payload).
_TABLE_CONFIG: dict[str, dict[str, str | None]] = {
    "signals": {"delta.dataSkippingNumIndexedCols": "6"},
}
#: Longest string kept as a min/max statistic (longer ones: no statistic, never a wrong one).
_STAT_STRING_CHARS = 32


def snapshot_path(lake: str | LakePath) -> LakePath:
    return lake_root(lake) / META_DIR / SNAPSHOT_FILE


def delta_table(lake: LakePath, table: str, version: int | None = None) -> DeltaTable:
    """The Delta table ``table`` of the lake (at ``version``, default the latest)."""
    return DeltaTable(table_uri(lake, table), version=version, storage_options=delta_options(lake))


def read_snapshot(lake: str | LakePath) -> dict[str, int]:
    """Table -> version published in ``<lake>/_emgcorpus/snapshot.json``; LakeError if absent."""
    path = snapshot_path(lake)
    try:
        text = path.read_text()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise LakeError(f"{lake}: not an emgcorpus lake (no {META_DIR}/{SNAPSHOT_FILE})") from None
    try:
        doc = json.loads(text)
        versions = {str(k): int(v) for k, v in doc["versions"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise LakeError(f"{path}: unreadable snapshot ({exc})") from None
    missing = sorted(set(TABLES) - set(versions))
    if missing:
        raise LakeError(f"{path}: snapshot lacks tables {missing}")
    return versions


def _write_json(path: LakePath, doc: dict[str, Any]) -> None:
    """Replace ``path`` by ``doc`` atomically (temp file, ``os.replace``; on an object
    store one PUT, which is atomic). Not fsynced: the lake guards against process death,
    not power loss (module docstring), and an fsync waits for the disk (milliseconds
    each on a busy one, several per ingest)."""
    if isinstance(path, StorePath):
        path.write_text(json.dumps(doc, indent=1))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, path)


def write_snapshot(lake: LakePath, versions: dict[str, int]) -> None:
    """Publish ``versions`` atomically (write a temp file, ``os.replace``)."""
    doc = {"format": SNAPSHOT_FORMAT, "versions": dict(sorted(versions.items()))}
    _write_json(snapshot_path(lake), doc)


def create_tables(lake: LakePath, tables: dict[str, DeltaTable] | None = None) -> dict[str, int]:
    """Create every missing table (empty, version 0); return table -> latest version.
    ``tables``, when given, gets the DeltaTable of each (at that version)."""
    versions: dict[str, int] = {}
    tables = {} if tables is None else tables
    options = delta_options(lake)
    for name, schema in TABLES.items():
        uri = table_uri(lake, name)
        if DeltaTable.is_deltatable(uri, storage_options=options):
            tables[name] = delta_table(lake, name)
            versions[name] = tables[name].version()
            continue
        (lake / name).mkdir(parents=True, exist_ok=True)
        dt = DeltaTable.create(
            uri,
            schema,
            mode="ignore",
            storage_options=options,
            partition_by=PARTITION_BY.get(name),
            name=name,
            configuration=_TABLE_CONFIG.get(name),
        )
        tables[name] = dt
        versions[name] = dt.version()
    return versions


def add_missing_columns(
    lake: LakePath, published: dict[str, int], tables: dict[str, DeltaTable] | None = None
) -> dict[str, int]:
    """Give every table the columns of its current schema that a lake written by an older
    emgcorpus lacks (nullable; the old rows read null), under the writer's lock, and
    publish the new versions; return the snapshot. A crash in between leaves a version
    past the snapshot, which recovery restores (the next writer adds the columns again).

    ``tables`` (table -> DeltaTable at its ``published`` version) is used where given and
    filled in where not; a table that gets columns is dropped from it."""
    tables = {} if tables is None else tables
    added: dict[str, int] = {}
    for name, schema in TABLES.items():
        dt = tables.get(name)
        if dt is None:
            dt = tables[name] = delta_table(lake, name, published[name])
        have = {f.name for f in dt.schema().fields}
        missing = [f for f in schema if f.name not in have]
        if missing:
            dt.alter.add_columns(DeltaSchema.from_arrow(pa.schema(missing)).fields)
            del tables[name]
            added[name] = delta_table(lake, name).version()
    if not added:
        return published
    versions = {**published, **added}
    write_snapshot(lake, versions)
    return versions


# --- lock ------------------------------------------------------------------------------
@dataclass
class _ObjectLock:
    """The write lock of an object-store lake: the lock object and what this holder wrote."""

    path: StorePath
    content: str


#: A held lock: an fd holding ``flock`` (local lake) or the lock object (object store).
LockHandle = int | _ObjectLock

#: Seconds a writer waits after writing the lock object before reading it back.
OBJECT_LOCK_SETTLE_S = 0.2


def _lock_path(lake: LakePath) -> LakePath:
    return lake_root(lake) / META_DIR / LOCK_FILE


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _try_object_lock(lock: StorePath, note: str) -> _ObjectLock | None:
    """The advisory lock of an object-store lake (see :class:`LakeWriter`): None when a
    live holder's lock object is there, or another writer's object replaced ours."""
    try:
        held = lock.read_text().split()
    except FileNotFoundError:
        held = []
    if held:
        host, pid = held[0], int(held[1]) if held[1:2] and held[1].isdigit() else -1
        if host != socket.gethostname() or (pid != os.getpid() and _pid_alive(pid)):
            return None  # held elsewhere, or by a live process here
        if pid == os.getpid():
            return None  # this process holds it (another writer of this process)
    content = f"{socket.gethostname()} {os.getpid()} {uuid.uuid4().hex} {note}".strip()
    lock.write_text(content)
    time.sleep(OBJECT_LOCK_SETTLE_S)
    try:
        if lock.read_text() != content:
            return None
    except FileNotFoundError:
        return None
    return _ObjectLock(lock, content)


def _try_lock(lake: LakePath, note: str = "") -> LockHandle | None:
    """A handle holding the lake's write lock, or None when another writer holds it. The
    holder's pid (and ``note``) is written into the lock file.

    OSError when the lock file cannot be opened (e.g. a read-only lake)."""
    lock = _lock_path(lake)
    if isinstance(lock, StorePath):
        return _try_object_lock(lock, note)
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}{' ' + note if note else ''}".encode(), 0)
    return fd


def _unlock(handle: LockHandle) -> None:
    if isinstance(handle, _ObjectLock):
        with contextlib.suppress(FileNotFoundError):
            if handle.path.read_text() == handle.content:
                handle.path.unlink(missing_ok=True)
        return
    fcntl.flock(handle, fcntl.LOCK_UN)
    os.close(handle)


def _holder(lake: LakePath) -> str:
    """The pid written in the lock file by its holder ("unknown" if unreadable); on an
    object store "host pid token [note]"."""
    try:
        return _lock_path(lake).read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def create_lake(lake: str | LakePath) -> dict[str, int]:
    """Create the tables and the first snapshot of a new lake under the write lock (waits
    up to ``CREATE_WAIT_S`` for another process doing the same); return the snapshot."""
    lake = lake_root(lake)
    lake.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + CREATE_WAIT_S
    while (fd := _try_lock(lake)) is None:
        if time.monotonic() > deadline:
            raise LakeError(
                f"{lake}: another writer (pid {_holder(lake)}) holds {_lock_path(lake)} "
                f"while the lake is being created; waited {CREATE_WAIT_S:g} s"
            )
        time.sleep(0.05)
    try:
        if snapshot_path(lake).is_file():
            return read_snapshot(lake)
        versions = create_tables(lake)
        write_snapshot(lake, versions)
        return versions
    finally:
        _unlock(fd)


# --- recovery --------------------------------------------------------------------------
def _meta(lake: LakePath, name: str) -> LakePath:
    return lake_root(lake) / META_DIR / name


def _next_log_entry(lake: LakePath, table: str, version: int) -> LakePath:
    return lake_root(lake) / table / "_delta_log" / f"{version + 1:020d}.json"


def needs_recovery(lake: LakePath, versions: dict[str, int]) -> bool:
    """True when a journal or staging list exists or a table has a version past ``versions``
    (a few ``stat`` calls: cheap enough for every open)."""
    if _meta(lake, JOURNAL_FILE).exists() or _meta(lake, STAGING_FILE).exists():
        return True
    return any(_next_log_entry(lake, t, v).exists() for t, v in versions.items())


def _read_journal(lake: LakePath) -> dict[str, dict[str, int]] | None:
    path = _meta(lake, JOURNAL_FILE)
    try:
        doc = json.loads(path.read_text())
        return {
            "base": {str(k): int(v) for k, v in doc["base"].items()},
            "target": {str(k): int(v) for k, v in doc["target"].items()},
        }
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # a torn journal (never: it is replaced atomically) rolls back


def _staged_files(lake: LakePath) -> list[tuple[str, str]]:
    """(table, path relative to the table) of every file a writer staged."""
    try:
        lines = _meta(lake, STAGING_FILE).read_text().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        table, _, rel = line.strip().partition("/")
        if table in TABLES and rel and ".." not in Path(rel).parts:
            out.append((table, rel))
    return out


def _recover_locked(lake: LakePath) -> list[str]:
    """Recovery under the write lock (see the module docstring); what was done, one
    line per action."""
    lake = lake_root(lake)
    published = read_snapshot(lake)
    done: list[str] = []
    journal = _read_journal(lake)
    latest = {t: delta_table(lake, t).version() for t in published}
    complete = journal is not None and all(latest.get(t) == v for t, v in journal["target"].items())
    if journal is not None and complete and journal["base"] == published:
        write_snapshot(lake, journal["target"])
        published = dict(journal["target"])
        done.append("rolled forward a commit group whose every commit had landed")
    restored: dict[str, int] = {}
    for name, version in published.items():
        if latest[name] > version:
            dt = delta_table(lake, name)
            dt.restore(version)
            restored[name] = delta_table(lake, name).version()
            done.append(f"restored {name} from version {latest[name]} to the snapshot's {version}")
    if restored:
        published.update(restored)
        write_snapshot(lake, published)
    staged = _staged_files(lake)
    if staged:
        referenced: dict[str, set[str]] = {}
        removed = 0
        for table, rel in staged:
            if table not in referenced:
                uris = delta_table(lake, table).file_uris()
                referenced[table] = {u.rsplit("/", 1)[-1] for u in uris}
            if Path(rel).name not in referenced[table]:
                path = lake / table / rel
                if path.exists():
                    path.unlink()
                    removed += 1
        if removed:
            done.append(f"deleted {removed} staged files no table version references")
    for name in (JOURNAL_FILE, STAGING_FILE):
        _meta(lake, name).unlink(missing_ok=True)
    return done


def recover_lake(lake: str | LakePath) -> list[str]:
    """Bring the latest Delta version of every table back to the published snapshot after a
    crashed writer (see the module docstring); what was done, one line each.

    Does nothing (and costs a few ``stat`` calls) when there is nothing to recover, when a
    live writer holds the lock, or when the lock cannot be taken (a read-only lake).
    """
    lake = lake_root(lake)
    try:
        versions = read_snapshot(lake)
    except LakeError:
        return []
    if not needs_recovery(lake, versions):
        return []
    try:
        fd = _try_lock(lake, _RECOVERING)
    except OSError:
        return []
    if fd is None:
        return []
    try:
        return _recover_locked(lake)
    finally:
        _unlock(fd)


# --- staged files ----------------------------------------------------------------------
@dataclass
class _Staged:
    """Files staged for one table: ``replace`` = the files are the whole new table;
    ``removes`` = files of the published version the commit drops (whole partitions)."""

    adds: list[AddAction] = field(default_factory=list)
    replace: bool = False
    removes: list[RemoveAction] = field(default_factory=list)


def _file_stats(table: pa.Table) -> str:
    """Delta statistics of one file: row count, null counts, min/max of integer and short
    string columns (others get none: a missing statistic never prunes a file wrongly)."""
    low: dict[str, Any] = {}
    high: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    for f in table.schema:
        if pa.types.is_nested(f.type):
            continue
        col = table[f.name]
        nulls[f.name] = int(col.null_count)
        if not (pa.types.is_integer(f.type) or pa.types.is_string(f.type)):
            continue
        if col.null_count == len(col):
            continue
        mm = pc.min_max(col).as_py()
        lo, hi = mm["min"], mm["max"]
        if isinstance(lo, str) and max(len(lo), len(hi)) > _STAT_STRING_CHARS:
            continue
        low[f.name], high[f.name] = lo, hi
    doc = {"numRecords": table.num_rows, "minValues": low, "maxValues": high, "nullCount": nulls}
    return json.dumps(doc)


class LakeWriter:
    """Exclusive, crash-safe writer. Use as a context manager.

    On an object store (``s3://``) the lock is the object ``_emgcorpus/write.lock``,
    written, then read back after :data:`OBJECT_LOCK_SETTLE_S`: a writer refuses to start
    while a live one holds it, but two writers started within that moment can both
    proceed (S3 offers no compare-and-swap this code uses), and a writer that died leaves
    the object behind (taken over by the next writer on the same host when the pid is
    gone; elsewhere it is to be deleted by hand). Run one writer per remote lake.

    ``signals()``, ``append`` and ``upsert`` stage rows in new files (nothing any reader
    sees); ``publish`` commits every staged table and publishes the snapshot (the commit
    group of the module docstring). Leaving the context without ``publish`` (an
    exception, or on purpose) deletes the staged files.
    """

    def __init__(self, lake: str | LakePath, *, create: bool = False) -> None:
        self.lake = lake_root(lake)
        #: create the lake when it has no snapshot yet (as :func:`create_lake` does, under
        #: this writer's lock: one lock, and the new tables stay loaded for the writer)
        self._create = create
        self._lock_fd: LockHandle | None = None
        self.published: dict[str, int] = {}
        self._staged: dict[str, _Staged] = {}
        self._committing = False
        #: table -> DeltaTable loaded by this writer (brought up to date before each use)
        self._tables: dict[str, DeltaTable] = {}

    # --- lock ---------------------------------------------------------------------
    def _creating(self) -> bool:
        """True while this writer is to create its lake and the lake has no snapshot."""
        return self._create and not snapshot_path(self.lake).is_file()

    def _acquire(self) -> None:
        fd = _try_lock(self.lake)
        deadline = time.monotonic() + CREATE_WAIT_S
        # a reader recovering, or another process creating the lake: brief, wait for it
        while fd is None and (_holder(self.lake).endswith(_RECOVERING) or self._creating()):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
            fd = _try_lock(self.lake)
        if fd is None and self._creating():
            raise LakeError(
                f"{self.lake}: another writer (pid {_holder(self.lake)}) holds "
                f"{_lock_path(self.lake)} while the lake is being created; waited "
                f"{CREATE_WAIT_S:g} s"
            )
        if fd is None:
            stale = (
                "; a writer that died leaves the object behind: delete it if none runs"
                if isinstance(self.lake, StorePath)
                else ""
            )
            raise LakeError(
                f"{self.lake}: another writer holds {_lock_path(self.lake)} "
                f"(pid {_holder(self.lake)}); wait for it to finish "
                f"(one ingest/harmonize at a time per lake){stale}"
            )
        self._lock_fd = fd

    def _release(self) -> None:
        if self._lock_fd is not None:
            _unlock(self._lock_fd)
            self._lock_fd = None

    def _check_open(self, what: str) -> None:
        if self._lock_fd is None:
            raise LakeError(f"LakeWriter.{what} outside its `with` block")

    # --- context ------------------------------------------------------------------
    def __enter__(self) -> LakeWriter:
        if self._create:
            self.lake.mkdir(parents=True, exist_ok=True)
        self._acquire()
        try:
            if self._creating():  # (a lake whose creation was killed: its missing tables)
                snapshot = create_tables(self.lake, self._tables)
                write_snapshot(self.lake, snapshot)
            else:
                snapshot = read_snapshot(self.lake)  # LakeError if not a lake
                if needs_recovery(self.lake, snapshot):
                    self.recover()
                    snapshot = read_snapshot(self.lake)
            # (nothing to recover: every table's latest version is the snapshot's)
            self.published = add_missing_columns(self.lake, snapshot, self._tables)
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
            if self._committing:  # a commit group failed half-way: recover it now
                self._committing = False
                self._staged.clear()
                self.recover()
            elif self._staged:
                self.rollback()
        finally:
            self._release()

    def recover(self) -> list[str]:
        """Recover a crashed writer's leftovers (module docstring); what was done."""
        self._check_open("recover")
        self._tables.clear()
        return _recover_locked(self.lake)

    def holds_no_files(self, *tables: str) -> bool:
        """True when the published version of every one of ``tables`` references no file
        (so holds no row; a new lake's tables)."""
        self._check_open("holds_no_files")
        for table in tables:
            dt = self._tables.get(table)
            if dt is None or dt.version() != self.published[table]:
                dt = delta_table(self.lake, table, self.published[table])
            if dt.file_uris():
                return False
        return True

    def _latest(self, table: str) -> DeltaTable:
        """``table`` at its latest version: loaded once per writer, then brought up to
        date (reads only the log entries added since)."""
        dt = self._tables.get(table)
        if dt is None:
            dt = self._tables[table] = delta_table(self.lake, table)
        else:
            dt.update_incremental()
        return dt

    def rollback(self) -> None:
        """Forget what was staged and not published: delete its files."""
        for table, staged in self._staged.items():
            for add in staged.adds:
                (self.lake / table / add.path).unlink(missing_ok=True)
        self._staged.clear()
        _meta(self.lake, STAGING_FILE).unlink(missing_ok=True)

    # --- staging ------------------------------------------------------------------
    def _note_staged(self, *entries: str) -> None:
        """Append ``entries`` (``table/path``) to the staging list, before their files
        exist (one write for all; not fsynced, as :func:`_write_json`)."""
        lines = "".join(f"{e}\n" for e in entries)
        path = _meta(self.lake, STAGING_FILE)
        if isinstance(path, StorePath):  # objects cannot be appended to: rewrite it
            try:
                before = path.read_text()
            except FileNotFoundError:
                before = ""
            path.write_text(f"{before}{lines}")
            return
        with open(path, "a") as f:
            f.write(lines)

    @staticmethod
    def _new_file_name() -> str:
        return f"part-00000-{uuid.uuid4()}-c000.zstd.parquet"

    def _write_file(self, table: str, data: pa.Table, rel: str | None = None) -> AddAction:
        """``data`` as a new, uncommitted Parquet file of ``table``; its AddAction.
        ``rel``: a name already on the staging list (else a new one is noted)."""
        if rel is None:
            rel = self._new_file_name()
            self._note_staged(f"{table}/{rel}")
        path = self.lake / table / rel
        fs, where = filesystem_and_path(path)
        pq.write_table(
            data,
            where,
            filesystem=fs,
            compression=COMPRESSION,
            compression_level=COMPRESSION_LEVEL,
        )
        return AddAction(
            path=rel,
            size=path.stat().st_size,
            partition_values={},
            modification_time=int(time.time() * 1000),
            data_change=True,
            stats=_file_stats(data),
        )

    def _rows(self, table: str, data: pa.Table) -> pa.Table:
        if table in PARTITION_BY:
            raise LakeError(f"{table} rows are written through LakeWriter.signals()")
        return data.select(TABLES[table].names).cast(TABLES[table])

    def append(self, table: str, data: pa.Table | pa.RecordBatchReader) -> None:
        """Stage ``data`` as new rows of ``table`` (visible after :meth:`publish`).

        An empty table stages nothing.
        """
        if isinstance(data, pa.RecordBatchReader):
            data = data.read_all()
        self.append_tables({table: data})

    def append_tables(self, tables: dict[str, pa.Table]) -> None:
        """Stage new rows of several tables, as :meth:`append` does each (one file per
        non-empty table; their names go to the staging list in one update)."""
        self._check_open("append")
        rows = {t: self._rows(t, data) for t, data in tables.items() if data.num_rows}
        names = {t: self._new_file_name() for t in rows}
        if names:
            self._note_staged(*(f"{t}/{rel}" for t, rel in names.items()))
        for t, data in rows.items():
            add = self._write_file(t, data, names[t])
            self._staged.setdefault(t, _Staged()).adds.append(add)

    def _current(self, table: str) -> pa.Table:
        """The rows ``table`` will hold once what is staged is published."""
        staged = self._staged.get(table, _Staged())
        parts = [pq.read_table(parquet_source(self.lake / table / a.path)) for a in staged.adds]
        if not staged.replace:
            dt = delta_table(self.lake, table, self.published[table])
            parts.insert(0, dt.to_pyarrow_table())
        schema = TABLES[table]
        return pa.concat_tables([p.select(schema.names).cast(schema) for p in parts])

    def upsert(self, table: str, data: pa.Table, keys: tuple[str, ...]) -> None:
        """Stage ``data`` into ``table``: rows whose ``keys`` match an existing row replace
        it, the others are added (the table's new content is staged as one file that
        replaces its files when published; for small tables such as ``subjects``)."""
        self._check_open("upsert")
        if data.num_rows == 0:
            return
        data = self._rows(table, data)
        current = self._current(table)
        new_keys = set(zip(*(data[k].to_pylist() for k in keys)))
        old_keys = list(zip(*(current[k].to_pylist() for k in keys)))
        kept = current.filter(pa.array([k not in new_keys for k in old_keys], pa.bool_()))
        merged = pa.concat_tables([kept, data])
        old = self._staged.pop(table, _Staged())
        for add in old.adds:
            (self.lake / table / add.path).unlink(missing_ok=True)
        self._staged[table] = _Staged([self._write_file(table, merged)], replace=True)

    def replace_rows(self, table: str, keep: Callable[[pa.Table], pa.Array] | None = None) -> int:
        """Stage ``table``'s rows (as they will be once what is staged is published) as one
        file that replaces its files when published, keeping only the rows where
        ``keep(rows)`` is true (all rows when None: a compaction). Returns the number of
        rows dropped. For the small metadata tables, not ``signals``."""
        self._check_open("replace_rows")
        if table in PARTITION_BY:
            raise LakeError(f"{table} is partitioned: use LakeWriter.remove_partition()")
        current = self._current(table)
        kept = current if keep is None else current.filter(keep(current))
        old = self._staged.pop(table, _Staged())
        for add in old.adds:
            (self.lake / table / add.path).unlink(missing_ok=True)
        adds = [self._write_file(table, kept)] if kept.num_rows else []
        self._staged[table] = _Staged(adds, replace=True)
        return current.num_rows - kept.num_rows

    def remove_partition(self, table: str, column: str, value: str) -> tuple[int, int]:
        """Stage the removal of every file of the published version of the partitioned
        ``table`` whose partition ``column`` is ``value`` (log entries only: no file is
        rewritten or deleted; :func:`emgcorpus.lake_maintenance.vacuum_lake` deletes them
        once past the retention). Returns (files, rows) removed."""
        self._check_open("remove_partition")
        if column not in PARTITION_BY.get(table, []):
            raise LakeError(f"{table} is not partitioned by {column!r}")
        dt = delta_table(self.lake, table, self.published[table])
        actions = pa.table(dt.get_add_actions(flatten=True)).to_pylist()
        now = int(time.time() * 1000)
        removes = [
            RemoveAction(
                path=a["path"],
                data_change=True,
                deletion_timestamp=now,
                size=a["size_bytes"],
                partition_values={column: a[f"partition.{column}"]},
            )
            for a in actions
            if a[f"partition.{column}"] == value
        ]
        rows = sum(int(a["num_records"] or 0) for a in actions if a[f"partition.{column}"] == value)
        if removes:
            self._staged.setdefault(table, _Staged()).removes.extend(removes)
        return len(removes), rows

    @contextmanager
    def signals(self) -> Iterator[SignalFileWriter]:
        """A block that streams ``signals`` rows (``.write(batch)``) into new Parquet files,
        staged for the next :meth:`publish`. An exception in the block deletes the
        block's files and propagates."""
        self._check_open("signals")
        with SignalFileWriter(
            self.lake / "signals", on_new_file=lambda rel: self._note_staged(f"signals/{rel}")
        ) as files:
            yield files
        if files.actions:
            self._staged.setdefault("signals", _Staged()).adds.extend(files.actions)

    # --- commit group ---------------------------------------------------------------
    def publish(self) -> dict[str, int]:
        """Commit every staged table (one Delta commit each) and publish the snapshot;
        return it. Nothing staged: no table gets a version."""
        self._check_open("publish")
        if not self._staged:
            return dict(self.published)
        order = [t for t in COMMIT_ORDER if t in self._staged]
        tables = {t: self._latest(t) for t in order}
        for t, dt in tables.items():
            if dt.version() != self.published[t]:
                raise LakeError(
                    f"{self.lake / t}: latest version {dt.version()} is not the published "
                    f"{self.published[t]} (written by something other than emgcorpus?)"
                )
        target = dict(self.published)
        for t in order:
            target[t] += 1
        _write_json(_meta(self.lake, JOURNAL_FILE), {"base": self.published, "target": target})
        self._committing = True
        for t in order:
            staged = self._staged[t]
            # (overwrite removes the files of the version ``tables[t]`` loaded: the latest)
            tables[t].create_write_transaction(
                list[AddAction | RemoveAction]([*staged.adds, *staged.removes]),
                mode="overwrite" if staged.replace else "append",
                schema=TABLES[t],
                partition_by=PARTITION_BY.get(t),
            )
        # each commit must be the table's next version (log entries: stat calls only)
        landed = [
            _next_log_entry(self.lake, t, self.published[t]).exists()
            and not _next_log_entry(self.lake, t, target[t]).exists()
            for t in order
        ]
        if not all(landed):
            raise LakeError(f"{self.lake}: commits did not land at the versions {target}")
        write_snapshot(self.lake, target)
        self._committing = False
        self._staged.clear()
        with contextlib.suppress(FileNotFoundError):
            _meta(self.lake, JOURNAL_FILE).unlink()
        _meta(self.lake, STAGING_FILE).unlink(missing_ok=True)
        self.published = target
        return dict(target)
