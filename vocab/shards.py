"""Tokenize a lake with one vocabulary into Parquet training shards (emgcorpus.shards.schema).

Layout of a shard folder (default ``<lake>/_shards/<vocab_id>/``)::

    index.json                 vocab id, tokenizer, snapshot, per shard: file/rows/tokens/sha256
    part-00000-000.parquet     sentences of map partition 0 (first max_rows_per_shard rows)
    part-00000-001.parquet     ...

Recordings (sorted by id) are cut into fixed partitions of whole sessions
(vocab.compiler.session_partitions: the recordings of a session share noise floors); each
Dask task tokenizes one partition and writes its own shards, so the files do not depend on
the scheduler or the number of workers, and no payload passes through the client (the
output folder must be visible to every worker). Each recording becomes *sentences*: its
tokens sorted by onset, cut into runs of at most ``max_tokens_per_sentence`` tokens.
Writing is idempotent: a shard whose bytes already exist unchanged is left alone (compare
and skip), a changed one is replaced atomically, and stale ``part-*.parquet`` files not in
the new index are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from dask import delayed

from emgcorpus.errors import ConfigError, LakeError
from emgcorpus.shards.schema import SHARD_SCHEMA
from emgcorpus.topology import POSITION_DIM, position_vector
from vocab.artifact import Vocabulary, canonical_json, default_store
from vocab.compiler import (
    DEFAULT_PARTITION_SAMPLES,
    DEFAULT_PARTITION_SIZE,
    RecordingRef,
    open_lake,
    recording_refs,
    recording_weights,
    segment_partition,
    segment_recording,
    session_partitions,
)
from vocab.runner import DaskRunner
from vocab.tokenizer_base import Segments, Tokenizer

FORMAT = "emgcorpus.shards/1"
INDEX_FILE = "index.json"
SHARDS_DIRNAME = "_shards"
SHARD_GLOB = "part-*.parquet"
DEFAULT_MAX_ROWS = 4096
#: Parquet writer options fixed here so equal tables give equal bytes.
_PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "use_dictionary": True}


def default_shard_dir(lake_path: str | Path, vocab_id: str) -> Path:
    """``<lake>/_shards/<vocab_id>``."""
    return Path(lake_path) / SHARDS_DIRNAME / vocab_id


@dataclass(frozen=True)
class RecordingMeta:
    """The recording fields every shard row carries."""

    ref: RecordingRef
    subject: str
    session: str
    trial: str
    native_fs: float


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_if_changed(path: Path, data_writer: Any) -> None:
    """Write via ``data_writer(tmp_path)``; keep an existing identical file untouched."""
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        data_writer(tmp)
        if path.exists() and _file_sha256(path) == _file_sha256(tmp):
            return
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def recording_sentences(
    lake: Any,
    meta: RecordingMeta,
    vocab: Vocabulary,
    tokenizer: Tokenizer,
    fs: float | None,
    max_tokens: int,
) -> list[dict[str, Any]]:
    """The shard rows (dicts in SHARD_SCHEMA) of one recording (its own noise floor)."""
    seg, _, keep, infos = segment_recording(lake, meta.ref, tokenizer, fs, meta.native_fs)
    return sentences_of(lake, meta, vocab, seg, keep, infos, max_tokens)


def sentences_of(
    lake: Any,
    meta: RecordingMeta,
    vocab: Vocabulary,
    seg: Segments,
    keep: list[int],
    infos: list[Any],
    max_tokens: int,
) -> list[dict[str, Any]]:
    """The shard rows (dicts in SHARD_SCHEMA) of one recording's segments."""
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
    events = lake.events(ref.recording_id)
    ev_on = events["onset"].to_numpy().astype(np.float64)
    ev_end = ev_on + events["duration"].to_numpy().astype(np.float64)
    ev_rows = [
        {
            "onset": float(e["onset"]),
            "duration": float(e["duration"]),
            "label": str(e["label"]),
            "repetition": None if e["repetition"] is None else int(e["repetition"]),
            "kind": str(e["kind"]),
        }
        for e in events.iter_rows(named=True)
    ]
    rows = []
    for s, start in enumerate(range(0, ids.shape[0], max_tokens)):
        sl = slice(start, start + max_tokens)
        t0 = float(onset[sl][0])
        t1 = float((onset[sl] + duration[sl]).max())
        overlapping = np.flatnonzero((ev_on < t1) & (ev_end > t0))
        rows.append(
            {
                "recording_id": ref.recording_id,
                "dataset": ref.dataset,
                "device": ref.device,
                "subject": meta.subject,
                "session": meta.session,
                "trial": meta.trial,
                "sentence_index": s,
                "t_start_s": t0,
                "t_end_s": t1,
                "n_channels": len(keep),
                "token_ids": ids[sl].astype(np.int32),
                "token_channel": channel[sl],
                "token_onset_s": onset[sl].astype(np.float32),
                "token_duration_s": duration[sl].astype(np.float32),
                "token_pos": pos[sl].reshape(-1),
                "events": [ev_rows[i] for i in overlapping],
            }
        )
    return rows


