"""Chunk codec: a stream of samples <-> rows of the ``signals`` table.

A stream (the raw samples of one recording, or one harmonized copy) is stored as chunks
of at most ``CHUNK_BYTES`` [bytes]: each row holds ``n_samples`` consecutive samples of
all ``n_channels`` columns as C-order little-endian bytes of ``dtype``, with its
``chunk_index`` and ``start_sample``. Ingest writes raw streams with
:func:`chunk_batches` (one whole array), harmonize writes derived streams with
:func:`stream_batches` (blocks of any length); both give the same rows for the same
samples. :func:`chunk_samples` decodes one stored chunk back (what
:meth:`emgcorpus.lake.Lake.iter_samples` does for each).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
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
    rid_s, dataset_s, stream_s, dtype_s = (
        pa.scalar(v, pa.string()) for v in (rid, dataset, stream, samples.dtype.str)
    )
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
        data = pa.Array.from_buffers(
            pa.binary(), k, [None, pa.py_buffer(offsets), pa.py_buffer(payload)]
        )
        yield pa.RecordBatch.from_arrays(
            [
                pa.repeat(rid_s, k),
                pa.array(np.full(k, seq, np.int64)),
                pa.repeat(dataset_s, k),
                pa.repeat(stream_s, k),
                pa.array(idx + first_chunk),
                pa.array(starts + first_chunk * per_chunk),
                pa.array(counts),
                pa.array(np.full(k, n_ch, np.int64)),
                pa.repeat(dtype_s, k),
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
