"""What the vocabulary jobs read from the lake: recordings in partitions, segmented.

The recordings of a lake (sorted by id) are cut into fixed partitions of whole sessions
(:func:`session_partitions`: at most ``partition_size`` recordings and
``partition_samples`` channel-samples each), so one task's signal and descriptors are
bounded and the result does not depend on the scheduler. A task opens the lake at the
snapshot taken once at the start (:func:`open_lake`), reads the tokenized channels (EMG
with status ``good``, at ``fs`` or the native rate; the partition's recordings in batches,
:class:`PartitionReader`) and segments them session by session
(:func:`segment_partition`: the recordings of a session share noise floors, pooled over
the whole session by vocab.partition_tasks.whole_session_floors when the partitions cut
it, so tokens do not depend on the partition size). The
vocabulary build (vocab.compiler, vocab.partition_tasks) and the tokenization
(vocab.tokenize) both read the lake through this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from emgcorpus.errors import ConfigError
from vocab.tokenizer_base import Segments, Tokenizer

#: Recordings per map partition (part of the artifact's parameters: it fixes sum order).
DEFAULT_PARTITION_SIZE = 16
#: Channel-samples (EMG channels x samples at the rate read) per map partition: 2**26, e.g.
#: 16 channels x 35 min at 2 kHz, 256 MiB as float32 signal, ~10 MiB of descriptors on
#: the simulated corpus. None: recording count only. Recorded in the artifact's parameters
#: when it makes the partitions differ from recording-count ones (VocabularyBuilder.params).
DEFAULT_PARTITION_SAMPLES = 2**26
#: Channel types that are tokenized.
TOKENIZED_CHANNEL_TYPES = ("EMG",)


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
    is cut into chunks within both (vocab.partition_tasks.whole_session_floors then pools
    its noise floors over every chunk; a single
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
    _to_recording_channels(seg, keep)
    return seg, seconds, keep, channels


def _to_recording_channels(seg: Segments, keep: list[int]) -> None:
    """Map ``seg.channel`` from indices into the tokenized channels ``keep`` to indices
    into the recording's channel list, in place (-1, every channel, stays -1)."""
    mapped = np.asarray(keep, dtype=np.int32)
    ch = np.asarray(seg.channel, dtype=np.int32)
    seg.channel = np.where(ch >= 0, mapped[np.clip(ch, 0, None)], -1).astype(np.int32)


def segment_partition(
    lake: Any,
    refs: list[RecordingRef],
    native_fs: list[float],
    tokenizer: Tokenizer,
    fs: float | None,
    floors: SessionFloors | None = None,
    cached: SegmentSource | None = None,
) -> Iterator[tuple[int, Segments, float, list[int], list[Any]]]:
    """Segment a partition's recordings session by session (consecutive refs with the
    same ``session`` share noise floors, see Tokenizer.segment_session).

    ``floors``: session key -> floors per channel name, pooled over the whole session
    (vocab.partition_tasks.whole_session_floors) for the sessions that span several
    partitions; the other sessions pool their floors here, over all of their recordings.
    ``cached``: segments computed before (vocab.segment_cache), taken for the sessions it
    has instead of reading and segmenting them.

    Yields, in ``refs`` order: the index into ``refs``, the segments (channel indices of
    the recording), the duration [s], the tokenized channel indices and every ChannelInfo.
    """
    runs = list(session_runs(refs))
    fresh = [
        members
        for members in runs
        if cached is None or not cached.has(refs[members[0]].recording_id)
    ]
    groups = {group.members[0]: group for group in session_groups(lake, refs, native_fs, fs, fresh)}
    for members in runs:
        group = groups.pop(members[0], None)
        if group is not None:
            given = None if floors is None else floors.get(refs[members[0]].session)
            yield from group.run(tokenizer, given)
            continue
        assert cached is not None
        for g in members:
            seg, seconds = cached.get(refs[g].recording_id)
            infos = lake.channel_infos(refs[g].recording_id)
            yield g, seg, seconds, tokenized_channels(infos), infos


def session_groups(
    lake: Any,
    refs: list[RecordingRef],
    native_fs: list[float],
    fs: float | None,
    runs: list[list[int]],
) -> list[SessionGroup]:
    """A SessionGroup per run of ``refs`` (session_runs), all reading through one
    PartitionReader planned in their order (each group's recordings with channels)."""
    groups = [SessionGroup(lake, refs, native_fs, fs, members) for members in runs]
    plan = [refs[g].recording_id for group in groups for g in group.todo]
    reader = PartitionReader(lake, plan, fs)
    for group in groups:
        group.reader = reader
    return groups


#: Returned samples [bytes] a PartitionReader gathers per Lake.read_many batch: a few
#: recordings (a 16-channel 1 kHz recording of 3 min is 12 MiB as float32).
READ_BATCH_BYTES = 32 * 2**20


class PartitionReader:
    """The samples of a partition's recordings in the order the segmentation reads them
    (``plan``: recording ids), through Lake.read_many: a row group holding several of them
    is decoded once per batch, not once per recording (on bench_scale.py's lakes eight
    recordings share a row group). A recording asked for out of that order is read alone,
    by Lake.read_samples; the samples are the same either way.
    """

    def __init__(self, lake: Any, plan: list[str], fs: float | None) -> None:
        self.lake, self.fs = lake, fs
        self._ahead: Iterator[tuple[str, np.ndarray]] = (
            lake.read_many(plan, fs=fs, batch_bytes=READ_BATCH_BYTES) if plan else iter(())
        )
        self._next: tuple[str, np.ndarray] | None = None

    def read(self, recording_id: str, channels: list[int]) -> np.ndarray:
        """The recording's samples of ``channels`` (physical units, at the reader's rate)."""
        if self._next is None:
            self._next = next(self._ahead, None)
        if self._next is not None and self._next[0] == recording_id:
            x, self._next = self._next[1], None
            return x[:, channels]
        return self.lake.read_samples(recording_id, fs=self.fs, channels=channels, physical=True)