def _rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    columns = {}
    for field in SHARD_SCHEMA:
        values = [r[field.name] for r in rows]
        if pa.types.is_list(field.type) and field.name != "events":
            values = [np.asarray(v).tolist() for v in values]
        columns[field.name] = pa.array(values, type=field.type)
    return pa.table(columns, schema=SHARD_SCHEMA)


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
) -> list[dict[str, Any]]:
    """The map task: tokenize the partition's recordings, write its shards, return their
    index entries (file, rows, tokens, recordings, sha256)."""
    lake = open_lake(lake_path, snapshot)
    tokenizer = vocab.tokenizer()
    rows: list[dict[str, Any]] = []
    refs = [m.ref for m in metas]
    native = [m.native_fs for m in metas]
    for i, seg, _, keep, infos in segment_partition(lake, refs, native, tokenizer, fs):
        rows.extend(sentences_of(lake, metas[i], vocab, seg, keep, infos, max_tokens))
    entries = []
    for j, start in enumerate(range(0, len(rows), max_rows)):
        chunk = rows[start : start + max_rows]
        table = _rows_to_table(chunk)
        name = f"part-{partition:05d}-{j:03d}.parquet"
        path = Path(out_dir) / name
        _write_if_changed(path, lambda p, t=table: pq.write_table(t, p, **_PARQUET_OPTIONS))
        entries.append(
            {
                "file": name,
                "rows": len(chunk),
                "tokens": int(sum(len(r["token_ids"]) for r in chunk)),
                "recordings": len({r["recording_id"] for r in chunk}),
                "sha256": _file_sha256(path),
            }
        )
    return entries


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
) -> Path:
    """Tokenize the lake (its current snapshot, the vocabulary's datasets and rate) with
    vocabulary ``vocab_id`` (id or unique prefix) into shards; return the shard folder.

    ``scheduler``/``n_workers`` as for VocabularyBuilder (None = LocalCluster, ``sync``,
    or a scheduler address). ``partition_size``/``partition_samples`` bound a task's
    recordings and channel-samples (see vocab.compiler.session_partitions). Re-running
    gives the same files and index.
    """
    if int(max_rows_per_shard) < 1:
        raise ConfigError(f"max_rows_per_shard must be >= 1, got {max_rows_per_shard}")
    if int(max_tokens_per_sentence) < 1:
        raise ConfigError(f"max_tokens_per_sentence must be >= 1, got {max_tokens_per_sentence}")
    if int(partition_size) < 1:
        raise ConfigError(f"partition_size must be >= 1, got {partition_size}")
    if partition_samples is not None and int(partition_samples) < 1:
        raise ConfigError(f"partition_samples must be >= 1 or None, got {partition_samples}")
    lake_path = Path(lake_path).resolve()
    vocab = Vocabulary.load(store if store is not None else default_store(lake_path), vocab_id)
    vocab.tokenizer()  # fail early if the installed tokenizer version differs
    out = Path(out_dir) if out_dir is not None else default_shard_dir(lake_path, vocab.id)
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    lake = open_lake(lake_path)
    snapshot = {str(k): int(v) for k, v in lake.snapshot().items()}
    datasets = vocab.meta["params"].get("datasets")
    fs = vocab.meta["params"].get("fs")
    table = lake.recordings(datasets=datasets).sort("recording_id")
    if table.height == 0:
        raise LakeError(f"{lake_path}: no recordings to tokenize")
    refs, _ = recording_refs(table)
    metas = [
        RecordingMeta(
            ref, str(r["subject"]), str(r["session"]), str(r["trial"]), float(r["native_fs"])
        )
        for ref, r in zip(refs, table.iter_rows(named=True))
    ]
    keys = [m.ref.session for m in metas]
    cuts = session_partitions(keys, partition_size, recording_weights(table, fs), partition_samples)
    # the budget is recorded only when it cut differently from recording-count partitions
    binds = partition_samples is not None and cuts != session_partitions(keys, partition_size)
    parts = [[metas[i] for i in p] for p in cuts]
    with DaskRunner(scheduler, n_workers, progress) as run:
        v = delayed(vocab)
        tasks = [
            delayed(tokenize_partition)(
                str(lake_path),
                snapshot,
                part,
                v,
                fs,
                str(out),
                p,
                int(max_rows_per_shard),
                int(max_tokens_per_sentence),
            )
            for p, part in enumerate(parts)
        ]
        results = run.compute(tasks, "tokenize")
    shards = [entry for entries in results for entry in entries]
    index = {
        "format": FORMAT,
        "vocab_id": vocab.id,
        "vocab_size": vocab.n_tokens,
        "tokenizer": vocab.tokenizer_config,
        "lake": str(lake_path),
        "snapshot": snapshot,
        "datasets": datasets,
        "fs": fs,
        "max_tokens_per_sentence": int(max_tokens_per_sentence),
        "max_rows_per_shard": int(max_rows_per_shard),
        "partition_size": int(partition_size),
        "schema": [f"{f.name}: {f.type}" for f in SHARD_SCHEMA],
        "shards": shards,
        "totals": {
            "shards": len(shards),
            "rows": sum(s["rows"] for s in shards),
            "tokens": sum(s["tokens"] for s in shards),
            "recordings": len(metas),
        },
    }
    if binds:
        index["partition_samples"] = int(partition_samples or 0)
    keep = {s["file"] for s in shards}
    for stale in out.glob(SHARD_GLOB):
        if stale.name not in keep:
            stale.unlink()
    data = canonical_json(index)
    _write_if_changed(out / INDEX_FILE, lambda p: p.write_bytes(data))
    return out


