"""Chunk codec: a stream of samples <-> rows of the ``signals`` table.

A stream (the raw samples of one recording, or one harmonized copy) is stored as chunks
of at most ``CHUNK_BYTES`` [bytes]: each row holds ``n_samples`` consecutive samples of
all ``n_channels`` columns as C-order little-endian bytes of ``dtype``, with its
``chunk_index`` and ``start_sample``. Ingest writes raw streams with
:func:`chunk_batches` (one whole array), harmonize writes derived streams with
:func:`stream_batches` (blocks of any length); both give the same rows for the same
samples; many small recordings of one chunk each go out together as one record batch
(:func:`whole_streams_batch`, the same rows again). :func:`chunk_samples` decodes one
stored chunk back (what :meth:`emgcorpus.lake.Lake.iter_samples` does for each).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from emgcorpus.schema import CHUNK_BYTES, SIGNAL_ROW_GROUP_ROWS, SIGNALS

#: Chunks per Arrow record batch handed to the Delta writer (<= 64 MiB).
CHUNKS_PER_ARROW_BATCH = 16


def little_endian(samples: np.ndarray) -> np.ndarray:
    """C-contiguous little-endian copy (or view) of ``samples``, values unchanged."""
    dt = samples.dtype
    if dt.byteorder == ">" or (dt.byteorder == "=" and sys.byteorder == "big"):
        dt = dt.newbyteorder("<")
    return np.ascontiguousarray(samples, dtype=dt)


def rows_per_chunk(n_channels: int, dtype: np.dtype[Any]) -> int:
    """Samples per stored chunk of ``n_channels`` columns of ``dtype`` (<= CHUNK_BYTES)."""
    return max(1, CHUNK_BYTES // max(1, n_channels * dtype.itemsize))


def chunk_batches(
    rid: str,
    seq: int,
    dataset: str,
    stream: str,
    samples: np.ndarray,
    first_chunk: int = 0,
) -> Iterator[pa.RecordBatch]:
    """Signal rows of one stream of one recording: chunks of <= CHUNK_BYTES, C-order.

    ``samples`` (n_samples, n_channels) start at chunk ``first_chunk`` (a part of a
    longer stream, see :func:`stream_batches`).

    The ``data`` column is a zero-copy view of ``samples`` (C-contiguous, little-endian),
    except in a last batch of fewer than ``SIGNAL_ROW_GROUP_ROWS`` rows of a recording of
    several batches: that one is copied, so that a writer holding it back does not keep
    the whole recording alive.
    """
    samples = little_endian(samples)
    n, n_ch = samples.shape
    row_bytes = max(1, n_ch * samples.dtype.itemsize)
    per_chunk = rows_per_chunk(n_ch, samples.dtype)
    n_chunks = -(-n // per_chunk)
    flat = samples.reshape(-1).view(np.uint8)
    # (pa.repeat of a string scalar and pa.array of numpy ints: tens of us cheaper per
    # batch than Python lists, which matters for many small recordings)
    rid_s, dtype_s = (pa.scalar(v, pa.string()) for v in (rid, samples.dtype.str))
    for first in range(0, n_chunks, CHUNKS_PER_ARROW_BATCH):
        idx = np.arange(first, min(first + CHUNKS_PER_ARROW_BATCH, n_chunks), dtype=np.int64)
        starts = idx * per_chunk
        counts = np.minimum(starts + per_chunk, n) - starts
        k = len(idx)
        lo, hi = int(starts[0]) * row_bytes, int(starts[-1] + counts[-1]) * row_bytes
        offsets = np.zeros(k + 1, np.int32)
        np.cumsum(counts * row_bytes, out=offsets[1:])
        payload = flat[lo:hi]
        if k < SIGNAL_ROW_GROUP_ROWS and hi - lo < flat.nbytes:
            payload = payload.copy()
        yield _signal_batch(
            pa.repeat(rid_s, k),
            np.full(k, seq, np.int64),
            dataset,
            stream,
            idx + first_chunk,
            starts + first_chunk * per_chunk,
            counts,
            np.full(k, n_ch, np.int64),
            pa.repeat(dtype_s, k),
            offsets,
            payload,
        )


def one_chunk(samples: np.ndarray) -> bool:
    """True when ``samples`` (n_samples, n_channels), not empty, fill one stored chunk
    (at most ``rows_per_chunk`` samples): a stream :func:`whole_streams_batch` takes."""
    n, n_ch = samples.shape
    return n_ch > 0 and 0 < n <= rows_per_chunk(n_ch, samples.dtype)


def whole_streams_batch(
    streams: Sequence[tuple[str, int, np.ndarray]], dataset: str, stream: str
) -> pa.RecordBatch:
    """Signal rows of several whole one-chunk streams (``(rid, seq, samples)`` each, see
    :func:`one_chunk`) of one dataset, as one record batch: the rows :func:`chunk_batches`
    gives for each, in the order given, with their payloads copied into one buffer (so
    that many small recordings cost one batch, not one each)."""
    arrays = [little_endian(x) for _, _, x in streams]
    if not all(one_chunk(x) for x in arrays):
        raise ValueError("whole_streams_batch takes non-empty streams of one chunk each")
    k = len(arrays)
    counts = np.array([x.shape[0] for x in arrays], np.int64)
    offsets = np.zeros(k + 1, np.int32)
    np.cumsum([x.nbytes for x in arrays], out=offsets[1:])
    payload = np.concatenate([x.reshape(-1).view(np.uint8) for x in arrays]) if k else b""
    zeros = np.zeros(k, np.int64)
    return _signal_batch(
        pa.array([rid for rid, _, _ in streams], pa.string()),
        np.array([seq for _, seq, _ in streams], np.int64),
        dataset,
        stream,
        zeros,
        zeros,
        counts,
        np.array([x.shape[1] for x in arrays], np.int64),
        pa.array([x.dtype.str for x in arrays], pa.string()),
        offsets,
        payload,
    )


def _signal_batch(
    rid: pa.Array,
    seq: np.ndarray,
    dataset: str,
    stream: str,
    chunk_index: np.ndarray,
    start_sample: np.ndarray,
    n_samples: np.ndarray,
    n_channels: np.ndarray,
    dtype: pa.Array,
    offsets: np.ndarray,
    payload: Any,
) -> pa.RecordBatch:
    """One ``signals`` record batch from its columns; ``data`` is the binary column of
    ``payload`` (bytes-like, not copied) cut at ``offsets`` (int32, one more than rows)."""
    k = len(seq)
    data = pa.Array.from_buffers(
        pa.binary(), k, [None, pa.py_buffer(offsets), pa.py_buffer(payload)]
    )
    return pa.RecordBatch.from_arrays(
        [
            rid,
            pa.array(seq),
            pa.repeat(pa.scalar(dataset, pa.string()), k),
            pa.repeat(pa.scalar(stream, pa.string()), k),
            pa.array(chunk_index),
            pa.array(start_sample),
            pa.array(n_samples),
            pa.array(n_channels),
            dtype,
            data,
        ],
        schema=SIGNALS,
    )


def stream_batches(
    rid: str,
    seq: int,
    dataset: str,
    stream: str,
    blocks: Iterator[np.ndarray],
    n_channels: int,
    dtype: str = "<f4",
    chunks_per_group: int = 4,
) -> Iterator[pa.RecordBatch]:
    """Signal rows of a stream given as consecutive blocks (n, ``n_channels``) of any
    length: the same chunks as :func:`chunk_batches` over the concatenation, built
    ``chunks_per_group`` chunks at a time (memory: one group, e.g. 16 MiB)."""
    dt = np.dtype(dtype)
    group_rows = rows_per_chunk(n_channels, dt) * chunks_per_group
    buf, fill, chunk = np.empty((group_rows, n_channels), dt), 0, 0
    for block in blocks:
        pos = 0
        while pos < block.shape[0]:
            take = min(group_rows - fill, block.shape[0] - pos)
            buf[fill : fill + take] = block[pos : pos + take]
            fill, pos = fill + take, pos + take
            if fill == group_rows:  # a fresh buffer each time: the writer may hold views
                yield from chunk_batches(rid, seq, dataset, stream, buf, chunk)
                buf, fill, chunk = np.empty_like(buf), 0, chunk + chunks_per_group
    if fill:
        yield from chunk_batches(rid, seq, dataset, stream, buf[:fill], chunk)


def chunk_samples(data: pa.Buffer, dtype: str, n_samples: int, n_channels: int) -> np.ndarray:
    """The samples of one stored chunk: a zero-copy (``n_samples``, ``n_channels``) view
    of its ``data`` bytes as ``dtype`` (read-only)."""
    return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(n_samples, n_channels)
