"""Harmonize: derive float32 physical-unit copies of recordings at one rate.

Copies are computed from the raw samples stored in the lake (never from the source
files), streamed chunk by chunk through :func:`emgcorpus.resample.resample_blocks`
(memory: a few chunks, whatever the recording's length; the same samples as
:func:`emgcorpus.resample.resample_to` on the whole recording), stored in ``signals`` as
stream ``fs<rate>`` and described by one ``harmonized`` row each (method, parameters,
sample count, band). Resampling never adds bandwidth: the recorded ``high_cutoff`` is
``min(channel high_cutoff, or native Nyquist where unknown; fs/2)`` over the channels, so
a 200 Hz recording upsampled to 1000 Hz keeps ``high_cutoff <= 100`` Hz.

Idempotent: recordings that already have a stream at ``fs`` are skipped; when nothing
is left to do no table gets a new version. Batches are published like ingest's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from emgcorpus.chunk_codec import stream_batches
from emgcorpus.errors import check_option, check_positive
from emgcorpus.ingest import DEFAULT_BATCH_BYTES
from emgcorpus.lake import Lake
from emgcorpus.lake_writer import LakeWriter
from emgcorpus.progress import progress_bar
from emgcorpus.resample import METHODS, resample_blocks, resample_info
from emgcorpus.schema import HARMONIZED, stream_name
from emgcorpus.signal_writer import SignalFileWriter


def band_of(lake: Lake, recording_id: str, fs: float) -> tuple[float, float | None]:
    """``(high_cutoff, low_cutoff)`` [Hz] of a recording once stored at ``fs``."""
    native_nyquist = float(lake.recording_row(recording_id)["native_fs"]) / 2
    infos = lake.channel_infos(recording_id)
    highs = [c.high_cutoff if c.high_cutoff is not None else native_nyquist for c in infos]
    lows = [c.low_cutoff for c in infos if c.low_cutoff is not None]
    high = min(min(highs, default=native_nyquist), native_nyquist, fs / 2)
    return high, (max(lows) if lows else None)


def _store(
    lake: Lake, r: dict[str, Any], fs: float, method: str, stream: str, signals: SignalFileWriter
) -> dict[str, Any]:
    """Write recording ``r`` (a ``recordings`` row) resampled to ``fs`` [Hz] as ``stream``
    to ``signals``, a chunk group at a time; return its ``harmonized`` row."""
    rid, n_ch = r["recording_id"], int(r["n_channels"])
    info = resample_info(float(r["native_fs"]), fs, int(r["n_samples"]), method)
    blocks = resample_blocks(lake.iter_samples(rid, physical=True), info, n_ch)
    for chunks in stream_batches(rid, int(r["seq"]), r["dataset"], stream, blocks, n_ch):
        signals.write(chunks)
    high, low = band_of(lake, rid, fs)
    return {
        "recording_id": rid,
        "dataset": r["dataset"],
        "fs": fs,
        "stream": stream,
        "method": info.method,
        "params_json": json.dumps(info.to_dict(), sort_keys=True),
        "n_samples": info.n_out,
        "high_cutoff": high,
        "low_cutoff": low,
    }


def harmonize(
    lake_path: str | Path,
    fs: float,
    method: str = "soxr",
    datasets: list[str] | None = None,
    progress: bool = True,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> dict[str, Any]:
    """Store every recording (of ``datasets``, default all) at ``fs`` [Hz] with ``method``.

    Returns ``{"fs", "method", "added": [ids], "skipped": [ids], "snapshot"}``.
    """
    fs = check_positive("fs", fs, "Hz")
    check_option("method", method, METHODS)
    stream = stream_name(fs)
    Lake.open(lake_path)  # LakeError if not a lake
    with LakeWriter(lake_path) as writer:
        lake = Lake.open(lake_path)
        recs = lake.recordings(datasets)
        done = set(lake.harmonized().filter(pl.col("fs") == fs)["recording_id"].to_list())
        todo = [r for r in recs.iter_rows(named=True) if r["recording_id"] not in done]
        result: dict[str, Any] = {
            "fs": fs,
            "method": method,
            "added": [],
            "skipped": sorted(done & set(recs["recording_id"].to_list())),
            "snapshot": lake.snapshot(),
        }
        pending = iter(todo)
        show = progress and sys.stderr.isatty()
        with progress_bar(show, total=len(todo), desc=f"harmonize {fs:g} Hz") as bar:
            while True:  # one batch per turn, until the recordings run out
                rows: list[dict[str, Any]] = []
                size = 0
                with writer.signals() as signals:
                    for r in pending:
                        bar.update(1)
                        rows.append(_store(lake, r, fs, method, stream, signals))
                        size += rows[-1]["n_samples"] * int(r["n_channels"]) * 4
                        if size >= batch_bytes:
                            break
                if not rows:
                    break
                writer.append("harmonized", pa.Table.from_pylist(rows, HARMONIZED))
                result["snapshot"] = writer.publish()
                result["added"].extend(r["recording_id"] for r in rows)
    return result