def read_index(shard_dir: str | Path) -> dict[str, Any]:
    """The parsed ``index.json`` of a shard folder (LakeError if missing or malformed)."""
    path = Path(shard_dir) / INDEX_FILE
    try:
        index = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise LakeError(f"{path}: no shard index (run `emgcorpus tokenize --vocab ID`)") from None
    except json.JSONDecodeError as exc:
        raise LakeError(f"{path}: not valid JSON ({exc})") from None
    if index.get("format") != FORMAT or not isinstance(index.get("shards"), list):
        raise LakeError(f"{path}: expected a {FORMAT} index, found format {index.get('format')!r}")
    return dict(index)


def verify_shards(shard_dir: str | Path) -> list[str]:
    """Problems of a shard folder, one sentence each (empty list: all good).

    Checks the index, every listed file's presence, sha256, row count and schema, and
    ``part-*.parquet`` files the index does not list.
    """
    shard_dir = Path(shard_dir)
    try:
        index = read_index(shard_dir)
    except LakeError as exc:
        return [str(exc)]
    problems: list[str] = []
    listed = set()
    for entry in index["shards"]:
        name = str(entry.get("file"))
        listed.add(name)
        path = shard_dir / name
        if not path.is_file():
            problems.append(f"{path}: missing (listed in {INDEX_FILE})")
            continue
        sha = _file_sha256(path)
        if sha != entry.get("sha256"):
            problems.append(f"{path}: sha256 {sha} differs from {entry.get('sha256')} in the index")
        try:
            meta = pq.read_metadata(path)
            schema = pq.read_schema(path)
        except (OSError, pa.ArrowException) as exc:
            problems.append(f"{path}: not a readable Parquet file ({exc})")
            continue
        if meta.num_rows != entry.get("rows"):
            problems.append(f"{path}: {meta.num_rows} rows, the index lists {entry.get('rows')}")
        if not schema.remove_metadata().equals(SHARD_SCHEMA):
            problems.append(f"{path}: schema differs from emgcorpus.shards.schema.SHARD_SCHEMA")
    for extra in sorted(shard_dir.glob(SHARD_GLOB)):
        if extra.name not in listed:
            problems.append(f"{extra}: shard file not listed in {INDEX_FILE}")
    return problems
