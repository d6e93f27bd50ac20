"""The vocabulary compiler: a Dask map-reduce from a lake snapshot to a codebook artifact.

Stages (every task opens the lake *at the snapshot taken once at the start*):

1. **map**: the recordings (sorted ids) are cut into partitions of whole sessions, at most
   ``partition_size`` recordings and ``partition_samples`` channel-samples each
   (:func:`session_partitions`), so a task's signal and descriptors are bounded. A task
   reads its recordings (EMG channels with status ``good``, at ``fs`` or the native rate), runs
   ``tokenizer.segment_session`` per session (the NCT pools one noise floor per channel
   over the session, e.g. from its rest recording) and keeps the descriptors of the
   active segments (float32) plus per-recording bookkeeping. What later passes read
   depends on ``descriptors``:

   - ``"spill"`` (default): the task writes the partition's descriptors to a file in a
     scratch folder the workers share (vocab.spill) and returns only bookkeeping; every
     later pass memory-maps the file and streams it in bounded blocks. The tokenizer runs
     once and a worker's memory does not grow with the corpus.
   - ``"memory"``: the mapped partitions are persisted in worker memory (fast, but the
     workers together hold every descriptor: memory grows with the corpus).
   - ``"recompute"``: every pass re-reads and re-tokenizes its partition (no scratch
     space, bounded memory, several times slower).
2. **statistics**: each partition returns its moments (count, mean, M2) (with
   ``"spill"``, from the map task itself); the client merges them in partition order ->
   standardisation. The initialisation sample is the ``sample_size`` descriptors of the
   corpus with the smallest hashes of (recording id, segment index): each partition keeps
   only its rows hashed below a threshold set from the row count (about its share of the
   sample; :func:`codebook.sample_threshold`), a tree of merge tasks on the workers
   reduces them, and the client receives one bounded sample (retried with a higher
   threshold in the rare case too few rows fell below, so it is always exact).
3. **k-means**: k-means++ on the standardised sample (client, seeded); then each Lloyd
   iteration maps partitions to per-centroid sums/counts/inertia and reduces them in
   partition order. Dead codes are re-seeded from the sample; the loop stops when the
   relative inertia decrease drops below ``tol`` (or after ``iterations``).
4. **usage**: one more pass counts codes per device and tokens per dataset.

The same snapshot and parameters give a byte-identical vocabulary whatever the scheduler
or worker count: fixed partitions, float64 partials reduced in partition order, seeded
randomness, hash-based sampling. Scheduler, worker count and ``descriptors`` are not part
of the artifact: they give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from dask import delayed
from tqdm.auto import tqdm

from emgcorpus.errors import ConfigError, LakeError
from vocab.artifact import FORMAT, Vocabulary, default_store
from vocab.codebook import (
    DescriptorSample,
    LloydPartial,
    MomentStats,
    converged,
    kmeans_plus_plus,
    lloyd_partial_blocks,
    merge_moments,
    merge_partials,
    merge_samples,
    nearest_centroid,
    sample_threshold,
    segment_hashes,
    standardize,
    update_centroids,
    usable_rows,
)
from vocab.runner import DaskRunner, progress_enabled
from vocab.spill import ScratchDir, read_blocks, save_rows
from vocab.stats import UsagePartial, merge_usage, summarize_usage
from vocab.tokenizer_base import KIND_ACTIVE, Segments, Tokenizer

#: Recordings per map partition (part of the artifact's parameters: it fixes sum order).
DEFAULT_PARTITION_SIZE = 16
#: Channel-samples (EMG channels x samples at the rate read) per map partition: 2**26, e.g.
#: 16 channels x 35 min at 2 kHz, 256 MiB as float32 signal, ~10 MiB of descriptors on
#: the simulated corpus. None: recording count only. Recorded in the artifact's parameters
#: when it makes the partitions differ from recording-count ones (VocabularyBuilder.params).
DEFAULT_PARTITION_SAMPLES = 2**26
#: Channel types that are tokenized.
TOKENIZED_CHANNEL_TYPES = ("EMG",)
#: Where later passes get a partition's descriptors (see the module docstring).
DESCRIPTOR_MODES = ("spill", "memory", "recompute")


@dataclass(frozen=True)
class RecordingRef:
    """What a task needs to know about one recording besides its samples.

    ``session`` identifies the recording's session (dataset, subject, session, device);
    recordings of one session share their noise floors. Empty: a session of its own.
    """

    recording_id: str
    dataset: str
    device: str
    session: str = ""


def session_key(dataset: str, subject: str, session: str, device: str) -> str:
    """The key of one (dataset, subject, session, device) group of recordings."""
    return "\x1f".join((dataset, subject, session, device))


def session_partitions(
    keys: list[str],
    size: int,
    weights: list[int] | None = None,
    max_weight: int | None = None,
) -> list[list[int]]:
    """Cut recordings (in id order, ``keys`` their session keys) into partitions.

    A partition holds whole sessions, at most ``size`` recordings and, when ``max_weight``
    is given, at most ``max_weight`` in total of ``weights`` (a recording's channel-samples,
    so a partition's signal and descriptor bytes are bounded). A session over either bound
    is cut into chunks within both (each chunk then pools its own noise floor; a single
    recording heavier than ``max_weight`` is a chunk of its own). Sessions come in the order
    of their first recording, recordings within a session in id order. Returns lists of
    indices into ``keys``.
    """
    if max_weight is not None and weights is None:
        raise ConfigError("session_partitions: max_weight needs weights")
    limit = None if max_weight is None else int(max_weight)
    w = [0] * len(keys) if weights is None else [int(v) for v in weights]
    groups: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k if k else f"\x00{i}", []).append(i)
    parts: list[list[int]] = []
    current: list[int] = []
    load = 0
    for members in groups.values():
        for chunk in _chunks(members, size, w, limit):
            weight = sum(w[i] for i in chunk)
            full = len(current) + len(chunk) > size
            if current and (full or (limit is not None and load + weight > limit)):
                parts.append(current)
                current, load = [], 0
            current = current + chunk
            load += weight
    if current:
        parts.append(current)
    return parts


def _chunks(members: list[int], size: int, w: list[int], limit: int | None) -> list[list[int]]:
    """One session's recordings in consecutive chunks of <= ``size`` recordings and, when
    ``limit`` is given, <= ``limit`` weight (or a single recording)."""
    chunks: list[list[int]] = []
    chunk: list[int] = []
    load = 0
    for i in members:
        heavy = limit is not None and load + w[i] > limit
        if chunk and (len(chunk) == size or heavy):
            chunks.append(chunk)
            chunk, load = [], 0
        chunk.append(i)
        load += w[i]
    if chunk:
        chunks.append(chunk)
    return chunks


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


# --------------------------------------------------------------------------- lake access
def open_lake(lake_path: str | Path, snapshot: dict[str, int] | None = None) -> Any:
    """Open the lake (at ``snapshot`` when given)."""
    from emgcorpus.lake import Lake

    return Lake.open(lake_path, snapshot=snapshot)


def tokenized_channels(channels: list[Any]) -> list[int]:
    """Indices of the channels the tokenizer sees: EMG channels with status ``good``."""
    return [
        i
        for i, c in enumerate(channels)
        if c.type in TOKENIZED_CHANNEL_TYPES and (c.status or "good") == "good"
    ]


def segment_recording(
    lake: Any, ref: RecordingRef, tokenizer: Tokenizer, fs: float | None, native_fs: float
) -> tuple[Segments, float, list[int], list[Any]]:
    """Segment one recording's tokenized channels.

    Returns the segments (channel indices mapped back to the recording's channel list),
    the recording duration [s], the tokenized channel indices and every ChannelInfo.
    """
    channels = lake.channel_infos(ref.recording_id)
    keep = tokenized_channels(channels)
    x = lake.read_samples(ref.recording_id, fs=fs, channels=keep, physical=True)
    rate = float(fs) if fs is not None else float(native_fs)
    x = np.ascontiguousarray(x, dtype=np.float32)
    seconds = x.shape[0] / rate
    if not keep or x.shape[0] == 0:
        return Segments.empty(tokenizer.descriptor_dim), seconds, keep, channels
    seg = tokenizer.segment(x, rate, [channels[i] for i in keep])
    mapped = np.asarray(keep, dtype=np.int32)
    ch = np.asarray(seg.channel, dtype=np.int32)
    seg.channel = np.where(ch >= 0, mapped[np.clip(ch, 0, None)], -1).astype(np.int32)
    return seg, seconds, keep, channels


def segment_partition(
    lake: Any,
    refs: list[RecordingRef],
    native_fs: list[float],
    tokenizer: Tokenizer,
    fs: float | None,
) -> Iterator[tuple[int, Segments, float, list[int], list[Any]]]:
    """Segment a partition's recordings session by session (consecutive refs with the
    same ``session`` share noise floors, see Tokenizer.segment_session).

    Yields, in ``refs`` order: the index into ``refs``, the segments (channel indices of
    the recording), the duration [s], the tokenized channel indices and every ChannelInfo.
    """
    i = 0
    while i < len(refs):
        j = i + 1
        while j < len(refs) and refs[j].session and refs[j].session == refs[i].session:
            j += 1
        yield from _SessionGroup(lake, refs, native_fs, fs, list(range(i, j))).run(tokenizer)
        i = j


class _SessionGroup:
    """The recordings of one session inside a partition, loaded on demand."""

    def __init__(
        self,
        lake: Any,
        refs: list[RecordingRef],
        native_fs: list[float],
        fs: float | None,
        members: list[int],
    ) -> None:
        self.lake, self.refs, self.native_fs, self.fs = lake, refs, native_fs, fs
        self.members = members
        self.infos = {g: lake.channel_infos(refs[g].recording_id) for g in members}
        self.keeps = {g: tokenized_channels(self.infos[g]) for g in members}
        self.seconds: dict[int, float] = {}
        self.todo = [g for g in members if self.keeps[g]]

    def rate(self, g: int) -> float:
        return float(self.fs) if self.fs is not None else float(self.native_fs[g])

    def read(self, g: int) -> np.ndarray:
        rid = self.refs[g].recording_id
        x = self.lake.read_samples(rid, fs=self.fs, channels=self.keeps[g], physical=True)
        self.seconds[g] = x.shape[0] / self.rate(g)
        return np.ascontiguousarray(x, dtype=np.float32)

    def load(self, k: int) -> tuple[np.ndarray, float, list[Any]]:
        """Recording ``todo[k]`` as the tokenizer reads it."""
        g = self.todo[k]
        x = self.read(g)
        return x, self.rate(g), [self.infos[g][c] for c in self.keeps[g]]

    def run(
        self, tokenizer: Tokenizer
    ) -> Iterator[tuple[int, Segments, float, list[int], list[Any]]]:
        segs = dict(zip(self.todo, tokenizer.segment_session(len(self.todo), self.load)))
        for g in self.members:
            seg = segs.get(g)
            if seg is None:
                self.read(g)  # no tokenized channel: still count the recording's time
                seg = Segments.empty(tokenizer.descriptor_dim)
            else:
                mapped = np.asarray(self.keeps[g], dtype=np.int32)
                ch = np.asarray(seg.channel, dtype=np.int32)
                seg.channel = np.where(ch >= 0, mapped[np.clip(ch, 0, None)], -1).astype(np.int32)
            yield g, seg, self.seconds[g], self.keeps[g], self.infos[g]


def map_partition(
    lake_path: str,
    snapshot: dict[str, int],
    refs: list[RecordingRef],
    native_fs: list[float],
    tokenizer: Tokenizer,
    fs: float | None,
    seed: int,
) -> MappedPartition:
    """The map task: tokenize the partition's recordings, keep active descriptors."""
    lake = open_lake(lake_path, snapshot)
    dim = tokenizer.descriptor_dim
    descs: list[np.ndarray] = []
    rec_idx: list[np.ndarray] = []
    hashes: list[np.ndarray] = []
    out = MappedPartition(
        dim, np.zeros((0, dim), np.float32), np.zeros(0, np.int32), np.zeros(0, np.uint64)
    )
    for i, seg, seconds, _, _ in segment_partition(lake, refs, native_fs, tokenizer, fs):
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
    if descs:
        out.descriptors = np.concatenate(descs)
        out.recording_index = np.concatenate(rec_idx)
        out.hashes = np.concatenate(hashes)
    return out


def recording_weights(table: Any, fs: float | None) -> list[int]:
    """Channel-samples of every recording of a recordings table, in recording id order:
    EMG channels x samples, at ``fs`` [Hz] when given (else the native rate)."""
    table = table.sort("recording_id")
    out = []
    for n, ch, native in zip(table["n_samples"], table["n_emg_channels"], table["native_fs"]):
        samples = int(n) if fs is None else int(np.ceil(int(n) * float(fs) / float(native)))
        out.append(samples * int(ch))
    return out


def recording_refs(table: Any) -> tuple[list[RecordingRef], list[float]]:
    """RecordingRefs (with session keys) and native rates [Hz] of a recordings table, in
    recording id order."""
    table = table.sort("recording_id")
    refs = [
        RecordingRef(
            str(r["recording_id"]),
            str(r["dataset"]),
            str(r["device"]),
            session_key(str(r["dataset"]), str(r["subject"]), str(r["session"]), str(r["device"])),
        )
        for r in table.iter_rows(named=True)
    ]
    return refs, [float(f) for f in table["native_fs"]]


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
#: Slack (standard deviations, see codebook.sample_threshold) of the successive sampling
#: attempts; None keeps every row (always exact). 8 sd fails with probability ~1e-15.
SAMPLE_SLACK: tuple[float | None, ...] = (8.0, 64.0, None)


@dataclass(frozen=True)
class _Tasks:
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
) -> tuple[SpilledPartition, MomentStats]:
    """The map task with spilling: tokenize, write the descriptors to ``path`` (and their
    hashes beside it), return the bookkeeping and the partition's moments."""
    part = map_partition(lake_path, snapshot, refs, native_fs, tokenizer, fs, seed)
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