class SegmentSource(Protocol):
    """Segments computed before, by recording id (vocab.segment_cache.CachedSegments);
    it has either every recording of a session or none."""

    def has(self, recording_id: str) -> bool: ...

    def get(self, recording_id: str) -> tuple[Segments, float]:
        """The recording's segments (channel indices of the recording) and duration [s]."""
        ...


def session_runs(refs: list[RecordingRef]) -> Iterator[list[int]]:
    """Indices of the runs of consecutive refs of one session (no key: a run of one)."""
    i = 0
    while i < len(refs):
        j = i + 1
        while j < len(refs) and refs[j].session and refs[j].session == refs[i].session:
            j += 1
        yield list(range(i, j))
        i = j


#: Session key -> noise floor per channel name, for sessions cut over several partitions.
SessionFloors = dict[str, dict[str, float]]
#: Session key -> channel name -> the arrays a partition contributes to the session's floor.
SessionLevels = dict[str, dict[str, list[np.ndarray]]]


def split_sessions(parts: list[list[RecordingRef]]) -> set[str]:
    """Session keys whose recordings lie in more than one partition."""
    seen: dict[str, int] = {}
    split: set[str] = set()
    for p, refs in enumerate(parts):
        for ref in refs:
            if ref.session and seen.setdefault(ref.session, p) != p:
                split.add(ref.session)
    return split


class SessionGroup:
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
        #: where the samples come from (segment_partition sets one per partition)
        self.reader: PartitionReader | None = None

    def rate(self, g: int) -> float:
        return float(self.fs) if self.fs is not None else float(self.native_fs[g])

    def read(self, g: int) -> np.ndarray:
        rid = self.refs[g].recording_id
        if self.reader is not None:
            x = self.reader.read(rid, self.keeps[g])
        else:
            x = self.lake.read_samples(rid, fs=self.fs, channels=self.keeps[g], physical=True)
        self.seconds[g] = x.shape[0] / self.rate(g)
        return np.ascontiguousarray(x, dtype=np.float32)

    def load(self, k: int) -> tuple[np.ndarray, float, list[Any]]:
        """Recording ``todo[k]`` as the tokenizer reads it."""
        g = self.todo[k]
        x = self.read(g)
        return x, self.rate(g), [self.infos[g][c] for c in self.keeps[g]]

    def run(
        self, tokenizer: Tokenizer, floors: dict[str, float] | None = None
    ) -> Iterator[tuple[int, Segments, float, list[int], list[Any]]]:
        """Segment the group (against ``floors`` per channel name when given, else
        floors pooled over the group): the items of segment_partition."""
        segs = tokenizer.segment_session(len(self.todo), self.load, floors)
        by_member = dict(zip(self.todo, segs))
        for g in self.members:
            seg = by_member.get(g)
            if seg is None:
                self.read(g)  # no tokenized channel: still count the recording's time
                seg = Segments.empty(tokenizer.descriptor_dim)
            else:
                _to_recording_channels(seg, self.keeps[g])
            yield g, seg, self.seconds[g], self.keeps[g], self.infos[g]


def without_subjects(table: Any, keys: list[str] | None) -> Any:
    """A recordings table without the rows of the subjects ``keys`` (``dataset:subject``,
    emgcorpus.recording.subject_key); the table itself when ``keys`` is empty or None."""
    if not keys:
        return table
    import polars as pl

    key = pl.concat_str([pl.col("dataset"), pl.lit(":"), pl.col("subject")])
    return table.filter(~key.is_in(list(keys)))


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


@dataclass(frozen=True)
class PartitionPlan:
    """A lake's recordings (in id order) cut into map partitions (see session_partitions)."""

    refs: list[RecordingRef]
    native_fs: list[float]  # [Hz], per ref
    #: indices into ``refs``, one list per partition
    partitions: list[list[int]]
    #: whether the channel-sample budget cut differently from recording-count partitions
    samples_bind: bool


def check_partitioning(partition_size: int, partition_samples: int | None) -> None:
    """ConfigError unless ``partition_size`` >= 1 and ``partition_samples`` is None or >= 1."""
    if int(partition_size) < 1:
        raise ConfigError(f"partition_size must be >= 1, got {partition_size}")
    if partition_samples is not None and int(partition_samples) < 1:
        raise ConfigError(f"partition_samples must be >= 1 or None, got {partition_samples}")


def plan_partitions(
    table: Any, partition_size: int, fs: float | None, partition_samples: int | None
) -> PartitionPlan:
    """The partitions of a recordings table: whole sessions, at most ``partition_size``
    recordings and (when given) ``partition_samples`` channel-samples at ``fs`` [Hz]
    (None: native rates) each."""
    refs, native_fs = recording_refs(table)
    keys = [r.session for r in refs]
    cuts = session_partitions(keys, partition_size, recording_weights(table, fs), partition_samples)
    return PartitionPlan(refs, native_fs, cuts, cuts != session_partitions(keys, partition_size))


def lake_snapshot(lake: Any) -> dict[str, int]:
    """The lake's current snapshot (table -> version) as plain str/int, for the tasks."""
    return {str(k): int(v) for k, v in lake.snapshot().items()}
