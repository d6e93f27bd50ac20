"""Arrow schemas of the lakehouse tables (Delta Lake), one place for all column names.

Tables live under the lake folder, one Delta table each:

- ``recordings``: one row per recording (identity, native rate [Hz], sample count,
  provenance, ``samples_sha256`` of the raw payload for ``verify``).
- ``channels``: one row per channel (BIDS-EMG fields, gain/offset, electrode position).
- ``signals``: the samples of every recording, in chunks of at most ``CHUNK_BYTES``;
  ``stream`` is ``raw`` (the adapter's samples, bit for bit) or ``fs<rate>`` (a
  harmonized float32 copy in physical units). ``data`` is C-order ``(n, n_channels)``
  little-endian bytes of ``dtype``. Rows are written in ``seq`` order, so Parquet
  min/max statistics of ``seq`` prune files and row groups when one recording is read.
- ``events``: labelled intervals, ``onset``/``duration`` in [s]; ``label`` as the source
  wrote it, ``gesture`` its canonical name (:mod:`emgcorpus.gestures`; null when the
  vocabulary has none, and in lakes written before the column existed).
- ``subjects``: one row per (dataset, subject), demographics where the source gives them.
- ``harmonized``: one row per (recording, rate) that has a harmonized stream.
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa

#: Upper bound of one ``signals.data`` value [bytes].
CHUNK_BYTES = 4 * 1024 * 1024

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

#: Stream name of the raw (native rate, lossless) samples.
RAW_STREAM = "raw"

_str = pa.string()
_f64 = pa.float64()
_i64 = pa.int64()

RECORDINGS = pa.schema(
    [
        ("recording_id", _str),
        ("seq", _i64),
        ("dataset", _str),
        ("subject", _str),
        ("session", _str),
        ("trial", _str),
        ("device", _str),
        ("native_fs", _f64),
        ("n_samples", _i64),
        ("duration_s", _f64),
        ("n_channels", _i64),
        ("n_emg_channels", _i64),
        ("sample_dtype", _str),
        ("unit_key", _str),
        ("source_files", pa.list_(_str)),
        ("source_sha256", pa.list_(_str)),
        ("samples_sha256", _str),
        ("adapter", _str),
        ("adapter_version", _str),
        ("meta_json", _str),
    ]
)

CHANNELS = pa.schema(
    [
        ("recording_id", _str),
        ("dataset", _str),
        ("channel_index", _i64),
        ("name", _str),
        ("type", _str),
        ("units", _str),
        ("gain", _f64),
        ("offset", _f64),
        ("position_system", _str),
        ("angle_deg", _f64),
        ("along_mm", _f64),
        ("row", _i64),
        ("col", _i64),
        ("pitch_mm", _f64),
        ("grid_name", _str),
        ("muscle", _str),
        ("signal_electrode", _str),
        ("reference", _str),
        ("group", _str),
        ("target_muscle", _str),
        ("placement_scheme", _str),
        ("placement_description", _str),
        ("interelectrode_distance", _f64),
        ("low_cutoff", _f64),
        ("high_cutoff", _f64),
        ("status", _str),
    ]
)

SIGNALS = pa.schema(
    [
        ("recording_id", _str),
        ("seq", _i64),
        ("dataset", _str),
        ("stream", _str),
        ("chunk_index", _i64),
        ("start_sample", _i64),
        ("n_samples", _i64),
        ("n_channels", _i64),
        ("dtype", _str),
        ("data", pa.binary()),
    ]
)

EVENTS = pa.schema(
    [
        ("recording_id", _str),
        ("dataset", _str),
        ("onset", _f64),
        ("duration", _f64),
        ("label", _str),
        ("repetition", _i64),
        ("kind", _str),
        ("gesture", _str),
    ]
)

SUBJECTS = pa.schema(
    [
        ("dataset", _str),
        ("subject", _str),
        ("age", _f64),
        ("sex", _str),
        ("handedness", _str),
        ("height_cm", _f64),
        ("weight_kg", _f64),
        ("extra_json", _str),
    ]
)

HARMONIZED = pa.schema(
    [
        ("recording_id", _str),
        ("dataset", _str),
        ("fs", _f64),
        ("stream", _str),
        ("method", _str),
        ("params_json", _str),
        ("n_samples", _i64),
        ("high_cutoff", _f64),
        ("low_cutoff", _f64),
    ]
)

#: table name -> schema, in the order a batch commits them (signals first: the bulk).
TABLES: dict[str, pa.Schema] = {
    "signals": SIGNALS,
    "recordings": RECORDINGS,
    "channels": CHANNELS,
    "events": EVENTS,
    "subjects": SUBJECTS,
    "harmonized": HARMONIZED,
}

#: Tables partitioned by dataset on disk (the big one).
PARTITION_BY: dict[str, list[str]] = {"signals": ["dataset"]}


def stream_name(fs: float) -> str:
    """Name of the harmonized stream at ``fs`` [Hz], e.g. ``fs1000`` or ``fs1000.5``."""
    return f"fs{fs:g}"
