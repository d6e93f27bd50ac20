"""Ingest: stream an adapter's recordings into the lake, in bounded, atomic batches.

One loop reads one unit at a time (checksums, adapter read, :func:`validate_recording`);
its samples go straight to new Parquet files of ``signals`` (chunked by
:mod:`emgcorpus.chunk_codec`, written in a :meth:`LakeWriter.signals` block; small
recordings of one chunk and at most 1 MiB each are gathered, 128 or 16 MiB at a time,
into one record batch), so memory holds one recording plus the Parquet writer's buffer, whatever the
dataset size; its metadata rows (:mod:`emgcorpus.rows`) wait in the batch. A source file
several units share is hashed once while it is unchanged. A batch ends after
``batch_bytes`` of samples or ``batch_recordings`` recordings; then its metadata rows are
staged (one file per table) and, with ``on_error="skip"``, the batch is published (one
commit group of :mod:`emgcorpus.lake_writer`), so a crashed run keeps every finished
batch and a re-run resumes.

Subjects: a subject's demographics are merged over its recordings (this ingest's and
those already in the lake): each field keeps the first value stated and is filled from a
later recording where it was unknown (:func:`emgcorpus.rows.merge_subject_rows`).

Idempotent: units whose (dataset, unit key) or recording id the lake already holds are
skipped (reported in ``IngestReport.skipped``) and nothing new is committed.

Errors:

- ``on_error="skip"`` (default): a unit that fails (unreadable, checksum mismatch,
  invalid samples/events) is reported in ``IngestReport.errors`` as (unit key, message)
  and the rest is ingested.
- ``on_error="abort"``: the first failing unit raises its error and nothing of this
  ingest becomes visible (every batch stays staged, in files no table version
  references, until one commit group at the very end; a failure deletes them).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa

from emgcorpus.checksums import file_sha256, samples_sha256
from emgcorpus.chunk_codec import chunk_batches, little_endian, one_chunk, whole_streams_batch
from emgcorpus.errors import ChecksumError, EmgCorpusError, SourceError, check_option
from emgcorpus.lake import Lake
from emgcorpus.lake_location import LakePath, lake_root
from emgcorpus.lake_writer import LakeWriter, read_snapshot
from emgcorpus.progress import progress_bar
from emgcorpus.recording import Adapter, Recording, SourceUnit, validate_recording
from emgcorpus.rows import (
    channel_rows,
    event_rows,
    merge_subject_rows,
    recording_row,
    subject_row,
)
from emgcorpus.schema import RAW_STREAM, TABLES
from emgcorpus.signal_writer import FLUSH_BYTES, FLUSH_ROWS, SignalFileWriter

T = TypeVar("T")

#: Samples per committed batch [bytes] (bounds memory and work lost to a crash).
DEFAULT_BATCH_BYTES = 128 * 1024 * 1024
#: Recordings per committed batch.
DEFAULT_BATCH_RECORDINGS = 500
#: Payloads [bytes] hashed on the background thread (smaller ones: inline, cheaper).
_BACKGROUND_HASH_BYTES = 1 << 20


@dataclass
class IngestReport:
    """What one ingest did. ``errors`` holds (unit key, message) of failed units."""

    dataset: str
    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    #: bytes of raw samples added
    sample_bytes: int = 0
    #: seconds of EMG added [s]
    duration_s: float = 0.0
    #: wall time of the ingest [s]
    elapsed_s: float = 0.0
    snapshot: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["errors"] = [{"unit": k, "error": m} for k, m in self.errors]
        return d


#: A file's (size [bytes], mtime [ns], ctime [ns], inode): a file hashed before is hashed
#: again only when this changed.
_FileSignature = tuple[int, int, int, int]


def _signature(path: Path) -> _FileSignature | None:
    """``path``'s signature (None when it cannot be stat'ed: the adapter reports it)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _run(pool: ThreadPoolExecutor, fn: Callable[[], T], nbytes: int) -> Callable[[], T]:
    """``fn`` on the background thread when it has ``nbytes`` worth hashing there, else
    now; returns what gives its result (or raises its error), as ``Future.result`` does
    (a Future per small recording costs more than hashing it)."""
    if nbytes >= _BACKGROUND_HASH_BYTES:
        return pool.submit(fn).result
    try:
        value = fn()
    except BaseException as exc:  # noqa: BLE001 - raised by the getter, as the pool would
        error = exc  # (``exc`` itself is unbound once the block ends)

        def fail() -> T:
            raise error

        return fail
    return lambda: value


