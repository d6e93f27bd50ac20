"""The Dask tasks of the vocabulary build: map a partition, then its per-pass partials.

Before the map, :func:`whole_session_floors` pools the noise floors of every session the
partitions cut in several pieces over all of its recordings (one :func:`partition_levels`
task per partition holding such a session), so tokens do not depend on the partition size;
the map tasks and vocab.tokenize receive those floors.
The map task (:func:`map_partition`) segments a partition's recordings and keeps the
descriptors of the active segments; :func:`spill_partition` does the same and writes them
to a scratch file (vocab.spill). Every later pass has one task per partition that returns a
small partial the client reduces in partition order: moments, a bottom-hash sample
(reduced on the workers by :func:`tree_merge_samples`), a Lloyd step's sums, and the code
usage. ``partition_*`` take an in-memory MappedPartition, ``spilled_*`` a SpilledPartition
streamed in bounded blocks; both give the same bits. :class:`PassTasks` names the set that
applies to one descriptor mode (vocab.compiler).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from dask import delayed

from vocab.codebook import (
    DescriptorSample,
    LloydPartial,
    MomentStats,
    lloyd_partial_blocks,
    merge_samples,
    nearest_centroid,
    segment_hashes,
    standardize,
    usable_rows,
)
from vocab.lake_partitions import (
    RecordingRef,
    SessionFloors,
    SessionLevels,
    open_lake,
    segment_partition,
    session_groups,
    session_runs,
    split_sessions,
)
from vocab.runner import DaskRunner
from vocab.segment_cache import CachedRecordings, CachedSegments, write_part
from vocab.spill import read_blocks, save_rows
from vocab.stats import UsagePartial
from vocab.tokenizer_base import KIND_ACTIVE, Segments, Tokenizer


def partition_levels(
    lake_path: str,
    snapshot: dict[str, int],
    refs: list[RecordingRef],
    native_fs: list[float],
    tokenizer: Tokenizer,
    fs: float | None,
    sessions: set[str],
) -> SessionLevels:
    """The floor task: what the partition's recordings of ``sessions`` contribute to
    those sessions' noise floors (Tokenizer.session_levels), by session key."""
    lake = open_lake(lake_path, snapshot)
    out: SessionLevels = {}
    runs = [members for members in session_runs(refs) if refs[members[0]].session in sessions]
    for group in session_groups(lake, refs, native_fs, fs, runs):
        key = refs[group.members[0]].session
        levels = tokenizer.session_levels(len(group.todo), group.load)
        if levels is None:
            continue
        mine = out.setdefault(key, {})
        for name, arrays in levels.items():
            mine.setdefault(name, []).extend(arrays)
    return out


def whole_session_floors(
    run: DaskRunner,
    lake_path: str,
    snapshot: dict[str, int],
    parts: list[list[RecordingRef]],
    nfs: list[list[float]],
    tokenizer: Tokenizer,
    fs: float | None,
) -> SessionFloors:
    """Noise floors pooled over every recording of each session that the partitions cut
    in several pieces (a map over the partitions holding such sessions, merged per session
    in partition order, pooled once by Tokenizer.pool_floors), so a session's floors do not
    depend on the partition size. Empty when no session is cut or the tokenizer has no
    floor (its session_levels returns None)."""
    split = split_sessions(parts)
    if not split or tokenizer.session_levels(0, _no_recording) is None:
        return {}
    task = delayed(partition_levels, pure=True)
    which = [p for p, refs in enumerate(parts) if any(r.session in split for r in refs)]
    done = run.compute(
        [task(lake_path, snapshot, parts[p], nfs[p], tokenizer, fs, split) for p in which],
        "session floors",
    )
    merged: SessionLevels = {}
    for levels in done:
        for key, by_name in levels.items():
            mine = merged.setdefault(key, {})
            for name, arrays in by_name.items():
                mine.setdefault(name, []).extend(arrays)
    return {key: tokenizer.pool_floors(merged[key]) for key in sorted(merged)}


def _no_recording(i: int) -> Any:
    raise AssertionError("session_levels(0, ...) loads no recording")


@dataclass
class MappedPartition:
    """Active-segment descriptors of one partition, and per-recording bookkeeping."""

    dim: int
    descriptors: np.ndarray  # float32 (n, dim), usable rows only (NaN = absent entry)
    recording_index: np.ndarray  # int32 (n,), index into ``recordings``
    hashes: np.ndarray  # uint64 (n,)
    recordings: list[RecordingRef] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # recording duration [s]
    rest_tokens: list[int] = field(default_factory=list)
    unknown_tokens: list[int] = field(default_factory=list)  # active, unusable descriptor
    #: the segment cache's manifest entry of this partition (vocab.segment_cache), if written
    cache_entry: dict[str, Any] | None = None


