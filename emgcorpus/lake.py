"""Reading the lakehouse: a :class:`Lake` is a consistent, read-only view at one snapshot.

``Lake.open(path)`` reads the published snapshot (table -> Delta version) and every
query reads its table AT that version, so a lake being written concurrently, or left
half-written by a crash, always reads consistently. ``Lake.open(path, snapshot=...)``
travels back to any earlier snapshot (every artifact records the one it read).

Samples are read per recording without scanning the lake: the recording's ``seq``
(ingest order) selects the few Parquet files whose min/max ``seq`` statistics contain it,
and Parquet row-group statistics then skip everything else in those files.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from deltalake import DeltaTable

from adapters.base import (
    ChannelInfo,
    ElectrodePosition,
    Event,
    Recording,
    SourceFile,
    SubjectInfo,
)
from emgcorpus.errors import LakeError
from emgcorpus.lake_writer import create_tables, read_snapshot, snapshot_path, write_snapshot
from emgcorpus.schema import RAW_STREAM, TABLES, stream_name

_POSITION_FIELDS = ("angle_deg", "along_mm", "row", "col", "pitch_mm", "grid_name", "muscle")
_CHANNEL_FIELDS = (
    "signal_electrode",
    "reference",
    "group",
    "target_muscle",
    "placement_scheme",
    "placement_description",
    "interelectrode_distance",
    "low_cutoff",
    "high_cutoff",
)


class Lake:
    """Read-only view of a lake at one snapshot. Build with :meth:`open` or :meth:`create`."""

    def __init__(self, path: Path, versions: dict[str, int]) -> None:
        self.path = Path(path)
        self._versions = dict(versions)
        self._frames: dict[str, pl.DataFrame] = {}

    # --- construction -------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, snapshot: dict[str, int] | None = None) -> Lake:
        """Open the lake at ``path`` at its published snapshot, or at ``snapshot``.

        LakeError if ``path`` is not a lake or a requested version does not exist.
        """
        path = Path(path)
        published = read_snapshot(path)
        if snapshot is None:
            return cls(path, published)
        versions = dict(published)
        for name, version in snapshot.items():
            if name not in TABLES:
                raise LakeError(f"snapshot names unknown table {name!r}: tables are {list(TABLES)}")
            latest = DeltaTable(path / name).version()
            if not 0 <= int(version) <= latest:
                raise LakeError(
                    f"{path / name}: version {version} does not exist (latest is {latest})"
                )
            versions[name] = int(version)
        return cls(path, versions)

    @classmethod
    def create(cls, path: str | Path) -> Lake:
        """Create an empty lake at ``path`` (or open it if it exists: idempotent)."""
        path = Path(path)
        if snapshot_path(path).is_file():
            return cls.open(path)
        path.mkdir(parents=True, exist_ok=True)
        versions = create_tables(path)
        write_snapshot(path, versions)
        return cls(path, versions)

    # --- tables -------------------------------------------------------------------
    def snapshot(self) -> dict[str, int]:
        """Table -> Delta version this view reads (what artifacts record)."""
        return dict(self._versions)

    def table(self, name: str) -> DeltaTable:
        """The Delta table ``name`` at this view's version."""
        if name not in TABLES:
            raise LakeError(f"unknown table {name!r}: tables are {list(TABLES)}")
        return DeltaTable(self.path / name, version=self._versions[name])

    def _frame(self, name: str) -> pl.DataFrame:
        """A metadata table as a polars DataFrame (cached: the view is immutable)."""
        if name not in self._frames:
            arrow = self.table(name).to_pyarrow_table()
            frame = pl.from_arrow(arrow)
            assert isinstance(frame, pl.DataFrame)
            self._frames[name] = frame
        return self._frames[name]

    def recordings(self, datasets: list[str] | None = None) -> pl.DataFrame:
        """One row per recording (sorted by dataset, subject, session, trial)."""
        df = self._frame("recordings")
        if datasets is not None:
            df = df.filter(pl.col("dataset").is_in(datasets))
        return df.sort("dataset", "subject", "session", "trial")

    def channels(self, recording_id: str | None = None) -> pl.DataFrame:
        """Channel rows, sorted by recording_id, channel_index."""
        df = self._frame("channels")
        if recording_id is not None:
            df = df.filter(pl.col("recording_id") == recording_id)
        return df.sort("recording_id", "channel_index")

    def events(self, recording_id: str | None = None) -> pl.DataFrame:
        """Event rows (onset/duration in s), sorted by recording_id, onset."""
        df = self._frame("events")
        if recording_id is not None:
            df = df.filter(pl.col("recording_id") == recording_id)
        return df.sort("recording_id", "onset")

    def subjects(self) -> pl.DataFrame:
        """One row per (dataset, subject)."""
        return self._frame("subjects").sort("dataset", "subject")

    def harmonized(self) -> pl.DataFrame:
        """One row per (recording, rate) with a harmonized stream."""
        return self._frame("harmonized").sort("recording_id", "fs")

    def harmonized_rates(self) -> list[float]:
        """Distinct rates [Hz] with at least one harmonized recording, ascending."""
        return sorted(float(x) for x in self._frame("harmonized")["fs"].unique().to_list())

    def recording_row(self, recording_id: str) -> dict[str, Any]:
        """The recordings row of ``recording_id``; LakeError if the lake does not hold it."""
        rows = self._frame("recordings").filter(pl.col("recording_id") == recording_id)
        if rows.height == 0:
            raise LakeError(f"{self.path}: no recording {recording_id!r} in this snapshot")
        return rows.row(0, named=True)

    def channel_infos(self, recording_id: str) -> list[ChannelInfo]:
        """The channels of ``recording_id`` as ChannelInfo (with ElectrodePosition)."""
        self.recording_row(recording_id)
        return [_channel_info(r) for r in self.channels(recording_id).iter_rows(named=True)]

    # --- samples ------------------------------------------------------------------
    @cached_property
    def _signal_files(self) -> pl.DataFrame:
        """Data files of ``signals``: path, dataset, min/max seq (from Delta statistics)."""
        actions = pl.DataFrame(self.table("signals").get_add_actions(flatten=True))
        if actions.height == 0:
            return pl.DataFrame(
                schema={"path": pl.String, "min_seq": pl.Int64, "max_seq": pl.Int64}
            )
        return actions.select(
            pl.col("path"),
            pl.col("min.seq").cast(pl.Int64).alias("min_seq"),
            pl.col("max.seq").cast(pl.Int64).alias("max_seq"),
        )

    def signal_files(self, recording_id: str) -> list[str]:
        """Paths (relative to ``signals/``) of the only files that can hold the recording."""
        seq = int(self.recording_row(recording_id)["seq"])
        files = self._signal_files.filter(
            pl.col("min_seq").is_null() | ((pl.col("min_seq") <= seq) & (pl.col("max_seq") >= seq))
        )
        return sorted(files["path"].to_list())

    def read_chunks(self, recording_id: str, stream: str = RAW_STREAM) -> pa.Table:
        """The ``signals`` rows of one recording and stream, sorted by chunk_index."""
        seq = int(self.recording_row(recording_id)["seq"])
        files = [str(self.path / "signals" / p) for p in self.signal_files(recording_id)]
        if not files:
            return TABLES["signals"].empty_table()
        # an explicit schema reads files whose writer used other string/binary layouts
        # (string_view, large_binary) the same way; partition column ``dataset`` is not
        # in the files.
        schema = TABLES["signals"].remove(TABLES["signals"].get_field_index("dataset"))
        dataset = pads.dataset(files, format="parquet", schema=schema)
        filt = (
            (pc.field("seq") == seq)
            & (pc.field("recording_id") == recording_id)
            & (pc.field("stream") == stream)
        )
        columns = ["chunk_index", "start_sample", "n_samples", "n_channels", "dtype", "data"]
        table = dataset.to_table(columns=columns, filter=filt)
        return table.sort_by("chunk_index")

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
        row = self.recording_row(recording_id)
        n_channels = int(row["n_channels"])
        if channels is not None:
            bad = [c for c in channels if not 0 <= c < n_channels]
            if bad:
                raise LakeError(
                    f"recording {recording_id}: channel indices {bad} "
                    f"out of range 0..{n_channels - 1}"
                )
        if fs is None:
            stream, n_total = RAW_STREAM, int(row["n_samples"])
        else:
            h = self.harmonized().filter(
                (pl.col("recording_id") == recording_id) & (pl.col("fs") == float(fs))
            )
            if h.height == 0:
                raise LakeError(
                    f"recording {recording_id} has no samples at {fs:g} Hz in this snapshot: "
                    f"run `emgcorpus harmonize --fs {fs:g}` first"
                )
            stream, n_total = str(h["stream"][0]), int(h["n_samples"][0])
        table = self.read_chunks(recording_id, stream)
        dtype = np.dtype(str(row["sample_dtype"])) if fs is None else np.dtype("<f4")
        out = np.empty((n_total, n_channels), dtype=dtype)
        pos = 0
        for chunk in table.to_pylist():
            n = int(chunk["n_samples"])
            if chunk["start_sample"] != pos or pos + n > n_total:
                raise LakeError(
                    f"recording {recording_id} stream {stream}: chunk {chunk['chunk_index']} "
                    f"starts at {chunk['start_sample']}, expected {pos} (run `emgcorpus verify`)"
                )
            block = np.frombuffer(chunk["data"], dtype=np.dtype(chunk["dtype"]))
            out[pos : pos + n] = block.reshape(n, n_channels)
            pos += n
        if pos != n_total:
            raise LakeError(
                f"recording {recording_id} stream {stream}: {pos} samples stored, "
                f"{n_total} expected (run `emgcorpus verify`)"
            )
        if channels is not None:
            out = out[:, channels]
        if fs is not None or not physical:
            return out
        infos = self.channel_infos(recording_id)
        if channels is not None:
            infos = [infos[c] for c in channels]
        gain = np.array([c.gain for c in infos], dtype=np.float64)
        offset = np.array([c.offset for c in infos], dtype=np.float64)
        return ((out.astype(np.float64) - offset) * gain).astype(np.float32)

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
        events = [
            Event(
                onset=e["onset"],
                duration=e["duration"],
                label=e["label"],
                repetition=e["repetition"],
                kind=e["kind"],
            )
            for e in self.events(recording_id).iter_rows(named=True)
        ]
        sources = [
            SourceFile(path=p, sha256=s)
            for p, s in zip(row["source_files"] or [], row["source_sha256"] or [])
        ]
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
            sources=sources,
            subject_info=self.subject_info(row["dataset"], row["subject"]),
            meta=json.loads(row["meta_json"] or "{}"),
        )

    def subject_info(self, dataset: str, subject: str) -> SubjectInfo | None:
        """Demographics of one subject, or None if the lake has no row for it."""
        rows = self._frame("subjects").filter(
            (pl.col("dataset") == dataset) & (pl.col("subject") == subject)
        )
        if rows.height == 0:
            return None
        r = rows.row(0, named=True)
        return SubjectInfo(
            subject=subject,
            age=r["age"],
            sex=r["sex"],
            handedness=r["handedness"],
            height_cm=r["height_cm"],
            weight_kg=r["weight_kg"],
            extra=json.loads(r["extra_json"] or "{}"),
        )

    def stream_for(self, fs: float) -> str:
        """Stream name of the harmonized samples at ``fs`` [Hz]."""
        return stream_name(fs)


def _channel_info(r: dict[str, Any]) -> ChannelInfo:
    pos = ElectrodePosition.from_dict(
        {"system": r["position_system"] or "n/a", **{k: r[k] for k in _POSITION_FIELDS}}
    )
    return ChannelInfo(
        name=r["name"],
        type=r["type"],
        units=r["units"],
        gain=float(r["gain"]),
        offset=float(r["offset"]),
        position=pos,
        status=r["status"],
        **{k: r[k] for k in _CHANNEL_FIELDS},
    )
