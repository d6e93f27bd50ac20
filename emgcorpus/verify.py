"""Verify a lake's tables: every table agrees with the others and the stored samples are intact.

Checks, at the published snapshot, one recording at a time (memory: one recording):

- recording ids are unique; channels/events/signals/harmonized rows refer to known ids;
- each recording has ``n_channels`` channel rows, indexed 0..n-1, and a subjects row;
- raw chunks are contiguous, their sample counts add up to ``n_samples``, their
  ``n_channels``/``dtype``/byte sizes match, and the sha256 of the concatenated payload
  equals ``samples_sha256`` (a changed byte anywhere is found);
- every ``harmonized`` row has a stream whose chunks add up to its ``n_samples``, and
  every harmonized stream has its row.

Token shards stored under the lake are not lake tables: they are checked by
:func:`emgcorpus.shards.verify.verify_lake_shards` (``emgcorpus verify`` runs both).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from emgcorpus.lake import Lake
from emgcorpus.progress import progress_bar
from emgcorpus.schema import RAW_STREAM


def _check_chunks(
    chunks: pa.Table, rid: str, stream: str, n_samples: int, n_channels: int, dtype: str | None
) -> tuple[list[str], str]:
    """Problems of one stream's chunks, and the sha256 of its payload."""
    problems: list[str] = []
    h = hashlib.sha256()
    pos = 0
    for c in chunks.to_pylist():
        where = f"recording {rid} stream {stream} chunk {c['chunk_index']}"
        if c["start_sample"] != pos:
            problems.append(f"{where}: starts at sample {c['start_sample']}, expected {pos}")
        if c["n_channels"] != n_channels:
            problems.append(f"{where}: {c['n_channels']} channels, recording has {n_channels}")
        if dtype is not None and c["dtype"] != dtype:
            problems.append(f"{where}: dtype {c['dtype']}, recording has {dtype}")
        expected_bytes = c["n_samples"] * c["n_channels"] * np.dtype(c["dtype"]).itemsize
        if len(c["data"]) != expected_bytes:
            problems.append(f"{where}: {len(c['data'])} bytes, expected {expected_bytes}")
        h.update(c["data"])
        pos += c["n_samples"]
    if pos != n_samples:
        problems.append(
            f"recording {rid} stream {stream}: chunks hold {pos} samples, expected {n_samples}"
        )
    return problems, h.hexdigest()


def verify_lake(lake_path: str | Path, progress: bool = False) -> list[str]:
    """Problems found in the tables and stored samples of the lake at ``lake_path``, at its
    published snapshot (empty list = consistent), one line each naming what is wrong.

    ``progress`` shows a bar over the recordings on stderr (only when stderr is a
    terminal)."""
    lake = Lake.open(lake_path)
    problems: list[str] = []
    recs = lake.recordings()
    ids = recs["recording_id"].to_list()
    known = set(ids)
    if len(known) != len(ids):
        dup = recs.filter(pl.col("recording_id").is_duplicated())["recording_id"].unique()
        problems.append(f"recordings: duplicate recording ids {sorted(dup.to_list())}")
    for table, frame in (
        ("channels", lake.channels()),
        ("events", lake.events()),
        ("harmonized", lake.harmonized()),
    ):
        orphans = set(frame["recording_id"].to_list()) - known
        if orphans:
            problems.append(f"{table}: rows for unknown recordings {sorted(orphans)[:5]}")
    subjects = set(lake.subjects().select("dataset", "subject").iter_rows())
    grouped = (
        lake.channels()
        .group_by("recording_id")
        .agg(pl.len().alias("n"), pl.col("channel_index").max().alias("last"))
    )
    channel_counts = {r["recording_id"]: r for r in grouped.iter_rows(named=True)}
    harmonized = lake.harmonized()
    show = progress and sys.stderr.isatty()
    bar = progress_bar(
        show, recs.iter_rows(named=True), total=recs.height, desc="verify", unit="rec"
    )
    for r in bar:
        rid, n_ch = r["recording_id"], int(r["n_channels"])
        counts = channel_counts.get(rid, {"n": 0, "last": None})
        if counts["n"] != n_ch or counts["last"] != n_ch - 1:
            problems.append(f"recording {rid}: {counts['n']} channel rows, n_channels is {n_ch}")
        if (r["dataset"], r["subject"]) not in subjects:
            problems.append(f"recording {rid}: no subjects row for {r['dataset']}/{r['subject']}")
        try:
            problems.extend(_check_recording(lake, r, harmonized))
        except (OSError, pa.ArrowException) as exc:
            problems.append(f"recording {rid}: stored samples unreadable ({exc})")
    try:
        streams = _streams(lake)
    except (OSError, pa.ArrowException) as exc:
        problems.append(f"signals: table unreadable ({exc})")
        return problems
    orphans = {rid for rid, _ in streams} - known
    if orphans:
        problems.append(f"signals: samples of unknown recordings {sorted(orphans)[:5]}")
    rows = set(harmonized.select("recording_id", "stream").iter_rows())
    derived = {(rid, s) for rid, s in streams if s != RAW_STREAM and rid in known}
    for rid, stream in sorted(derived - rows):
        problems.append(f"signals: stream {stream} of recording {rid} has no harmonized row")
    return problems


def _check_recording(lake: Lake, r: dict[str, Any], harmonized: pl.DataFrame) -> list[str]:
    """Problems of one recording's raw and harmonized streams."""
    rid, n_ch = r["recording_id"], int(r["n_channels"])
    raw = lake.read_chunks(rid, RAW_STREAM)
    problems, sha = _check_chunks(
        raw, rid, RAW_STREAM, int(r["n_samples"]), n_ch, r["sample_dtype"]
    )
    if sha != r["samples_sha256"]:
        problems.append(
            f"recording {rid}: raw samples sha256 {sha} differs from the recorded "
            f"{r['samples_sha256']} (stored payload changed)"
        )
    for h in harmonized.filter(pl.col("recording_id") == rid).iter_rows(named=True):
        chunks = lake.read_chunks(rid, h["stream"])
        found, _ = _check_chunks(chunks, rid, h["stream"], int(h["n_samples"]), n_ch, "<f4")
        problems.extend(found)
    return problems


def _streams(lake: Lake) -> set[tuple[str, str]]:
    """(recording_id, stream) pairs present in ``signals`` (reads two small columns only)."""
    table = lake.table("signals").to_pyarrow_dataset().to_table(columns=["recording_id", "stream"])
    frame = pl.DataFrame(pl.from_arrow(table)).unique()
    return set(frame.iter_rows())