def map_partition(
    lake_path: str,
    snapshot: dict[str, int],
    refs: list[RecordingRef],
    native_fs: list[float],
    tokenizer: Tokenizer,
    fs: float | None,
    seed: int,
    floors: SessionFloors | None = None,
    cache_path: str | None = None,
    cached: CachedRecordings | None = None,
) -> MappedPartition:
    """The map task: tokenize the partition's recordings, keep active descriptors
    (``floors``: whole-session floors of the sessions cut over several partitions); with
    ``cache_path``, also write all of the partition's segments there
    (vocab.segment_cache.write_part); ``cached``: the recordings an earlier build's
    segment cache holds (whole sessions), read instead of segmented."""
    lake = open_lake(lake_path, snapshot)
    source = CachedSegments(cached) if cached else None
    written: list[tuple[Segments, float]] = []
    dim = tokenizer.descriptor_dim
    descs: list[np.ndarray] = []
    rec_idx: list[np.ndarray] = []
    hashes: list[np.ndarray] = []
    out = MappedPartition(
        dim, np.zeros((0, dim), np.float32), np.zeros(0, np.int32), np.zeros(0, np.uint64)
    )
    items = segment_partition(lake, refs, native_fs, tokenizer, fs, floors, source)
    for i, seg, seconds, _, _ in items:
        ref = refs[i]
        active = np.flatnonzero(seg.kind == KIND_ACTIVE)
        d = np.asarray(seg.descriptor, dtype=np.float32).reshape(-1, dim)[active]
        finite = usable_rows(d)
        descs.append(d[finite])
        rec_idx.append(np.full(int(finite.sum()), i, np.int32))
        hashes.append(segment_hashes(ref.recording_id, active[finite], seed))
        out.recordings.append(ref)
        out.seconds.append(float(seconds))
        out.rest_tokens.append(int(len(seg) - active.shape[0]))
        out.unknown_tokens.append(int((~finite).sum()))
        if cache_path is not None:
            written.append((seg, float(seconds)))
    if cache_path is not None:
        out.cache_entry = write_part(cache_path, refs, written, dim)
    if descs:
        out.descriptors = np.concatenate(descs)
        out.recording_index = np.concatenate(rec_idx)
        out.hashes = np.concatenate(hashes)
    return out


# --------------------------------------------------------------------------- reduce tasks
def partition_moments(part: MappedPartition) -> MomentStats:
    """Moments of the partition's raw descriptors."""
    return MomentStats.of(part.descriptors)


def partition_sample(
    part: MappedPartition, threshold: int | None, sample_size: int
) -> DescriptorSample:
    """The partition's bottom-hash sample of its rows hashed below ``threshold``."""
    return DescriptorSample.below(part.hashes, part.descriptors, threshold, sample_size)


def partition_lloyd(
    part: MappedPartition, mean: np.ndarray, std: np.ndarray, centroids: np.ndarray
) -> LloydPartial:
    """One Lloyd step's partial on the partition's standardised descriptors."""
    return LloydPartial.of(standardize(part.descriptors, mean, std), centroids)


def partition_usage(
    part: MappedPartition, mean: np.ndarray, std: np.ndarray, codebook: np.ndarray
) -> UsagePartial:
    """Code counts per device and token counts per dataset with the final codebook."""
    codes, _ = nearest_centroid(standardize(part.descriptors, mean, std), codebook)
    return _usage(part, codes, part.recording_index, int(codebook.shape[0]))


def _usage(
    part: MappedPartition | SpilledPartition,
    codes: np.ndarray,
    recording_index: np.ndarray,
    k: int,
) -> UsagePartial:
    usage = UsagePartial(k)
    for i, ref in enumerate(part.recordings):
        mine = codes[recording_index == i]
        usage.add_codes(ref.device, mine)
        usage.add_recording(
            ref.dataset,
            part.seconds[i],
            int(mine.shape[0]),
            part.rest_tokens[i],
            part.unknown_tokens[i],
        )
    return usage


#: Samples merged per reduce task (tree_merge_samples).
SAMPLE_MERGE_FAN_IN = 4


@dataclass(frozen=True)
class PassTasks:
    """The per-partition tasks of the passes after the map, for one descriptor mode."""

    sample: Any
    lloyd: Any
    usage: Any


