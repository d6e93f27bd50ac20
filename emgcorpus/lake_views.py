"""Typed views of the lake for SQL and DataFrame users (DuckDB, polars, pandas, pyarrow).

The stored ``signals`` table keeps each chunk as opaque little-endian bytes (lossless,
any dtype and channel count in one schema). :func:`samples_view` decodes it into a
typed Arrow table without changing what is stored: one row per (recording, channel,
chunk) whose ``samples`` column is ``list<float32>`` in the channel's physical units
(``units``; raw streams as ``(raw - offset) * gain``, harmonized streams as stored).
Concatenating a channel's ``samples`` in ``chunk_index`` order gives the channel's
whole signal, the same values :meth:`emgcorpus.lake.Lake.read_samples` returns.

:func:`table_dataset` gives any table at the view's snapshot as a ``pyarrow.dataset``
(what DuckDB scans with projection and filter pushdown without its ``delta``
extension, and what polars reads with ``pl.scan_pyarrow_dataset``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from emgcorpus.errors import ConfigError
from emgcorpus.lake import Lake
from emgcorpus.schema import RAW_STREAM, stream_name

#: Columns of :func:`samples_view`; ``fs`` [Hz], ``start_s`` [s] from the recording start.
SAMPLES_VIEW = pa.schema(
    [
        ("recording_id", pa.string()),
        ("dataset", pa.string()),
        ("subject", pa.string()),
        ("stream", pa.string()),
        ("fs", pa.float64()),
        ("channel_index", pa.int64()),
        ("channel", pa.string()),
        ("type", pa.string()),
        ("units", pa.string()),
        ("chunk_index", pa.int64()),
        ("start_sample", pa.int64()),
        ("start_s", pa.float64()),
        ("n_samples", pa.int64()),
        ("samples", pa.list_(pa.float32())),
    ]
)


def table_dataset(lake: Lake, table: str) -> ds.Dataset:
    """The Delta table ``table`` at the view's snapshot as a ``pyarrow.dataset.Dataset``."""
    return lake.table(table).to_pyarrow_dataset()


def _recording_batches(
    lake: Lake, recording_id: str, fs: float | None, blocks: Iterator[np.ndarray]
) -> Iterator[pa.RecordBatch]:
    """The view's rows of one recording from its ``blocks`` (one per stored chunk), one
    batch per chunk."""
    row = lake.recording_row(recording_id)
    channels = lake.channels(recording_id)
    n_ch = channels.height
    rate = float(row["native_fs"]) if fs is None else float(fs)
    stream = RAW_STREAM if fs is None else stream_name(fs)
    fixed = {
        "recording_id": pa.array([recording_id] * n_ch, pa.string()),
        "dataset": pa.array([row["dataset"]] * n_ch, pa.string()),
        "subject": pa.array([row["subject"]] * n_ch, pa.string()),
        "stream": pa.array([stream] * n_ch, pa.string()),
        "fs": pa.array([rate] * n_ch, pa.float64()),
        "channel_index": channels["channel_index"].to_arrow().cast(pa.int64()),
        "channel": channels["name"].to_arrow().cast(pa.string()),
        "type": channels["type"].to_arrow().cast(pa.string()),
        "units": channels["units"].to_arrow().cast(pa.string()),
    }
    start = 0
    for chunk_index, block in enumerate(blocks):
        n = int(block.shape[0])
        values = pa.array(np.ascontiguousarray(block.T, dtype=np.float32).ravel())
        offsets = pa.array(np.arange(n_ch + 1, dtype=np.int32) * n)
        columns = dict(fixed)
        columns["chunk_index"] = pa.array([chunk_index] * n_ch, pa.int64())
        columns["start_sample"] = pa.array([start] * n_ch, pa.int64())
        columns["start_s"] = pa.array([start / rate] * n_ch, pa.float64())
        columns["n_samples"] = pa.array([n] * n_ch, pa.int64())
        columns["samples"] = pa.ListArray.from_arrays(offsets, values)
        yield pa.RecordBatch.from_pydict(columns, schema=SAMPLES_VIEW)
        start += n


def sample_batches(
    lake: Lake,
    recording_ids: list[str] | None = None,
    *,
    datasets: list[str] | None = None,
    fs: float | None = None,
) -> Iterator[pa.RecordBatch]:
    """The rows of :func:`samples_view`, one batch per stored chunk, for ``recording_ids``
    (default: every recording of ``datasets``, or of the lake). ``fs`` [Hz] reads the
    harmonized stream at that rate (LakeError naming ``emgcorpus harmonize`` if it was
    never built); None the raw one. Samples are read with :meth:`Lake.iter_many`
    (memory: one of its batches, about 64 MiB of samples; many small recordings read
    row group by row group, not one file lookup each)."""
    if recording_ids is None:
        recording_ids = lake.recordings(datasets)["recording_id"].to_list()
    for rid, blocks in lake.iter_many(recording_ids, fs=fs):
        yield from _recording_batches(lake, rid, fs, blocks)


def samples_reader(
    lake: Lake,
    recording_ids: list[str] | None = None,
    *,
    datasets: list[str] | None = None,
    fs: float | None = None,
) -> pa.RecordBatchReader:
    """:func:`sample_batches` as a streaming ``pyarrow.RecordBatchReader`` (DuckDB and
    polars scan it once, without holding every recording in memory)."""
    batches = sample_batches(lake, recording_ids, datasets=datasets, fs=fs)
    return pa.RecordBatchReader.from_batches(SAMPLES_VIEW, batches)


def samples_view(
    lake: Lake,
    recording_ids: list[str] | None = None,
    *,
    datasets: list[str] | None = None,
    fs: float | None = None,
) -> pa.Table:
    """One row per (recording, channel, chunk) with a ``list<float32>`` ``samples`` column
    in physical units (module docstring; columns :data:`SAMPLES_VIEW`), in memory."""
    return samples_reader(lake, recording_ids, datasets=datasets, fs=fs).read_all()


def duckdb_delta_extension() -> Path:
    """The file of DuckDB's ``delta`` extension packaged on the registry
    (``pip install duckdb-extension-delta``, whose version must equal DuckDB's), for
    ``con.load_extension(str(path))`` with no download; then ``delta_scan('LAKE/TABLE')``
    reads a table's latest Delta version, which is the lake's visible snapshot.

    ConfigError when the package is missing or built for another DuckDB version."""
    import importlib.util

    import duckdb

    spec = importlib.util.find_spec("duckdb_extension_delta")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "DuckDB's delta extension is not installed: "
            f"pip install duckdb-extension-delta=={duckdb.__version__}"
        )
    root = Path(next(iter(spec.submodule_search_locations))) / "extensions"
    found = sorted(root.glob(f"v{duckdb.__version__}/*delta.duckdb_extension"))
    if not found:
        built = sorted(p.name for p in root.glob("v*"))
        raise ConfigError(
            f"{root}: no delta extension for DuckDB {duckdb.__version__} (packaged for "
            f"{', '.join(built) or 'nothing'}); install duckdb=={built[-1][1:] if built else '?'}"
        )
    return found[0]
