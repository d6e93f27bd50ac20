"""Writing token shards: sentence rows, Parquet tables and files (the format's one writer).

A tokenizer job (vocab.tokenize_lake) turns recordings into token arrays and hands them
here: :func:`sentence_rows` cuts one recording's tokens into the rows of SHARD_SCHEMA,
:func:`write_partition_shards` writes a partition's rows into ``part-PPPPP-SSS.parquet``
files and returns their index entries (emgcorpus.shards.index writes the index).

Writing is deterministic and idempotent: the Parquet options are fixed, so equal rows give
equal bytes, and :func:`write_if_changed` leaves a file whose bytes already exist
unchanged alone (compare and skip) and replaces a changed one atomically.
Before a shard file is added or changed, the folder's ``index.json`` is removed (rewritten
when the job ends), so a crashed tokenization never leaves an index that describes other
files than the folder holds.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from emgcorpus.checksums import file_sha256
from emgcorpus.shards.schema import DESC_COLUMN, SHARD_SCHEMA

#: Sentences per shard file unless the caller says otherwise.
DEFAULT_MAX_ROWS = 4096
#: Parquet writer options fixed here so equal tables give equal bytes.
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "use_dictionary": True}


def shard_file_name(partition: int, part: int) -> str:
    """``part-PPPPP-SSS.parquet``: file ``part`` of map partition ``partition``."""
    return f"part-{partition:05d}-{part:03d}.parquet"


def write_if_changed(
    path: Path, write: Callable[[Path], Any], before_change: Callable[[], Any] | None = None
) -> None:
    """Write ``path`` through ``write(tmp_path)`` into a temporary file beside it; keep an
    existing file with the same bytes untouched, else call ``before_change()`` and replace
    it atomically."""
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        if path.exists() and file_sha256(path) == file_sha256(tmp):
            return
        if before_change is not None:
            before_change()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _drop_index(out_dir: str | Path) -> None:
    """Remove the folder's index before one of its shard files is added or changed: a crash
    until the new index is written leaves no index (the folder reads as unfinished), never
    one that lists other bytes than the folder holds."""
    from emgcorpus.shards.index import INDEX_FILE  # (index imports this module)

    (Path(out_dir) / INDEX_FILE).unlink(missing_ok=True)


def sentence_rows(
    recording: dict[str, Any],
    n_channels: int,
    ids: np.ndarray,
    channel: np.ndarray,
    onset_s: np.ndarray,
    duration_s: np.ndarray,
    pos: np.ndarray,
    events: list[dict[str, Any]],
    max_tokens: int,
    desc: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """One recording's tokens (sorted by onset) cut into shard rows (dicts in SHARD_SCHEMA).

    ``recording`` holds the recording columns (recording_id, dataset, device, subject,
    session, trial); ``n_channels`` is the number of tokenized channels. Per token:
    ``ids`` (n,) token ids, ``channel`` (n,) int16 channel index (-1: every channel),
    ``onset_s``/``duration_s`` (n,) float64 [s] from the recording's first sample, ``pos``
    (n, POSITION_DIM) float32 electrode position. ``events`` are the recording's events
    (onset [s], duration [s], label, repetition, kind); a sentence of at most
    ``max_tokens`` tokens carries those overlapping [its first onset, its last end).
    ``desc`` (n, D) float32: each token's standardised descriptor (NaN = absent entry or
    rest token), stored as ``token_desc``; None: the column is null (ids only).
    """
    if desc is not None and np.asarray(desc).shape[0] != ids.shape[0]:
        raise ValueError(f"desc has {np.asarray(desc).shape[0]} rows for {ids.shape[0]} tokens")
    ev_on = np.asarray([e["onset"] for e in events], np.float64)
    ev_end = ev_on + np.asarray([e["duration"] for e in events], np.float64)
    rows = []
    for s, start in enumerate(range(0, ids.shape[0], max_tokens)):
        sl = slice(start, start + max_tokens)
        t0 = float(onset_s[sl][0])
        t1 = float((onset_s[sl] + duration_s[sl]).max())
        overlapping = np.flatnonzero((ev_on < t1) & (ev_end > t0))
        rows.append(
            {
                **recording,
                "sentence_index": s,
                "t_start_s": t0,
                "t_end_s": t1,
                "n_channels": n_channels,
                "token_ids": ids[sl].astype(np.int32),
                "token_channel": channel[sl],
                "token_onset_s": onset_s[sl].astype(np.float32),
                "token_duration_s": duration_s[sl].astype(np.float32),
                "token_pos": pos[sl].reshape(-1),
                "token_desc": None
                if desc is None
                else np.asarray(desc, np.float32)[sl].reshape(-1),
                "events": [events[i] for i in overlapping],
            }
        )
    return rows


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """A table in SHARD_SCHEMA (its column order) from shard rows (a row without
    ``token_desc``, or with None, gets a null there). Built column by column: each list
    column's offsets and flat values come straight from the rows' arrays (no Python
    lists per token), the same table as converting every row's values."""
    columns = {}
    for field in SHARD_SCHEMA:
        values = [r.get(field.name) if field.name == DESC_COLUMN else r[field.name] for r in rows]
        if pa.types.is_list(field.type) and field.name != "events":
            columns[field.name] = _list_column(values, field)
        else:
            columns[field.name] = pa.array(values, type=field.type)
    return pa.table(columns, schema=SHARD_SCHEMA)


def _list_column(values: list[Any], field: pa.Field) -> pa.ListArray:
    """The list column ``field`` from one 1-d array (or sequence) of values per row, None
    for a null entry: int32 offsets over the rows' values concatenated, cast to the
    field's value type (safely: an integer out of its range raises)."""
    arrays = [None if v is None else np.asarray(v) for v in values]
    for a in arrays:
        if a is not None and a.ndim != 1:
            raise ValueError(f"{field.name}: a row holds a {a.ndim}-d array, expected 1-d")
    offsets = np.zeros(len(arrays) + 1, np.int64)
    np.cumsum([0 if a is None else a.shape[0] for a in arrays], out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        raise ValueError(f"{field.name}: {offsets[-1]} values do not fit one list column")
    present = [a for a in arrays if a is not None and a.shape[0]]  # empties: no dtype to add
    value_type = field.type.value_type
    flat = np.concatenate(present) if present else np.empty(0, value_type.to_pandas_dtype())
    nulls = [a is None for a in arrays]
    return pa.ListArray.from_arrays(
        pa.array(offsets.astype(np.int32)),
        pa.array(flat, type=value_type),
        type=field.type,
        mask=pa.array(nulls) if any(nulls) else None,
    )


def write_partition_shards(
    rows: list[dict[str, Any]], out_dir: str | Path, partition: int, max_rows: int
) -> list[dict[str, Any]]:
    """Write map partition ``partition``'s rows (in order) into shard files of at most
    ``max_rows`` rows in ``out_dir``; return their index entries (file, rows, tokens,
    recordings, sha256)."""
    entries = []
    for j, start in enumerate(range(0, len(rows), max_rows)):
        chunk = rows[start : start + max_rows]
        table = rows_to_table(chunk)
        name = shard_file_name(partition, j)
        path = Path(out_dir) / name
        write_if_changed(
            path, partial(pq.write_table, table, **PARQUET_OPTIONS), partial(_drop_index, out_dir)
        )
        entries.append(
            {
                "file": name,
                "rows": len(chunk),
                "tokens": int(sum(len(r["token_ids"]) for r in chunk)),
                "recordings": len({r["recording_id"] for r in chunk}),
                "sha256": file_sha256(path),
            }
        )
    return entries
