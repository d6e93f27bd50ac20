"""Tokenize a lake with one vocabulary into token shards (the format: emgcorpus.shards).

Recordings (sorted by id) are cut into fixed partitions of whole sessions
(vocab.lake_partitions.session_partitions: the recordings of a session share noise
floors, pooled over the whole session by vocab.partition_tasks.whole_session_floors when
the partitions cut it); each Dask task tokenizes one partition and writes its own shards through
emgcorpus.shards.writer, so the files do not depend on the scheduler or the number of
workers, and no payload passes through the client (the output folder must be visible to
every worker). Each recording becomes *sentences*: its tokens sorted by onset, cut into
runs of at most ``max_tokens_per_sentence`` tokens. Re-running is idempotent: unchanged
shards are left alone, changed ones replaced atomically, and stale shard files not in the
new index (emgcorpus.shards.index) are removed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from dask import delayed

from emgcorpus.errors import ConfigError, LakeError
from emgcorpus.lake_location import lake_location
from emgcorpus.shards.index import default_shard_dir, write_index
from emgcorpus.shards.writer import DEFAULT_MAX_ROWS, sentence_rows, write_partition_shards
from emgcorpus.topology import POSITION_DIM, position_vector
from vocab.artifact import Vocabulary, default_store
from vocab.lake_partitions import (
    DEFAULT_PARTITION_SAMPLES,
    DEFAULT_PARTITION_SIZE,
    RecordingRef,
    SessionFloors,
    check_partitioning,
    lake_snapshot,
    open_lake,
    plan_partitions,
    segment_partition,
)
from vocab.partition_tasks import whole_session_floors
from vocab.runner import DaskRunner
from vocab.segment_cache import (
    CachedRecordings,
    CachedSegments,
    SegmentCacheError,
    base_key,
    find_cached,
    remove_cache,
)
from vocab.tokenizer_base import KIND_ACTIVE, Segments


@dataclass(frozen=True)
class RecordingMeta:
    """The recording fields every shard row carries."""

    ref: RecordingRef
    subject: str
    session: str
    trial: str
    native_fs: float


def sentences_of(
    lake: Any,
    meta: RecordingMeta,
    vocab: Vocabulary,
    seg: Segments,
    keep: list[int],
    infos: list[Any],
    max_tokens: int,
) -> list[dict[str, Any]]:
    """The shard rows (dicts in SHARD_SCHEMA) of one recording's segments: encoded with
    ``vocab``, sorted by onset, with the electrode position of every token's channel
    (``infos``: every ChannelInfo; ``keep``: the tokenized channel indices)."""
    ref = meta.ref
    if len(seg) == 0:
        return []
    ids = vocab.encode(seg)
    order = np.argsort(seg.onset_s, kind="stable")
    ids, channel = ids[order], np.asarray(seg.channel, np.int16)[order]
    onset = np.asarray(seg.onset_s, np.float64)[order]
    duration = np.asarray(seg.duration_s, np.float64)[order]
    positions = np.zeros((len(infos) + 1, POSITION_DIM), np.float32)  # last row: channel -1
    for i, info in enumerate(infos):
        positions[i] = position_vector(info.position)
    pos = positions[np.where(channel >= 0, channel, len(infos))]
    events = [
        {
            "onset": float(e["onset"]),
            "duration": float(e["duration"]),
            "label": str(e["label"]),
            "repetition": None if e["repetition"] is None else int(e["repetition"]),
            "kind": str(e["kind"]),
        }
        for e in lake.events(ref.recording_id).iter_rows(named=True)
    ]
    recording = {
        "recording_id": ref.recording_id,
        "dataset": ref.dataset,
        "device": ref.device,
        "subject": meta.subject,
        "session": meta.session,
        "trial": meta.trial,
    }
    desc = standardized_descriptors(vocab, seg)[order]
    return sentence_rows(
        recording, len(keep), ids, channel, onset, duration, pos, events, max_tokens, desc
    )


def standardized_descriptors(vocab: Vocabulary, seg: Segments) -> np.ndarray:
    """float32 (n, dim): each segment's descriptor standardised by the vocabulary's mean
    and std (the codebook's space; the shards' ``token_desc``); NaN for absent entries and
    for rest segments."""
    d = np.asarray(seg.descriptor, dtype=np.float64).reshape(len(seg), -1)
    z = (d - vocab.mean) / np.where(vocab.std > 0, vocab.std, 1.0)
    z[seg.kind != KIND_ACTIVE] = np.nan
    return z.astype(np.float32)


def tokenize_partition(
    lake_path: str,
    snapshot: dict[str, int],
    metas: list[RecordingMeta],
    vocab: Vocabulary,
    fs: float | None,
    out_dir: str,
    partition: int,
    max_rows: int,
    max_tokens: int,
    floors: SessionFloors | None = None,
    cached: CachedRecordings | None = None,
) -> list[dict[str, Any]]:
    """The map task: tokenize the partition's recordings, write its shards, return their
    index entries (file, rows, tokens, recordings, sha256). ``floors``: whole-session
    floors of the sessions cut over several partitions (whole_session_floors);
    ``cached``: where the segment cache holds some of the recordings (whole sessions),
    read instead of segmenting them (vocab.segment_cache; the same segments)."""
    lake = open_lake(lake_path, snapshot)
    rows: list[dict[str, Any]] = []
    refs = [m.ref for m in metas]
    native = [m.native_fs for m in metas]
    source = CachedSegments(cached) if cached else None
    items = segment_partition(lake, refs, native, vocab.tokenizer(), fs, floors, source)
    for i, seg, _, keep, infos in items:
        rows.extend(sentences_of(lake, metas[i], vocab, seg, keep, infos, max_tokens))
    return write_partition_shards(rows, out_dir, partition, max_rows)


def _tokenize_partitions(
    run: DaskRunner,
    *,
    lake: str,
    snapshot: dict[str, int],
    parts: list[list[RecordingMeta]],
    vocab: Vocabulary,
    fs: float | None,
    out: str,
    max_rows: int,
    max_tokens: int,
    cached: list[CachedRecordings],
) -> list[list[dict[str, Any]]]:
    """Run tokenize_partition over ``parts``; ``cached``: per partition, the recordings
    the segment cache holds (whole sessions; the others are segmented, after a floor pass
    over their sessions cut by the partitions). The shard entries of every partition, in
    order."""
    todo = [[m for m in part if m.ref.recording_id not in c] for part, c in zip(parts, cached)]
    floors = whole_session_floors(
        run,
        lake,
        snapshot,
        [[m.ref for m in part] for part in todo],
        [[m.native_fs for m in part] for part in todo],
        vocab.tokenizer(),
        fs,
    )
    # every argument dask would walk for collections (the vocabulary's metadata, the
    # recordings, the cache entries) goes in as it is: traverse=False
    v, fl = delayed(vocab, traverse=False), delayed(floors, traverse=False)
    task = delayed(tokenize_partition)
    tasks = [
        task(
            lake,
            snapshot,
            delayed(part, traverse=False),
            v,
            fs,
            out,
            p,
            max_rows,
            max_tokens,
            fl,
            delayed(cached[p], traverse=False),
        )
        for p, part in enumerate(parts)
    ]
    return list(run.compute(tasks, "tokenize"))


def select_datasets(
    lake: Any, lake_path: str | Path, datasets: list[str] | None
) -> list[str] | None:
    """The sorted, de-duplicated ``datasets``; None for every dataset (also when the list
    names all of them). ConfigError naming the lake and its datasets when one is not in
    the lake, or when the list is empty."""
    if datasets is None:
        return None
    wanted = sorted({str(d) for d in datasets})
    if not wanted:
        raise ConfigError("datasets: give at least one dataset name (or None for every dataset)")
    known = sorted({str(d) for d in lake.recordings()["dataset"]})
    unknown = [d for d in wanted if d not in known]
    if unknown:
        raise ConfigError(
            f"{lake_path}: no dataset {', '.join(map(repr, unknown))} in the lake "
            f"(it holds: {', '.join(known) or 'nothing'})"
        )
    return None if wanted == known else wanted


#: Dataset names used as they are in a shard folder's name; others are hashed.
_FOLDER_SAFE = re.compile(r"[A-Za-z0-9_-]+")


def shard_folder_name(vocab_id: str, datasets: list[str] | None) -> str:
    """The default shard folder of ``vocab_id``: the id alone for every dataset,
    ``<id>.<a>+<b>`` for a selection (``<id>.<12 hex digits of sha256>`` when a name
    holds other characters than letters, digits, ``_`` and ``-``)."""
    if not datasets:
        return vocab_id
    if all(_FOLDER_SAFE.fullmatch(d) for d in datasets) and len("+".join(datasets)) <= 80:
        return f"{vocab_id}.{'+'.join(datasets)}"
    digest = hashlib.sha256("\x1f".join(datasets).encode()).hexdigest()[:12]
    return f"{vocab_id}.{digest}"


def tokenize_lake(
    lake_path: str | Path,
    vocab_id: str,
    out_dir: str | Path | None = None,
    max_rows_per_shard: int = DEFAULT_MAX_ROWS,
    max_tokens_per_sentence: int = 2048,
    progress: bool = True,
    scheduler: str | None = None,
    n_workers: int | None = None,
    store: str | Path | None = None,
    partition_size: int = DEFAULT_PARTITION_SIZE,
    partition_samples: int | None = DEFAULT_PARTITION_SAMPLES,
    datasets: list[str] | None = None,
    segment_cache: bool = True,
) -> Path:
    """Tokenize the lake (its current snapshot, at the vocabulary's rate) with vocabulary
    ``vocab_id`` (id or unique prefix) into shards; return the shard folder.

    ``datasets``: the lake's datasets to tokenize (None: every dataset of the lake). The
    datasets the vocabulary was compiled on are provenance, not a filter: any dataset of
    any lake can be tokenized with any vocabulary (``store``: the vocabulary store, default
    ``<lake>/_vocab``; give the compiling lake's store to tokenize another lake). The
    index records both (``datasets``: what the shards hold; ``vocab_datasets``: what the
    vocabulary was compiled on). The default folder is ``<lake>/_shards/<vocab id>`` for
    every dataset, ``<lake>/_shards/<vocab id>.<dataset>+<dataset>...`` for a selection
    (shard_folder_name), so a selection never replaces the full tokenization.
    ``segment_cache``: read the segments from the lake's segment cache when the build of
    this snapshot, tokenizer and recording partitions wrote one (vocab.segment_cache;
    byte-identical shards, no segmentation); False always segments.
    ``scheduler``/``n_workers`` as for VocabularyBuilder (None = LocalCluster, ``sync``,
    or a scheduler address). ``partition_size``/``partition_samples`` bound a task's
    recordings and channel-samples (see vocab.lake_partitions.session_partitions). Re-running
    gives the same files and index.
    """
    if int(max_rows_per_shard) < 1:
        raise ConfigError(f"max_rows_per_shard must be >= 1, got {max_rows_per_shard}")
    if int(max_tokens_per_sentence) < 1:
        raise ConfigError(f"max_tokens_per_sentence must be >= 1, got {max_tokens_per_sentence}")
    check_partitioning(partition_size, partition_samples)
    lake_path = lake_location(lake_path)
    try:
        vocab = Vocabulary.load(store if store is not None else default_store(lake_path), vocab_id)
    except LakeError as exc:
        if store is not None:
            raise
        raise LakeError(
            f"{exc} (a vocabulary of another lake: give its store, e.g. "
            "--vocab-store OTHER_LAKE/_vocab)"
        ) from exc
    vocab.tokenizer()  # fail early if the installed tokenizer version differs
    lake = open_lake(lake_path)
    snapshot = lake_snapshot(lake)
    selected = select_datasets(lake, lake_path, datasets)
    fs = vocab.meta["params"].get("fs")
    table = lake.recordings(datasets=selected).sort("recording_id")
    if table.height == 0:
        raise LakeError(f"{lake_path}: no recordings to tokenize")
    held = sorted({str(d) for d in table["dataset"]})
    if out_dir is None:
        out = default_shard_dir(lake_path, shard_folder_name(vocab.id, selected))
    else:
        out = Path(out_dir)
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    plan = plan_partitions(table, partition_size, fs, partition_samples)
    metas = [
        RecordingMeta(
            ref, str(r["subject"]), str(r["session"]), str(r["trial"]), float(r["native_fs"])
        )
        for ref, r in zip(plan.refs, table.iter_rows(named=True))
    ]
    parts = [[metas[i] for i in p] for p in plan.partitions]
    refs = [[m.ref for m in part] for part in parts]
    cached: list[CachedRecordings] = [{} for _ in parts]
    used: list[str] = []
    if segment_cache:
        base = base_key(snapshot, vocab.tokenizer_config, fs)
        cached, used = find_cached(lake_path, base, refs)
    job = partial(
        _tokenize_partitions,
        lake=str(lake_path),
        snapshot=snapshot,
        parts=parts,
        vocab=vocab,
        fs=fs,
        out=str(out),
        max_rows=int(max_rows_per_shard),
        max_tokens=int(max_tokens_per_sentence),
    )
    with DaskRunner(scheduler, n_workers, progress) as run:
        try:
            results = job(run, cached=cached)
        except SegmentCacheError:
            if not used:
                raise
            for folder in used:  # damaged: drop them and segment from the lake
                remove_cache(folder)
            results = job(run, cached=[{} for _ in parts])
    shards = [entry for entries in results for entry in entries]
    fields: dict[str, Any] = {
        "vocab_id": vocab.id,
        "vocab_size": vocab.n_tokens,
        "tokenizer": vocab.tokenizer_config,
        "lake": str(lake_path),
        "snapshot": snapshot,
        "datasets": held,
        "vocab_datasets": vocab.compiled_datasets,
        "fs": fs,
        "max_tokens_per_sentence": int(max_tokens_per_sentence),
        "max_rows_per_shard": int(max_rows_per_shard),
        "partition_size": int(partition_size),
        "descriptor_dim": int(vocab.codebook.shape[1]),
    }
    if plan.samples_bind:  # the budget is recorded only when it changed the partitions
        fields["partition_samples"] = int(partition_samples or 0)
    write_index(out, fields, shards, len(metas))
    return out