# --------------------------------------------------------------------------- builder
class VocabularyBuilder:
    """Compile a vocabulary from a lake with Dask (see the module docstring).

    ``tokenizer`` is a registered name (``nct``, ``window``) or a Tokenizer instance;
    ``size`` the number of codes; ``fs`` [Hz] the rate recordings are read at (None =
    native); ``iterations`` the maximum Lloyd iterations; ``sample_size`` the number of
    descriptors k-means++ initialises from; ``tol`` the relative inertia decrease that
    stops the fit. ``scheduler``/``n_workers`` choose where it runs (see vocab.runner);
    ``descriptors`` (``spill``, ``memory``, ``recompute``) how later passes get the
    descriptors and ``scratch_dir`` where ``spill`` writes them (default
    ``<lake>/_scratch``; it must be visible to every worker). None of these change the
    result.
    """

    def __init__(
        self,
        lake_path: str | Path,
        tokenizer: str | Tokenizer = "nct",
        size: int = 512,
        datasets: list[str] | None = None,
        fs: float | None = None,
        tokenizer_params: dict[str, Any] | None = None,
        seed: int = 0,
        iterations: int = 20,
        sample_size: int = 20000,
        scheduler: str | None = None,
        n_workers: int | None = None,
        partition_size: int = DEFAULT_PARTITION_SIZE,
        partition_samples: int | None = DEFAULT_PARTITION_SAMPLES,
        tol: float = 1e-4,
        descriptors: str = "spill",
        scratch_dir: str | Path | None = None,
        store: str | Path | None = None,
    ) -> None:
        if int(size) < 1:
            raise ConfigError(f"vocabulary size must be >= 1, got {size}")
        if int(iterations) < 1:
            raise ConfigError(f"iterations must be >= 1, got {iterations}")
        if int(sample_size) < int(size):
            raise ConfigError(
                f"sample_size ({sample_size}) must be >= vocabulary size ({size}): "
                "k-means++ draws the initial codes from the sample"
            )
        if int(partition_size) < 1:
            raise ConfigError(f"partition_size must be >= 1, got {partition_size}")
        if partition_samples is not None and int(partition_samples) < 1:
            raise ConfigError(f"partition_samples must be >= 1 or None, got {partition_samples}")
        if fs is not None and not float(fs) > 0:
            raise ConfigError(f"fs must be > 0 Hz, got {fs}")
        if descriptors not in DESCRIPTOR_MODES:
            raise ConfigError(
                f"descriptors must be one of {', '.join(DESCRIPTOR_MODES)}, got {descriptors!r}"
            )
        if not tol >= 0:
            raise ConfigError(f"tol must be >= 0, got {tol}")
        self.lake_path = Path(lake_path).resolve()
        if isinstance(tokenizer, Tokenizer):
            if tokenizer_params:
                raise ConfigError("tokenizer_params only apply to a tokenizer given by name")
            self.tokenizer = tokenizer
        else:
            from vocab.tokenizers import get_tokenizer

            self.tokenizer = get_tokenizer(tokenizer, **(tokenizer_params or {}))
        self.size = int(size)
        self.datasets = sorted(datasets) if datasets else None
        self.fs = float(fs) if fs is not None else None
        self.seed = int(seed)
        self.iterations = int(iterations)
        self.sample_size = int(sample_size)
        self.scheduler = scheduler
        self.n_workers = n_workers
        self.partition_size = int(partition_size)
        self.partition_samples = None if partition_samples is None else int(partition_samples)
        self.tol = float(tol)
        self.descriptors = descriptors
        self.scratch_dir = Path(scratch_dir) if scratch_dir is not None else None
        self.store = Path(store) if store is not None else default_store(self.lake_path)

    def params(self, sample_budget_binds: bool = True) -> dict[str, Any]:
        """Every parameter that determines the result (recorded in vocab.json).

        ``partition_samples`` is recorded only when it is set and ``sample_budget_binds``
        (the build passes whether it cut the corpus differently from recording-count
        partitions). Left out, it changed nothing: rebuilding with None gives the same
        partitions and bytes, and vocabularies from before the budget keep their ids.
        """
        params = {
            "size": self.size,
            "datasets": self.datasets,
            "fs": self.fs,
            "seed": self.seed,
            "iterations": self.iterations,
            "sample_size": self.sample_size,
            "partition_size": self.partition_size,
            "tol": self.tol,
            "channel_types": list(TOKENIZED_CHANNEL_TYPES),
        }
        if self.partition_samples is not None and sample_budget_binds:
            params["partition_samples"] = self.partition_samples
        return params

    def _partitions(self, lake: Any) -> tuple[list[list[RecordingRef]], list[list[float]], bool]:
        """The partitions' refs and native rates [Hz], and whether ``partition_samples``
        made them differ from partitions by recording count alone."""
        table = lake.recordings(datasets=self.datasets)
        if table.height == 0:
            which = f" of datasets {', '.join(self.datasets)}" if self.datasets else ""
            raise LakeError(f"{self.lake_path}: no recordings{which} to compile a vocabulary from")
        refs, nfs = recording_refs(table)
        keys = [r.session for r in refs]
        parts = session_partitions(
            keys, self.partition_size, recording_weights(table, self.fs), self.partition_samples
        )
        binds = parts != session_partitions(keys, self.partition_size)
        return [[refs[i] for i in p] for p in parts], [[nfs[i] for i in p] for p in parts], binds

    def _scratch(self, snapshot: dict[str, int]) -> ScratchDir | nullcontext[None]:
        """The build's scratch folder (``descriptors="spill"``), else a no-op context."""
        if self.descriptors != "spill":
            return nullcontext()
        inputs = {"params": self.params(), "snapshot": snapshot}
        inputs["tokenizer"] = _jsonable(self.tokenizer.config())
        tag = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:12]
        return ScratchDir(self.lake_path, self.scratch_dir, tag)

    def _map(
        self,
        run: DaskRunner,
        scratch: ScratchDir | None,
        parts: list[list[RecordingRef]],
        nfs: list[list[float]],
        snapshot: dict[str, int],
    ) -> tuple[list[Any], list[MomentStats], _Tasks]:
        """The map pass and the moments (one pass when spilling).

        Returns what later tasks take per partition (a SpilledPartition, a persisted or a
        lazy MappedPartition), the partitions' moments, and the sample, Lloyd and usage
        tasks that apply to them.
        """
        lake = str(self.lake_path)
        if scratch is None:
            mapped = [
                delayed(map_partition, pure=True)(
                    lake, snapshot, refs, f, self.tokenizer, self.fs, self.seed
                )
                for refs, f in zip(parts, nfs)
            ]
            if self.descriptors == "memory":
                mapped = run.persist(mapped)
            moments = run.compute([delayed(partition_moments)(m) for m in mapped], "moments")
            return mapped, moments, _Tasks(partition_sample, partition_lloyd, partition_usage)
        spill = delayed(spill_partition, pure=True)
        tasks = [
            spill(lake, snapshot, refs, f, self.tokenizer, self.fs, self.seed, scratch.part(i))
            for i, (refs, f) in enumerate(zip(parts, nfs))
        ]
        done = run.compute(tasks, "map")
        later = _Tasks(spilled_sample, spilled_lloyd, spilled_usage)
        return [p for p, _ in done], [m for _, m in done], later

    def _sample(self, run: DaskRunner, mapped: list[Any], task: Any, rows: int) -> DescriptorSample:
        """The corpus's bottom-hash sample of ``sample_size`` rows (``rows`` in all).

        Each partition keeps only its rows hashed below sample_threshold (about its share
        of the sample), merged by a tree on the workers; if fewer than ``sample_size``
        rows fell below, it retries with more slack (finally every row), so the result is
        always exactly the bottom ``sample_size`` hashes of the corpus.
        """
        dim, size = self.tokenizer.descriptor_dim, self.sample_size
        for slack in SAMPLE_SLACK:
            threshold = sample_threshold(rows, size, slack) if slack is not None else None
            samples = [delayed(task)(m, threshold, size) for m in mapped]
            (merged,) = run.compute([tree_merge_samples(samples, size, dim)], "sample")
            if threshold is None or merged.hashes.shape[0] >= size:
                return merged
        raise AssertionError("unreachable: the last SAMPLE_SLACK keeps every row")

    def build(self, progress: bool = True, save: bool = True) -> Vocabulary:
        """Run the job; return the vocabulary (saved in the store unless ``save=False``)."""
        lake = open_lake(self.lake_path)
        snapshot = {str(k): int(v) for k, v in lake.snapshot().items()}
        parts, nfs, binds = self._partitions(lake)
        dim = self.tokenizer.descriptor_dim
        k = self.size
        stages = tqdm(
            total=3 + self.iterations,
            desc="vocab",
            disable=not progress_enabled(progress),
            leave=False,
        )
        with (
            self._scratch(snapshot) as scratch,
            DaskRunner(self.scheduler, self.n_workers, progress) as run,
        ):
            stages.set_postfix_str(f"map {len(parts)} partitions on {run.description}")
            mapped, moments, tasks = self._map(run, scratch, parts, nfs, snapshot)
            lloyd_task, usage_task = tasks.lloyd, tasks.usage
            # -- standardisation and initialisation sample
            stats = merge_moments(moments, dim)
            if stats.count == 0:
                raise LakeError(
                    f"{self.lake_path}: the tokenizer found no active segment in "
                    f"{sum(len(p) for p in parts)} recordings; nothing to compile"
                )
            sample = self._sample(run, mapped, tasks.sample, int(stats.count))
            mean, std = stats.mean, stats.std()
            z_sample = standardize(sample.descriptors, mean, std)
            stages.update(1)
            # -- k-means
            rng = np.random.default_rng(self.seed)
            centroids = kmeans_plus_plus(z_sample, k, rng)
            inertia: list[float] = []
            reseeded: list[list[int]] = []
            stages.update(1)
            for it in range(self.iterations):
                c = delayed(centroids)
                mu, sd = delayed(mean), delayed(std)
                partials = run.compute(
                    [delayed(lloyd_task)(m, mu, sd, c) for m in mapped], f"lloyd {it + 1}"
                )
                total = merge_partials(partials, k, dim)
                inertia.append(total.inertia)
                centroids, dead = update_centroids(centroids, total, z_sample)
                if dead:
                    reseeded.append([it, *dead])
                stages.update(1)
                stages.set_postfix_str(f"inertia {total.inertia:.4g}")
                if converged(inertia, self.tol) and not dead:
                    break
            codebook = centroids.astype(np.float32)
            # -- usage statistics with the stored (float32) codebook
            cb, mu, sd = delayed(codebook.astype(np.float64)), delayed(mean), delayed(std)
            usage_parts = run.compute(
                [delayed(usage_task)(m, mu, sd, cb) for m in mapped],
                "usage",
            )
            usage = merge_usage(usage_parts, k)
        stages.update(stages.total - stages.n)
        stages.close()
        from emgcorpus.shards.special_tokens import FIRST_CODE_ID, SPECIAL_TOKENS, vocab_size

        meta: dict[str, Any] = {
            "format": FORMAT,
            "tokenizer": _jsonable(self.tokenizer.config()),
            "params": self.params(binds),
            "corpus": {
                "lake": str(self.lake_path),
                "snapshot": snapshot,
                "recordings": sum(len(p) for p in parts),
                "partitions": len(parts),
                "active_segments": int(stats.count),
            },
            "standardization": {
                "mean": [float(v) for v in mean],
                "std": [float(v) for v in std],
            },
            "fit": {
                "method": "k-means (Lloyd), k-means++ init on a hash-selected sample",
                "sample_rows": int(sample.descriptors.shape[0]),
                "iterations_run": len(inertia),
                "inertia": [float(v) for v in inertia],
                "converged": converged(inertia, self.tol),
                "reseeded": reseeded,
            },
            "statistics": summarize_usage(usage),
            "tokens": {
                "special": dict(SPECIAL_TOKENS),
                "first_code_id": FIRST_CODE_ID,
                "vocab_size": vocab_size(k),
            },
        }
        vocab = Vocabulary(meta=meta, codebook=codebook)
        if save:
            vocab.save(self.store)
        return vocab


def _jsonable(obj: Any) -> Any:
    """Tokenizer configs as plain JSON types (tuples -> lists, numpy scalars -> Python)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
