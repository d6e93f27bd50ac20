"""Reading the lakehouse: a :class:`Lake` is a consistent, read-only view at one snapshot.

``Lake.open(path)`` reads the published snapshot (table -> Delta version) and every
query reads its table AT that version, so a lake being written concurrently, or left
half-written by a crash, always reads consistently. ``Lake.open(path, snapshot=...)``
travels back to any earlier snapshot (every artifact records the one it read).

Per-recording reads cost the same whatever the corpus size. Metadata tables are read
once per table version per process and indexed by recording (:mod:`emgcorpus.lake_cache`),
so the rows of one recording are an O(1) slice, and every ``Lake`` of the process (one
per Dask task) shares them. Samples are read without scanning the lake: the recording's
``seq`` (ingest order) selects the few Parquet files whose min/max ``seq`` statistics
contain it, and the cached row-group statistics of those files select the row groups
that are read. Many recordings at once (:meth:`Lake.read_many`, :meth:`Lake.iter_many`)
read in batches: each row group holding any recording of a batch is read once, so a
corpus of small recordings (eight to a row group) reads at the speed of its files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable

from emgcorpus.chunk_codec import chunk_samples
from emgcorpus.errors import LakeError
from emgcorpus.lake_cache import (
    IndexedTable,
    SignalFiles,
    indexed_table,
    key_spans,
    parquet_footer,
)
from emgcorpus.lake_cache import signal_files as cached_signal_files
from emgcorpus.lake_location import LakePath, lake_root, parquet_source
from emgcorpus.lake_writer import (
    create_lake,
    delta_table,
    read_snapshot,
    recover_lake,
    snapshot_path,
)
from emgcorpus.recording import ChannelInfo, Recording, SubjectInfo
from emgcorpus.rows import (
    channel_from_row,
    event_from_row,
    sources_from_row,
    subject_info_from_row,
)
from emgcorpus.schema import RAW_STREAM, SIGNAL_ROW_GROUP_ROWS, TABLES

#: table -> (index key columns, order within a key); a table is read sorted this way.
_INDEX: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "recordings": (("recording_id",), ()),
    "channels": (("recording_id",), ("channel_index",)),
    "events": (("recording_id",), ("onset",)),
    "subjects": (("dataset", "subject"), ()),
    "harmonized": (("recording_id",), ("fs",)),
}
_CHUNK_COLUMNS = ["chunk_index", "start_sample", "n_samples", "n_channels", "dtype", "data"]
_KEY_COLUMNS = ["seq", "recording_id", "stream", "chunk_index"]
_CHUNK_SCHEMA = pa.schema([TABLES["signals"].field(c) for c in _CHUNK_COLUMNS])
_READ_COLUMNS = _KEY_COLUMNS + _CHUNK_COLUMNS[1:]
#: What a batch of :meth:`Lake.read_many` reads (``n_channels`` comes from ``recordings``).
_BATCH_COLUMNS = [c for c in _READ_COLUMNS if c != "n_channels"]
_BATCH_SCHEMA = pa.schema([TABLES["signals"].field(c) for c in _BATCH_COLUMNS])
#: Returned samples :meth:`Lake.read_many` gathers per batch by default [bytes].
READ_MANY_BATCH_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class _SamplePlan:
    """How the samples of one recording are read: its stream (``n_total`` samples of
    ``n_channels`` stored columns), the columns kept (None: all), the physical scaling
    (None: values as stored) and the dtype returned."""

    recording_id: str
    seq: int
    stream: str
    n_total: int
    n_channels: int
    cols: list[int] | None
    gain: np.ndarray | None
    offset: np.ndarray | None
    dtype: np.dtype[Any]

    @property
    def nbytes(self) -> int:
        """Size of the returned samples [bytes]."""
        n_cols = self.n_channels if self.cols is None else len(self.cols)
        return self.n_total * n_cols * self.dtype.itemsize

    def _stored(self, chunks: Iterable[_Chunk]) -> Iterator[np.ndarray]:
        """The kept columns of the stored chunks (the stream's chunks in order), values as
        stored; LakeError if they are not contiguous or do not add up."""
        pos = 0
        for chunk_index, start, n, dtype, data in chunks:
            if start != pos or pos + n > self.n_total:
                raise LakeError(
                    f"recording {self.recording_id} stream {self.stream}: chunk "
                    f"{chunk_index} starts at {start}, expected {pos} (run `emgcorpus verify`)"
                )
            block = chunk_samples(data, dtype, n, self.n_channels)
            pos += n
            yield block if self.cols is None else block[:, self.cols]
        if pos != self.n_total:
            raise LakeError(
                f"recording {self.recording_id} stream {self.stream}: {pos} samples stored, "
                f"{self.n_total} expected (run `emgcorpus verify`)"
            )

    def _scaled(self, block: np.ndarray) -> np.ndarray:
        """``block`` as float64 ``(raw - offset) * gain`` where the plan converts, else as is
        (stored into a float32 array or ``astype(float32)``: the same rounding)."""
        if self.gain is None or self.offset is None:
            return block
        x = block.astype(np.float64)
        np.subtract(x, self.offset, out=x)
        np.multiply(x, self.gain, out=x)
        return x

    def blocks(self, chunks: Iterable[_Chunk]) -> Iterator[np.ndarray]:
        """The samples of the stored ``chunks``, one block per chunk, in the plan's dtype."""
        for block in self._stored(chunks):
            yield self._scaled(block).astype(self.dtype, copy=False)

    def assemble(self, chunks: Iterable[_Chunk]) -> np.ndarray:
        """The samples of the stored ``chunks`` as one (n_total, columns) array."""
        n_cols = self.n_channels if self.cols is None else len(self.cols)
        out = np.empty((self.n_total, n_cols), dtype=self.dtype)
        pos = 0
        for block in self._stored(chunks):
            out[pos : pos + block.shape[0]] = self._scaled(block)
            pos += block.shape[0]
        return out


#: One stored chunk as the decoder reads it: chunk_index, start_sample, n_samples,
#: dtype, data bytes.
_Chunk = tuple[int, int, int, str, pa.Buffer]


def _chunks(table: pa.Table) -> list[_Chunk]:
    """The rows of a ``signals`` table (in its order) as :data:`_Chunk` tuples."""
    return list(
        zip(
            table["chunk_index"].to_pylist(),
            table["start_sample"].to_pylist(),
            table["n_samples"].to_pylist(),
            table["dtype"].to_pylist(),
            [v.as_buffer() for v in table["data"]],
        )
    )


class Lake:
    """Read-only view of a lake at one snapshot. Build with :meth:`open` or :meth:`create`."""

    def __init__(self, path: str | LakePath, versions: dict[str, int]) -> None:
        self.path = lake_root(path)
        self._versions = dict(versions)
        self._tables: dict[str, DeltaTable] = {}
        self._indexes: dict[str, IndexedTable] = {}
        self._columns: dict[tuple[str, str], np.ndarray] = {}

    # --- construction -------------------------------------------------------------
    @classmethod
    def open(cls, path: str | LakePath, snapshot: dict[str, int] | None = None) -> Lake:
        """Open the lake at ``path`` at its published snapshot, or at ``snapshot``.

        LakeError if ``path`` is not a lake or a requested version does not exist. A lake
        left behind by a crashed writer is recovered first
        (:func:`emgcorpus.lake_writer.recover_lake`: a few ``stat`` calls when there is
        nothing to do), so the latest Delta versions equal the snapshot for every reader.
        """
        path = lake_root(path)
        recover_lake(path)
        published = read_snapshot(path)
        if snapshot is None:
            return cls(path, published)
        versions = dict(published)
        for name, version in snapshot.items():
            if name not in TABLES:
                raise LakeError(f"snapshot names unknown table {name!r}: tables are {list(TABLES)}")
            if 0 <= int(version) <= published[name]:  # published versions exist
                versions[name] = int(version)
                continue
            latest = delta_table(path, name).version()
            if not 0 <= int(version) <= latest:
                raise LakeError(
                    f"{path / name}: version {version} does not exist (latest is {latest})"
                )
            versions[name] = int(version)
        return cls(path, versions)

    @classmethod
    def create(cls, path: str | LakePath) -> Lake:
        """Create an empty lake at ``path`` (or open it if it exists: idempotent)."""
        path = lake_root(path)
        if snapshot_path(path).is_file():
            return cls.open(path)
        return cls(path, create_lake(path))

    # --- tables -------------------------------------------------------------------
    def snapshot(self) -> dict[str, int]:
        """Table -> Delta version this view reads (what artifacts record)."""
        return dict(self._versions)

    def table(self, name: str) -> DeltaTable:
        """The Delta table ``name`` at this view's version."""
        if name not in TABLES:
            raise LakeError(f"unknown table {name!r}: tables are {list(TABLES)}")
        if name not in self._tables:
            self._tables[name] = delta_table(self.path, name, self._versions[name])
        return self._tables[name]

    def _index(self, name: str) -> IndexedTable:
        """A metadata table sorted and indexed by its key (shared by the process; kept by
        the view too, so a per-recording lookup does not resolve the table path again)."""
        if name not in self._indexes:
            key, order = _INDEX[name]
            self._indexes[name] = indexed_table(self.path / name, self._versions[name], key, order)
        return self._indexes[name]

    def _frame(self, name: str) -> pl.DataFrame:
        """A metadata table as a polars DataFrame (cached: table versions are immutable)."""
        return self._index(name).frame

    def recordings(self, datasets: list[str] | None = None) -> pl.DataFrame:
        """One row per recording (sorted by dataset, subject, session, trial)."""
        df = self._frame("recordings")
        if datasets is not None:
            df = df.filter(pl.col("dataset").is_in(datasets))
        return df.sort("dataset", "subject", "session", "trial")

    def channels(self, recording_id: str | None = None) -> pl.DataFrame:
        """Channel rows, sorted by recording_id, channel_index."""
        index = self._index("channels")
        return index.frame if recording_id is None else index.rows(recording_id)

    def events(self, recording_id: str | None = None) -> pl.DataFrame:
        """Event rows (onset/duration in s), sorted by recording_id, onset."""
        index = self._index("events")
        return index.frame if recording_id is None else index.rows(recording_id)

    def subjects(self) -> pl.DataFrame:
        """One row per (dataset, subject)."""
        return self._frame("subjects")

    def harmonized(self) -> pl.DataFrame:
        """One row per (recording, rate) with a harmonized stream."""
        return self._frame("harmonized")

    def harmonized_rates(self) -> list[float]:
        """Distinct rates [Hz] with at least one harmonized recording, ascending."""
        return sorted(float(x) for x in self._frame("harmonized")["fs"].unique().to_list())

    def recording_row(self, recording_id: str) -> dict[str, Any]:
        """The recordings row of ``recording_id``; LakeError if the lake does not hold it."""
        rows = self._index("recordings").rows(recording_id)
        if rows.height == 0:
            raise LakeError(f"{self.path}: no recording {recording_id!r} in this snapshot")
        return rows.row(0, named=True)

    def channel_infos(self, recording_id: str) -> list[ChannelInfo]:
        """The channels of ``recording_id`` as ChannelInfo (with ElectrodePosition)."""
        self.recording_row(recording_id)
        return [channel_from_row(r) for r in self.channels(recording_id).iter_rows(named=True)]

    # --- samples ------------------------------------------------------------------
    @property
    def _signal_files(self) -> SignalFiles:
        """Data files of ``signals`` with min/max seq (from Delta statistics; cached)."""
        return cached_signal_files(
            self.table("signals"), self.path / "signals", self._versions["signals"]
        )

    def signal_files(self, recording_id: str) -> list[str]:
        """Paths (relative to ``signals/``) of the only files that can hold the recording."""
        seq = int(self.recording_row(recording_id)["seq"])
        return self._signal_files.holding(seq)

    def _row_groups(self, recording_id: str) -> list[tuple[pq.ParquetFile, int]]:
        """(file, row group) pairs that may hold the recording (by their ``seq``
        statistics), in the order of their first chunk index."""
        seq = int(self.recording_row(recording_id)["seq"])
        found: list[tuple[int, str, int, pq.ParquetFile]] = []
        for rel in self.signal_files(recording_id):
            path = self.path / "signals" / rel
            footer = parquet_footer(path)
            groups = footer.row_groups_holding(seq)
            if groups:
                pf = pq.ParquetFile(parquet_source(path), metadata=footer.meta, pre_buffer=False)
                found.extend((int(footer.first_chunk[g]), rel, g, pf) for g in groups)
        found.sort(key=lambda t: t[:3])
        return [(pf, g) for _, _, g, pf in found]

    def iter_chunks(self, recording_id: str, stream: str = RAW_STREAM) -> Iterator[pa.Table]:
        """The ``signals`` rows of one recording and stream in chunk order, a row group at
        a time (columns as :meth:`read_chunks`).

        Rows are passed on as soon as every earlier chunk was, so memory holds one row
        group when the files are in chunk order (as this lake writes them) and stays
        correct whatever order another writer chose. Missing chunks end the stream with
        what is left, in order (callers check contiguity).
        """
        seq = int(self.recording_row(recording_id)["seq"])
        pending: dict[int, pa.Table] = {}
        expected = 0
        for pf, g in self._row_groups(recording_id):
            table = _cast(pf.read_row_group(g, columns=_READ_COLUMNS))
            table = table.filter(_match(table, seq, recording_id, stream)).select(_CHUNK_COLUMNS)
            for i, ci in enumerate(table["chunk_index"].to_pylist()):
                pending[int(ci)] = table.slice(i, 1)
            ready = []
            while expected in pending:
                ready.append(pending.pop(expected))
                expected += 1
            if ready:
                yield pa.concat_tables(ready)
        if pending:
            yield pa.concat_tables([pending[k] for k in sorted(pending)])

    def read_chunks(self, recording_id: str, stream: str = RAW_STREAM) -> pa.Table:
        """The ``signals`` rows of one recording and stream, sorted by chunk_index.

        Columns: chunk_index, start_sample, n_samples, n_channels, dtype, data. Only the
        row groups whose ``seq`` statistics admit the recording are read.
        """
        parts = list(self.iter_chunks(recording_id, stream))
        if not parts:
            return _CHUNK_SCHEMA.empty_table()
        return pa.concat_tables(parts).sort_by("chunk_index")

    def _column(self, name: str, column: str) -> np.ndarray:
        """One column of a metadata table in index order, as numpy (kept by the view)."""
        if (name, column) not in self._columns:
            self._columns[name, column] = self._index(name).frame[column].to_numpy()
        return self._columns[name, column]

    def _harmonized_stream(self, recording_id: str, fs: float) -> tuple[str, int]:
        """(stream name, sample count) of the recording's harmonized stream at ``fs``."""
        h = self._index("harmonized").rows(recording_id).filter(pl.col("fs") == float(fs))
        if h.height == 0:
            raise LakeError(
                f"recording {recording_id} has no samples at {fs:g} Hz in this snapshot: "
                f"run `emgcorpus harmonize --fs {fs:g}` first"
            )
        return str(h["stream"][0]), int(h["n_samples"][0])

    def _plan(
        self, recording_id: str, fs: float | None, channels: list[int] | None, physical: bool
    ) -> _SamplePlan:
        """What reading the samples of one recording takes (the meaning of
        :meth:`read_samples`); LakeError for an unknown recording, rate or channel.
        Metadata comes from the indexed tables' columns: a few microseconds."""
        at, found = self._index("recordings").spans.get(recording_id, (0, 0))
        if not found:
            self.recording_row(recording_id)  # the LakeError naming the recording
        n_channels = int(self._column("recordings", "n_channels")[at])
        if channels is not None:
            bad = [c for c in channels if not 0 <= c < n_channels]
            if bad:
                raise LakeError(
                    f"recording {recording_id}: channel indices {bad} "
                    f"out of range 0..{n_channels - 1}"
                )
        if fs is None:
            stream, n_total = RAW_STREAM, int(self._column("recordings", "n_samples")[at])
        else:
            stream, n_total = self._harmonized_stream(recording_id, fs)
        cols = None if channels is None else list(channels)
        gain = offset = None
        if fs is not None:
            dtype = np.dtype("<f4")
        elif physical:
            dtype = np.dtype(np.float32)
            first, n = self._index("channels").spans.get(recording_id, (0, 0))
            if n != n_channels:
                raise LakeError(
                    f"recording {recording_id}: {n} channel rows for "
                    f"{n_channels} channels (run `emgcorpus verify`)"
                )
            gain = np.asarray(self._column("channels", "gain")[first : first + n], np.float64)
            offset = np.asarray(self._column("channels", "offset")[first : first + n], np.float64)
            if cols is not None:
                gain, offset = gain[cols], offset[cols]
        else:
            dtype = np.dtype(str(self._column("recordings", "sample_dtype")[at]))
        seq = int(self._column("recordings", "seq")[at])
        return _SamplePlan(
            recording_id, seq, stream, n_total, n_channels, cols, gain, offset, dtype
        )

    def iter_samples(
        self,
        recording_id: str,
        fs: float | None = None,
        channels: list[int] | None = None,
        physical: bool = True,
    ) -> Iterator[np.ndarray]:
        """Samples of one recording as consecutive blocks (one stored chunk each, <= 4 MiB),
        with the meaning of :meth:`read_samples`; memory holds one row group of chunks.

        LakeError if the stored chunks are not contiguous or do not add up.
        """
        plan = self._plan(recording_id, fs, channels, physical)
        # one chunk iterator over every row group: the plan checks the whole stream adds up
        tables = self.iter_chunks(recording_id, plan.stream)
        yield from plan.blocks(chunk for table in tables for chunk in _chunks(table))

    def read_samples(
        self,
        recording_id: str,
        fs: float | None = None,
        channels: list[int] | None = None,
        physical: bool = True,
    ) -> np.ndarray:
        """Samples of one recording, shape (n_samples, n_channels).

        ``fs=None`` reads the raw stream at the native rate: ``physical=True`` gives
        float32 ``(raw - offset) * gain`` in each channel's units, ``physical=False`` the
        stored values exactly (integer ADC counts stay integer). ``fs`` [Hz] reads the
        harmonized stream (already float32 physical; ``physical`` is then ignored);
        LakeError naming ``emgcorpus harmonize --fs X`` if it was never built.
        ``channels`` selects channel indices (0-based), in the given order.
        """
        plan = self._plan(recording_id, fs, channels, physical)
        tables = self.iter_chunks(recording_id, plan.stream)
        return plan.assemble(c for table in tables for c in _chunks(table))

    def read_many(
        self,
        recording_ids: Iterable[str],
        fs: float | None = None,
        channels: list[int] | None = None,
        physical: bool = True,
        batch_bytes: int = READ_MANY_BATCH_BYTES,
    ) -> Iterator[tuple[str, np.ndarray]]:
        """``(recording_id, samples)`` for each of ``recording_ids``, in their order, the
        samples equal to ``read_samples(recording_id, fs, channels, physical)``.

        The recordings are read in batches of about ``batch_bytes`` of returned samples
        [bytes]: a batch reads each row group of ``signals`` holding any of its recordings
        once (a recording alone reads at least one row group, often shared by eight
        small recordings), so many small recordings read at the speed of the files.
        Memory: a batch's samples about twice (stored chunks and arrays) plus one row
        group; a recording larger than ``batch_bytes`` is a batch of its own.
        LakeError as :meth:`read_samples`, raised before the batch holding the
        recording is yielded.
        """
        for plan, chunks in self._batches(recording_ids, fs, channels, physical, batch_bytes):
            yield plan.recording_id, plan.assemble(chunks)

    def iter_many(
        self, recording_ids: Iterable[str], fs: float | None = None
    ) -> Iterator[tuple[str, Iterator[np.ndarray]]]:
        """``(recording_id, blocks)`` for each of ``recording_ids``, in their order: the
        blocks of ``iter_samples(recording_id, fs)`` (physical units, every channel; one
        block per stored chunk), read in the batches of :meth:`read_many`."""
        for plan, chunks in self._batches(recording_ids, fs, None, True, READ_MANY_BATCH_BYTES):
            yield plan.recording_id, plan.blocks(chunks)

    def _batches(
        self,
        recording_ids: Iterable[str],
        fs: float | None,
        channels: list[int] | None,
        physical: bool,
        batch_bytes: int,
    ) -> Iterator[tuple[_SamplePlan, list[_Chunk]]]:
        """Each recording's plan with its stored chunks, read in batches of about
        ``batch_bytes`` of returned samples (:meth:`read_many`)."""
        if batch_bytes <= 0:
            raise LakeError(f"batch_bytes must be positive, got {batch_bytes}")
        batch: list[_SamplePlan] = []
        size = 0
        for rid in recording_ids:
            plan = self._plan(rid, fs, channels, physical)
            if batch and size + plan.nbytes > batch_bytes:
                yield from self._read_batch(batch)
                batch, size = [], 0
            batch.append(plan)
            size += plan.nbytes
        if batch:
            yield from self._read_batch(batch)

    def _read_batch(self, plans: list[_SamplePlan]) -> Iterator[tuple[_SamplePlan, list[_Chunk]]]:
        """Each of ``plans`` (one batch of :meth:`read_many`) with its stored chunks in
        chunk order, the row groups holding them read once."""
        seqs = np.unique(np.array([p.seq for p in plans], np.int64))
        wanted = pa.array(seqs)
        parts = []
        for pf, groups in self._batch_row_groups(seqs):
            for batch in pf.iter_batches(
                batch_size=SIGNAL_ROW_GROUP_ROWS,
                row_groups=groups,
                columns=_BATCH_COLUMNS,
                use_threads=False,
            ):
                batch = batch.filter(pc.is_in(batch["seq"], wanted))
                if batch.num_rows:
                    parts.append(_cast(pa.Table.from_batches([batch])))
        table = pa.concat_tables(parts) if parts else _BATCH_SCHEMA.empty_table()
        ids = pa.array(sorted({p.recording_id for p in plans}), pa.string())
        streams = pa.array(sorted({p.stream for p in plans}), pa.string())
        table = table.filter(
            pc.and_(pc.is_in(table["recording_id"], ids), pc.is_in(table["stream"], streams))
        )
        order = pc.sort_indices(table, sort_keys=[(c, "ascending") for c in _KEY_COLUMNS])
        at = order.to_numpy()  # uint64: compare, never subtract
        if np.any(at[1:] < at[:-1]):
            table = table.take(order)
        frame = pl.from_arrow(table.select(_KEY_COLUMNS[:3]))
        assert isinstance(frame, pl.DataFrame)
        spans = key_spans(frame, tuple(_KEY_COLUMNS[:3]))
        chunks = _chunks(table)
        for plan in plans:
            start, n = spans.get((plan.seq, plan.recording_id, plan.stream), (0, 0))
            yield plan, chunks[start : start + n]

    def _batch_row_groups(self, seqs: np.ndarray) -> Iterator[tuple[pq.ParquetFile, list[int]]]:
        """Each ``signals`` file whose statistics admit one of ``seqs`` (sorted), with
        its row groups that do."""
        for rel in self._signal_files.holding_any(seqs):
            path = self.path / "signals" / rel
            footer = parquet_footer(path)
            groups = footer.row_groups_holding_any(seqs)
            if groups:
                yield (
                    pq.ParquetFile(parquet_source(path), metadata=footer.meta, pre_buffer=False),
                    groups,
                )

    def read_recording(self, recording_id: str, fs: float | None = None) -> Recording:
        """One recording with physical float32 samples (gain 1, offset 0), native or at ``fs``.

        At a harmonized rate each channel's ``high_cutoff`` is capped at ``fs/2`` [Hz].
        """
        row = self.recording_row(recording_id)
        samples = self.read_samples(recording_id, fs=fs)
        infos = []
        for c in self.channel_infos(recording_id):
            d = c.to_dict()
            d["gain"], d["offset"] = 1.0, 0.0
            if fs is not None:
                native = c.high_cutoff if c.high_cutoff is not None else row["native_fs"] / 2
                d["high_cutoff"] = min(native, fs / 2)
            infos.append(ChannelInfo.from_dict(d))
        events = [event_from_row(e) for e in self.events(recording_id).iter_rows(named=True)]
        return Recording(
            dataset=row["dataset"],
            subject=row["subject"],
            session=row["session"],
            trial=row["trial"],
            device=row["device"],
            fs=float(fs) if fs is not None else float(row["native_fs"]),
            channels=infos,
            samples=samples,
            events=events,
            sources=sources_from_row(row),
            subject_info=self.subject_info(row["dataset"], row["subject"]),
            meta=json.loads(row["meta_json"] or "{}"),
        )

    def iter_recordings(
        self, recording_ids: list[str] | None = None, fs: float | None = None
    ) -> Iterator[Recording]:
        """Recordings one at a time (``read_recording``), all of them when ids are None.

        Memory holds one recording; each read costs the same whatever the lake's size.
        """
        if recording_ids is None:
            recording_ids = self.recordings()["recording_id"].to_list()
        for rid in recording_ids:
            yield self.read_recording(rid, fs=fs)

    def subject_info(self, dataset: str, subject: str) -> SubjectInfo | None:
        """Demographics of one subject, or None if the lake has no row for it."""
        rows = self._index("subjects").rows((dataset, subject))
        if rows.height == 0:
            return None
        return subject_info_from_row(rows.row(0, named=True))


def _cast(table: pa.Table) -> pa.Table:
    """``signals`` columns in the lake's types (files written by other writers may use
    string_view/large_binary layouts: they read the same way)."""
    schema = pa.schema([TABLES["signals"].field(c) for c in table.column_names])
    return table if table.schema.equals(schema) else table.cast(schema)


def _match(table: pa.Table, seq: int, recording_id: str, stream: str) -> pa.ChunkedArray:
    """Rows of ``table`` that belong to one recording's stream."""
    same = pc.and_(pc.equal(table["seq"], seq), pc.equal(table["recording_id"], recording_id))
    return pc.and_(same, pc.equal(table["stream"], stream))
