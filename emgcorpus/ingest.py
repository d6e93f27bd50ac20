"""Ingest: stream an adapter's recordings into the lake, in bounded, atomic batches.

One unit is read at a time; its samples go straight into a pyarrow RecordBatchReader
that ``write_deltalake`` consumes, so memory holds one recording plus the Parquet writer's
buffer, whatever the dataset size. A batch ends after ``batch_bytes`` of samples or
``batch_recordings`` recordings; then its metadata rows are committed and, with
``on_error="skip"``, the lake snapshot is published, so a crashed run keeps every
finished batch and a re-run resumes.

Subjects: a subject's demographics are merged over its recordings (this ingest's and
those already in the lake): each field keeps the first value stated and is filled from a
later recording where it was unknown (:func:`merge_subject_rows`).

Idempotent: units whose (dataset, unit key) or recording id the lake already holds are
skipped (reported in ``IngestReport.skipped``) and nothing new is committed.

Errors:

- ``on_error="skip"`` (default): a unit that fails (unreadable, checksum mismatch,
  invalid samples/events) is reported in ``IngestReport.errors`` as (unit key, message)
  and the rest is ingested.
- ``on_error="abort"``: the first failing unit raises its error and nothing of this
  ingest becomes visible (batches are committed to the tables but published only at the
  very end; the next writer restores the tables to the published snapshot).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from emgcorpus.checksums import file_sha256, samples_sha256
from emgcorpus.chunk_codec import chunk_batches, little_endian
from emgcorpus.errors import ChecksumError, EmgCorpusError, SourceError, check_option
from emgcorpus.lake import Lake
from emgcorpus.lake_writer import LakeWriter
from emgcorpus.recording import Adapter, Recording, SourceUnit, validate_recording
from emgcorpus.schema import RAW_STREAM, TABLES

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


def _size(files: list[Path]) -> int:
    """Total size of ``files`` [bytes] (missing ones count 0: the adapter reports them)."""
    total = 0
    for f in files:
        with contextlib.suppress(OSError):
            total += f.stat().st_size
    return total


def _run(pool: ThreadPoolExecutor, fn: Callable[[], T], nbytes: int) -> Future[T]:
    """``fn`` on the background thread when it has ``nbytes`` worth hashing there, else now."""
    if nbytes >= _BACKGROUND_HASH_BYTES:
        return pool.submit(fn)
    done: Future[T] = Future()
    try:
        done.set_result(fn())
    except BaseException as exc:  # noqa: BLE001 - delivered by .result(), as the pool would
        done.set_exception(exc)
    return done


def _relative(path: Path, root: Path, root_resolved: Path | None = None) -> str:
    """``path`` relative to ``root`` (posix), lexically when it is plainly under it, else
    after resolving symlinks; the path itself when it is not under ``root``."""
    if ".." not in path.parts:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    try:
        return path.resolve().relative_to(root_resolved or root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


class _Ingestor:
    """State of one ingest: what the lake holds, the rows of the batch in progress."""

    def __init__(
        self,
        lake: Lake,
        adapter: Adapter,
        checksums: dict[str, str],
        on_error: str,
        report: IngestReport,
        pool: ThreadPoolExecutor,
    ) -> None:
        self.adapter = adapter
        self.source_resolved = Path(adapter.source).resolve()
        self.pool = pool
        self.checksums = checksums
        self.on_error = on_error
        self.report = report
        recs = lake.recordings()
        self.known_ids: set[str] = set(recs["recording_id"].to_list())
        self.known_units: dict[tuple[str, str], str] = {
            (d, k): r for d, k, r in recs.select("dataset", "unit_key", "recording_id").iter_rows()
        }
        self.next_seq = int(recs["seq"].max()) + 1 if recs.height else 0  # type: ignore[arg-type]
        #: (dataset, subject) -> subjects row, as merged so far; keys the lake holds
        self.subject_rows: dict[tuple[str, str], dict[str, Any]] = {
            (r["dataset"], r["subject"]): r for r in lake.subjects().iter_rows(named=True)
        }
        self.lake_subjects: set[tuple[str, str]] = set(self.subject_rows)
        self.error: EmgCorpusError | None = None
        self.reset_batch()

    def reset_batch(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
        self.batch_bytes = 0
        self.batch_ids: list[str] = []
        self.batch_subjects: set[tuple[str, str]] = set()

    def already_known(self, unit: SourceUnit) -> str | None:
        return self.known_units.get((self.adapter.dataset, unit.key))

    def read_unit(self, unit: SourceUnit) -> tuple[Recording, list[str], list[str]]:
        """Check the unit's files against the catalog, read and validate it.

        The files are hashed on the background thread while the adapter reads them; a
        checksum mismatch wins over any read error (it explains it).
        """
        files = [Path(f) for f in unit.files]
        hashing = _run(self.pool, lambda: [file_sha256(f) for f in files], _size(files))
        try:
            rec = self.adapter.read(unit)
        except BaseException:
            self._check_checksums(files, hashing.result())
            raise
        names, shas = self._check_checksums(files, hashing.result())
        validate_recording(rec, unit.files[0] if unit.files else unit.key)
        return rec, names, shas

    def _check_checksums(self, files: list[Path], found: list[str]) -> tuple[list[str], list[str]]:
        names = []
        for f, sha in zip(files, found):
            rel = _relative(f, self.adapter.source, self.source_resolved)
            expected = self.checksums.get(rel)
            if expected is not None and expected.lower() != sha:
                raise ChecksumError(f, expected, sha)
            names.append(rel)
        return names, found

    def signal_batches(
        self, units: Iterator[SourceUnit], batch_bytes: int, batch_recordings: int, bar: tqdm
    ) -> Iterator[pa.RecordBatch]:
        """Read units until the batch is full; yield their signal rows; collect metadata.

        The payload's sha256 is computed on the background thread while the rows are
        written. One recording is held at a time.
        """
        for unit in units:
            bar.update(1)
            try:
                rec, names, shas = self.read_unit(unit)
                rid = rec.recording_id
                if rid in self.known_ids:
                    self.report.skipped.append(rid)
                    continue
            except Exception as exc:  # noqa: BLE001 - one bad unit must not stop the rest
                err = exc if isinstance(exc, EmgCorpusError) else None
                msg = str(exc) if err else f"{type(exc).__name__}: {exc}"
                self.report.errors.append((unit.key, msg))
                if self.on_error == "abort":
                    self.error = err or SourceError(unit.key, msg)
                    return
                continue
            seq = self.next_seq
            self.next_seq += 1
            raw = little_endian(rec.samples)
            digest = _run(self.pool, partial(samples_sha256, raw), raw.nbytes)
            yield from chunk_batches(rid, seq, rec.dataset, RAW_STREAM, raw)
            self._collect(unit, rec, raw, seq, names, shas, digest.result())
            del rec, raw, digest
            if self.batch_bytes >= batch_bytes or len(self.batch_ids) >= batch_recordings:
                return

    def _collect(
        self,
        unit: SourceUnit,
        rec: Recording,
        raw: np.ndarray,
        seq: int,
        names: list[str],
        shas: list[str],
        samples_sha: str,
    ) -> None:
        rid = rec.recording_id
        self.known_ids.add(rid)
        self.known_units[(rec.dataset, unit.key)] = rid
        self.batch_ids.append(rid)
        self.batch_bytes += raw.nbytes
        self.report.sample_bytes += raw.nbytes
        self.report.duration_s += rec.duration_s
        self.rows["recordings"].append(
            {
                "recording_id": rid,
                "seq": seq,
                "dataset": rec.dataset,
                "subject": rec.subject,
                "session": rec.session,
                "trial": rec.trial,
                "device": rec.device,
                "native_fs": float(rec.fs),
                "n_samples": rec.n_samples,
                "duration_s": rec.duration_s,
                "n_channels": raw.shape[1],
                "n_emg_channels": sum(c.type == "EMG" for c in rec.channels),
                "sample_dtype": raw.dtype.str,
                "unit_key": unit.key,
                "source_files": names,
                "source_sha256": shas,
                "samples_sha256": samples_sha,
                "adapter": self.adapter.name,
                "adapter_version": str(self.adapter.version),
                "meta_json": json.dumps(rec.meta, sort_keys=True),
            }
        )
        for i, c in enumerate(rec.channels):
            p = c.position
            self.rows["channels"].append(
                {
                    "recording_id": rid,
                    "dataset": rec.dataset,
                    "channel_index": i,
                    "name": c.name,
                    "type": c.type,
                    "units": c.units,
                    "gain": float(c.gain),
                    "offset": float(c.offset),
                    "position_system": p.system,
                    "angle_deg": p.angle_deg,
                    "along_mm": p.along_mm,
                    "row": p.row,
                    "col": p.col,
                    "pitch_mm": p.pitch_mm,
                    "grid_name": p.grid_name,
                    "muscle": p.muscle,
                    "signal_electrode": c.signal_electrode,
                    "reference": c.reference,
                    "group": c.group,
                    "target_muscle": c.target_muscle,
                    "placement_scheme": c.placement_scheme,
                    "placement_description": c.placement_description,
                    "interelectrode_distance": c.interelectrode_distance,
                    "low_cutoff": c.low_cutoff,
                    "high_cutoff": c.high_cutoff,
                    "status": c.status,
                }
            )
        for e in rec.events:
            self.rows["events"].append(
                {
                    "recording_id": rid,
                    "dataset": rec.dataset,
                    "onset": float(e.onset),
                    "duration": float(e.duration),
                    "label": e.label,
                    "repetition": e.repetition,
                    "kind": e.kind,
                }
            )
        key = (rec.dataset, rec.subject)
        row = subject_row(rec)
        old = self.subject_rows.get(key)
        merged = row if old is None else merge_subject_rows(old, row)
        if merged != old:
            self.subject_rows[key] = merged
            self.batch_subjects.add(key)

    def commit_subjects(self, writer: LakeWriter) -> None:
        """Commit the batch's new and enriched subjects rows (an upsert when the lake
        already holds some of them, else a plain append)."""
        rows = [self.subject_rows[k] for k in sorted(self.batch_subjects)]
        table = pa.Table.from_pylist(rows, TABLES["subjects"])
        if self.batch_subjects & self.lake_subjects:
            writer.upsert("subjects", table, keys=("dataset", "subject"))
        else:
            writer.append("subjects", table)
        self.lake_subjects |= self.batch_subjects


_SUBJECT_FIELDS = ("age", "sex", "handedness", "height_cm", "weight_kg")


def subject_row(rec: Recording) -> dict[str, Any]:
    """The subjects row one recording states (None where it says nothing)."""
    s = rec.subject_info
    row: dict[str, Any] = {"dataset": rec.dataset, "subject": rec.subject}
    for name in _SUBJECT_FIELDS:
        row[name] = getattr(s, name) if s else None
    row["extra_json"] = json.dumps(s.extra if s else {}, sort_keys=True)
    return row


def merge_subject_rows(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Demographics of one subject from several recordings: each field keeps the first
    value stated and takes a later recording's value where it was unknown; ``extra``
    keys likewise (first value of a key wins)."""
    merged = dict(old)
    for name in _SUBJECT_FIELDS:
        if merged.get(name) is None and new.get(name) is not None:
            merged[name] = new[name]
    extra = {**json.loads(new.get("extra_json") or "{}"), **json.loads(old["extra_json"] or "{}")}
    merged["extra_json"] = json.dumps(extra, sort_keys=True)
    return merged


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
    ``abort`` (see the module docstring). Returns an IngestReport.
    """
    check_option("on_error", on_error, ("skip", "abort"))
    adapter.check_source()
    start = time.perf_counter()
    Lake.create(lake_path)
    units = adapter.discover()
    report = IngestReport(dataset=adapter.dataset)
    with LakeWriter(lake_path) as writer, ThreadPoolExecutor(1) as pool:
        lake = Lake.open(lake_path)
        state = _Ingestor(lake, adapter, checksums or {}, on_error, report, pool)
        pending = []
        for unit in units:
            known = state.already_known(unit)
            if known is None:
                pending.append(unit)
            else:
                report.skipped.append(known)
        todo = iter(pending)
        show = progress and sys.stderr.isatty()
        with tqdm(total=len(pending), desc=f"ingest {adapter.dataset}", disable=not show) as bar:
            while True:
                state.reset_batch()
                batches = state.signal_batches(todo, batch_bytes, batch_recordings, bar)
                wrote = writer.append_signals(batches)
                if state.error is not None:
                    raise state.error  # the writer's exit restores every table
                if not wrote:
                    break
                for table in ("recordings", "channels", "events"):
                    writer.append(table, pa.Table.from_pylist(state.rows[table], TABLES[table]))
                state.commit_subjects(writer)
                report.added.extend(state.batch_ids)
                if on_error == "skip":
                    report.snapshot = writer.publish()
        if on_error == "abort" and report.added:
            report.snapshot = writer.publish()
        if not report.snapshot:
            report.snapshot = writer.published
    report.elapsed_s = time.perf_counter() - start
    return report