def _relative(path: Path, root: Path, root_resolved: Path | None = None) -> str:
    """``path`` relative to ``root`` (posix): lexically when it is plainly under ``root`` or
    ``root_resolved`` (no ``..`` below it), else after resolving symlinks; the path itself
    when it is not under ``root``."""
    for base in (root, root_resolved):
        if base is None:
            continue
        try:
            rel = path.relative_to(base)
        except ValueError:
            continue
        if ".." not in rel.parts:
            return rel.as_posix()
    try:
        return path.resolve().relative_to(root_resolved or root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


@dataclass
class _UnitRead:
    """One unit read and checked: its recording and the source files it came from."""

    recording: Recording
    #: source files (posix, relative to the adapter's source) and their sha256
    source_files: list[str]
    source_sha256: list[str]


class _SourceReader:
    """Reads units of one adapter, checking their files against the catalog checksums.

    A file several units share (e.g. a subject's ``experiment.csv``) is hashed once
    while its signature (size, mtime, ctime, inode) is unchanged, and its path relative
    to the source is worked out once.
    """

    def __init__(self, adapter: Adapter, checksums: dict[str, str], pool: ThreadPoolExecutor):
        self.adapter = adapter
        self.checksums = checksums
        self.pool = pool
        self.source_resolved = Path(adapter.source).resolve()
        #: path -> (signature when hashed, sha256)
        self._hashed: dict[Path, tuple[_FileSignature, str]] = {}
        #: path -> path relative to the source (posix)
        self._names: dict[Path, str] = {}

    def read(self, unit: SourceUnit) -> _UnitRead:
        """Check the unit's files against the catalog, read and validate it.

        The files are hashed on the background thread while the adapter reads them; a
        checksum mismatch wins over any read error (it explains it).
        """
        files = [Path(f) for f in unit.files]
        signatures = [_signature(f) for f in files]
        unhashed = sum(
            sig[0]
            for f, sig in zip(files, signatures)
            if sig is not None and self._hashed.get(f, (None,))[0] != sig
        )
        hashing = _run(self.pool, partial(self._hashes, files, signatures), unhashed)
        try:
            rec = self.adapter.read(unit)
        except BaseException:
            self._check_checksums(files, hashing())
            raise
        shas = hashing()
        names = self._check_checksums(files, shas)
        validate_recording(rec, unit.files[0] if unit.files else unit.key)
        return _UnitRead(rec, names, shas)

    def _hashes(self, files: list[Path], signatures: list[_FileSignature | None]) -> list[str]:
        """The files' sha256: hashed now, or as hashed before when the signature is the
        same (one caller at a time: :meth:`read` waits for it before the next unit)."""
        out = []
        for f, sig in zip(files, signatures):
            known = self._hashed.get(f)
            if sig is not None and known is not None and known[0] == sig:
                out.append(known[1])
                continue
            sha = file_sha256(f)
            if sig is not None:
                self._hashed[f] = (sig, sha)
            out.append(sha)
        return out

    def _check_checksums(self, files: list[Path], found: list[str]) -> list[str]:
        """The files' paths relative to the source; ChecksumError on the first mismatch."""
        names = []
        for f, sha in zip(files, found):
            rel = self._names.get(f)
            if rel is None:
                rel = self._names[f] = _relative(f, self.adapter.source, self.source_resolved)
            expected = self.checksums.get(rel)
            if expected is not None and expected.lower() != sha:
                raise ChecksumError(f, expected, sha)
            names.append(rel)
        return names


def _unit_error(unit: SourceUnit, exc: Exception) -> tuple[str, EmgCorpusError]:
    """(message to report, error to raise) for a unit that failed with ``exc``: ``exc``
    itself when it is one of the project's errors, else a SourceError naming the unit."""
    if isinstance(exc, EmgCorpusError):
        return str(exc), exc
    message = f"{type(exc).__name__}: {exc}"
    return message, SourceError(unit.key, message)


class _LakeHoldings:
    """What the lake holds, kept up to date as recordings are added: recording ids,
    (dataset, unit key) -> recording id, the next ``seq``, and the merged subjects rows."""

    def __init__(self, lake: Lake | None) -> None:
        """What ``lake`` holds; ``None``: a lake known to hold no recordings and no
        subjects (not read at all)."""
        self.ids: set[str] = set()
        self.units: dict[tuple[str, str], str] = {}
        self.next_seq = 0
        #: (dataset, subject) -> subjects row, as merged so far
        self.subject_rows: dict[tuple[str, str], dict[str, Any]] = {}
        if lake is not None:
            recs = lake.recordings()
            self.ids.update(recs["recording_id"].to_list())
            self.units.update(
                ((d, k), r)
                for d, k, r in recs.select("dataset", "unit_key", "recording_id").iter_rows()
            )
            self.next_seq = int(recs["seq"].max()) + 1 if recs.height else 0  # type: ignore[arg-type]
            self.subject_rows.update(
                ((r["dataset"], r["subject"]), r) for r in lake.subjects().iter_rows(named=True)
            )
        #: (dataset, subject) keys of the rows committed to the lake
        self.committed_subjects: set[tuple[str, str]] = set(self.subject_rows)

    @classmethod
    def of(cls, writer: LakeWriter) -> _LakeHoldings:
        """What the lake of ``writer`` holds at its published snapshot (a new lake's
        tables have no files: nothing to read)."""
        if writer.holds_no_files("recordings", "subjects"):
            return cls(None)
        return cls(Lake.open(writer.lake))


#: Tables that get one row per recording, channel, event (subjects rows are merged).
_ROW_TABLES = ("recordings", "channels", "events")


class _Batch:
    """The metadata rows of the recordings of one batch (their samples went to
    ``signals`` as they were read)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {t: [] for t in _ROW_TABLES}
        self.sample_bytes = 0
        self.recording_ids: list[str] = []
        #: (dataset, subject) whose subjects row is new or enriched by this batch
        self.subjects: set[tuple[str, str]] = set()

    def full(self, batch_bytes: int, batch_recordings: int) -> bool:
        return self.sample_bytes >= batch_bytes or len(self.recording_ids) >= batch_recordings

    def add_subject(self, rec: Recording, holdings: _LakeHoldings) -> None:
        """Merge the subject's demographics stated by ``rec`` into ``holdings``."""
        key = (rec.dataset, rec.subject)
        row = subject_row(rec)
        old = holdings.subject_rows.get(key)
        # (a row equal to the merged one adds nothing: the usual case, cheap to see)
        merged = row if old is None else old if row == old else merge_subject_rows(old, row)
        if merged != old:
            holdings.subject_rows[key] = merged
            self.subjects.add(key)

    def commit(self, writer: LakeWriter, holdings: _LakeHoldings) -> None:
        """Stage the batch's metadata rows (published by ``writer.publish``); the batch's
        subjects rows are an upsert when the lake already holds some of them, else a
        plain append."""
        tables = {t: pa.Table.from_pylist(self.rows[t], TABLES[t]) for t in _ROW_TABLES}
        rows = [holdings.subject_rows[k] for k in sorted(self.subjects)]
        subjects = pa.Table.from_pylist(rows, TABLES["subjects"])
        if self.subjects & holdings.committed_subjects:
            writer.append_tables(tables)
            writer.upsert("subjects", subjects, keys=("dataset", "subject"))
        else:
            writer.append_tables({**tables, "subjects": subjects})
        holdings.committed_subjects |= self.subjects


#: One-chunk raw streams gathered into one ``signals`` record batch: as many streams
#: or bytes as the writer passes on to Parquet at once (so its encoding still overlaps the
#: reading of the next recordings); a batch costs tens of us whatever its size.
_GATHER_STREAMS = FLUSH_ROWS
_GATHER_BYTES = FLUSH_BYTES
#: Largest stream gathered [bytes]: a larger one costs more to copy than its own batch,
#: and goes out as it is (zero-copy).
_GATHER_MAX_STREAM_BYTES = 1 << 20


class _RawStreams:
    """Raw samples on their way to ``signals``, in ingest order: one-chunk streams of at
    most ``_GATHER_MAX_STREAM_BYTES`` (small recordings) are gathered and written as one
    record batch (:func:`emgcorpus.chunk_codec.whole_streams_batch`) once they reach
    ``_GATHER_STREAMS`` or ``_GATHER_BYTES``, before any other stream or another dataset's,
    and at :meth:`flush`; other streams go out at once
    (:func:`emgcorpus.chunk_codec.chunk_batches`). Same rows either way."""

    def __init__(self, signals: SignalFileWriter) -> None:
        self.signals = signals
        self._gathered: list[tuple[str, int, np.ndarray]] = []
        self._dataset = ""
        self._bytes = 0

    def add(self, rid: str, seq: int, dataset: str, raw: np.ndarray) -> None:
        """Stream ``raw`` (C-contiguous, little-endian) of recording ``rid``."""
        if self._gathered and dataset != self._dataset:
            self.flush()
        if raw.nbytes > _GATHER_MAX_STREAM_BYTES or not one_chunk(raw):
            self.flush()
            for chunks in chunk_batches(rid, seq, dataset, RAW_STREAM, raw):
                self.signals.write(chunks)
            return
        # (a view is copied: it could keep a larger buffer of the adapter's alive)
        self._gathered.append((rid, seq, raw if raw.base is None else raw.copy()))
        self._dataset = dataset
        self._bytes += raw.nbytes
        if len(self._gathered) >= _GATHER_STREAMS or self._bytes >= _GATHER_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write the gathered streams."""
        if self._gathered:
            self.signals.write(whole_streams_batch(self._gathered, self._dataset, RAW_STREAM))
        self._gathered, self._bytes = [], 0


def _store(
    read: _UnitRead,
    unit: SourceUnit,
    adapter: Adapter,
    signals: _RawStreams,
    batch: _Batch,
    holdings: _LakeHoldings,
    pool: ThreadPoolExecutor,
) -> None:
    """Send one recording's samples to ``signals`` and its metadata rows to ``batch``.

    The payload's sha256 is computed on the background thread while the chunks are
    written.
    """
    rec = read.recording
    rid = rec.recording_id
    seq = holdings.next_seq
    holdings.next_seq += 1
    raw = little_endian(rec.samples)
    digest = _run(pool, partial(samples_sha256, raw), raw.nbytes)
    signals.add(rid, seq, rec.dataset, raw)
    batch.rows["recordings"].append(
        recording_row(
            rec,
            seq=seq,
            unit_key=unit.key,
            sample_dtype=raw.dtype.str,
            source_files=read.source_files,
            source_sha256=read.source_sha256,
            samples_sha256=digest(),
            adapter=adapter.name,
            adapter_version=str(adapter.version),
        )
    )
    batch.rows["channels"].extend(channel_rows(rec))
    batch.rows["events"].extend(event_rows(rec))
    batch.add_subject(rec, holdings)
    batch.recording_ids.append(rid)
    batch.sample_bytes += raw.nbytes
    holdings.ids.add(rid)
    holdings.units[(rec.dataset, unit.key)] = rid


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` (itself or a parent) that does not exist yet."""
    missing = None
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing


def _published_nothing(lake: LakePath) -> bool:
    """True if the lake's published snapshot holds no recording (or it has no snapshot)."""
    try:
        return read_snapshot(lake).get("recordings", 0) == 0
    except EmgCorpusError:
        return True


def ingest(
    lake_path: str | Path,
    adapter: Adapter,
    *,
    checksums: dict[str, str] | None = None,
    on_error: str = "skip",
    progress: bool = True,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    batch_recordings: int = DEFAULT_BATCH_RECORDINGS,
) -> IngestReport:
    """Ingest every unit ``adapter`` discovers into the lake at ``lake_path`` (created if new).

    ``checksums`` maps source paths (posix, relative to ``adapter.source``) to sha256; a
    file that differs is a ChecksumError for its unit. ``on_error`` is ``skip`` or
    ``abort`` (see the module docstring). ``batch_bytes`` [bytes] and
    ``batch_recordings`` bound one batch. Returns an IngestReport.

    A lake this call created is removed again (with the folders it made for it) when the
    ingest raises or publishes no recording, so a failed first ingest leaves no empty
    lake; a lake that existed before is never removed.
    """
    check_option("on_error", on_error, ("skip", "abort"))
    adapter.check_source()
    location = lake_root(lake_path)
    # (an object-store lake has no folders to remove: a failed first ingest leaves its
    # empty tables)
    created = _first_missing(location) if isinstance(location, Path) else None
    try:
        report = _ingest(
            lake_path, adapter, checksums, on_error, progress, batch_bytes, batch_recordings
        )
    except BaseException:
        if created is not None and _published_nothing(location):
            shutil.rmtree(created, ignore_errors=True)
        raise
    if created is not None and not report.added and _published_nothing(location):
        shutil.rmtree(created, ignore_errors=True)
        report.snapshot = {}
    return report


def _ingest(
    lake_path: str | Path,
    adapter: Adapter,
    checksums: dict[str, str] | None,
    on_error: str,
    progress: bool,
    batch_bytes: int,
    batch_recordings: int,
) -> IngestReport:
    start = time.perf_counter()
    units = adapter.discover()
    report = IngestReport(dataset=adapter.dataset)
    # (the writer creates a new lake: one lock, and the new tables stay loaded for it)
    with LakeWriter(lake_path, create=True) as writer, ThreadPoolExecutor(1) as pool:
        holdings = _LakeHoldings.of(writer)
        reader = _SourceReader(adapter, checksums or {}, pool)
        pending = []
        for unit in units:
            known = holdings.units.get((adapter.dataset, unit.key))
            if known is None:
                pending.append(unit)
            else:
                report.skipped.append(known)
        todo = iter(pending)
        show = progress and sys.stderr.isatty()
        bar = progress_bar(show, total=len(pending), desc=f"ingest {adapter.dataset}")
        with bar:
            while True:  # one batch per turn, until the units run out
                batch = _Batch()
                with writer.signals() as files:
                    signals = _RawStreams(files)
                    for unit in todo:
                        bar.update(1)
                        try:
                            read = reader.read(unit)
                        except Exception as exc:  # noqa: BLE001 - one bad unit must not stop the rest
                            message, error = _unit_error(unit, exc)
                            report.errors.append((unit.key, message))
                            if on_error == "skip":
                                continue
                            if error is exc:  # the writer's exit drops what is staged
                                raise
                            raise error from exc
                        rec = read.recording
                        if rec.recording_id in holdings.ids:
                            report.skipped.append(rec.recording_id)
                        else:
                            _store(read, unit, adapter, signals, batch, holdings, pool)
                            report.sample_bytes += rec.samples.nbytes
                            report.duration_s += rec.duration_s
                        del read, rec  # one recording in memory at a time
                        if batch.full(batch_bytes, batch_recordings):
                            break
                    signals.flush()
                if not batch.recording_ids:
                    break
                batch.commit(writer, holdings)
                report.added.extend(batch.recording_ids)
                if on_error == "skip":
                    report.snapshot = writer.publish()
        if on_error == "abort" and report.added:
            report.snapshot = writer.publish()
        if not report.snapshot:
            report.snapshot = writer.published
    report.elapsed_s = time.perf_counter() - start
    return report