def tree_merge_samples(samples: list[Any], capacity: int, dim: int) -> Any:
    """A delayed tree reduction of partition samples (delayed DescriptorSamples, partition
    order) to the ``capacity`` smallest hashes: the same bits as merge_samples over all of
    them (ties keep partition order), but no task ever holds more than
    SAMPLE_MERGE_FAN_IN x ``capacity`` rows and the client receives one sample."""
    level = list(samples)
    if not level:
        return delayed(DescriptorSample.empty)(dim)
    while len(level) > 1:
        level = [
            delayed(merge_samples)(level[i : i + SAMPLE_MERGE_FAN_IN], capacity, dim)
            for i in range(0, len(level), SAMPLE_MERGE_FAN_IN)
        ]
    return delayed(merge_samples)(level, capacity, dim)


# --------------------------------------------------------------------------- spilled tasks
@dataclass
class SpilledPartition:
    """A partition whose descriptors are in a scratch file: what later passes need.

    Small (per-recording bookkeeping only), so it travels through the client; the rows of
    recording ``i`` are the ``recording_rows[i]`` rows after those of recordings ``< i``.
    """

    path: str  # .npy float32 (rows, dim)
    hash_path: str  # .npy uint64 (rows,): segment_hashes of the rows
    rows: int
    dim: int
    recording_rows: list[int]
    recordings: list[RecordingRef]
    seconds: list[float]  # recording duration [s]
    rest_tokens: list[int]
    unknown_tokens: list[int]
    cache_entry: dict[str, Any] | None = None  # see MappedPartition

    def recording_index(self) -> np.ndarray:
        """int32 (rows,): the recording of every row (index into ``recordings``)."""
        counts = np.asarray(self.recording_rows, dtype=np.int64)
        return np.repeat(np.arange(len(counts), dtype=np.int32), counts)

    def blocks(self) -> Iterator[np.ndarray]:
        """The raw descriptors in bounded blocks (vocab.spill.SPILL_BLOCK_ROWS rows)."""
        return read_blocks(self.path, self.rows)

    def hash_blocks(self) -> Iterator[np.ndarray]:
        """The rows' hashes in the same blocks."""
        return read_blocks(self.hash_path, self.rows)


def spill_partition(
    lake_path: str,
    snapshot: dict[str, int],
    refs: list[RecordingRef],
    native_fs: list[float],
    tokenizer: Tokenizer,
    fs: float | None,
    seed: int,
    path: str,
    floors: SessionFloors | None = None,
    cache_path: str | None = None,
    cached: CachedRecordings | None = None,
) -> tuple[SpilledPartition, MomentStats]:
    """The map task with spilling: tokenize, write the descriptors to ``path`` (and their
    hashes beside it; the segments to ``cache_path`` when given; ``cached`` as for
    map_partition), return the bookkeeping and the partition's moments."""
    part = map_partition(
        lake_path, snapshot, refs, native_fs, tokenizer, fs, seed, floors, cache_path, cached
    )
    hash_path = path.removesuffix(".npy") + ".hash.npy"
    save_rows(path, part.descriptors)
    save_rows(hash_path, part.hashes)
    counts = np.bincount(part.recording_index, minlength=len(part.recordings))
    spilled = SpilledPartition(
        path,
        hash_path,
        int(part.descriptors.shape[0]),
        part.dim,
        [int(c) for c in counts],
        part.recordings,
        part.seconds,
        part.rest_tokens,
        part.unknown_tokens,
        part.cache_entry,
    )
    return spilled, partition_moments(part)


def spilled_sample(
    part: SpilledPartition, threshold: int | None, sample_size: int
) -> DescriptorSample:
    """partition_sample on a spilled partition, streamed in blocks (the same bits)."""
    hashes: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    for h, x in zip(part.hash_blocks(), part.blocks()):
        keep = np.ones(h.shape[0], bool) if threshold is None else h < np.uint64(threshold)
        hashes.append(h[keep])
        rows.append(x[keep])
    if not hashes:
        return DescriptorSample.empty(part.dim)
    return DescriptorSample.bottom(np.concatenate(hashes), np.concatenate(rows), sample_size)


def spilled_lloyd(
    part: SpilledPartition, mean: np.ndarray, std: np.ndarray, centroids: np.ndarray
) -> LloydPartial:
    """partition_lloyd on a spilled partition, streamed in blocks (the same bits)."""
    return lloyd_partial_blocks(part.blocks(), part.rows, mean, std, centroids)


def spilled_usage(
    part: SpilledPartition, mean: np.ndarray, std: np.ndarray, codebook: np.ndarray
) -> UsagePartial:
    """partition_usage on a spilled partition, streamed in blocks."""
    codes = np.zeros(part.rows, np.int64)
    start = 0
    for block in part.blocks():
        codes[start : start + block.shape[0]], _ = nearest_centroid(
            standardize(block, mean, std), codebook
        )
        start += block.shape[0]
    return _usage(part, codes, part.recording_index(), int(codebook.shape[0]))
