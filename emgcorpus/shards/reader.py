"""Reading token shards: the shard set of a folder, one shard's rows, one recording's tokens.

Shards follow ``emgcorpus.shards.schema.SHARD_SCHEMA`` (one row = one sentence of one
recording) and are listed by ``index.json`` beside them (emgcorpus.shards.index; else every
``*.parquet`` in the folder, sorted by name). The trainer's torch Dataset
(training.data.ShardDataset) and the evaluation read shards through this module only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from emgcorpus.errors import ConfigError, LakeError, SourceError
from emgcorpus.recording import subject_key
from emgcorpus.shards.index import INDEX_FILE, read_index
from emgcorpus.shards.schema import DESC_COLUMN
from emgcorpus.topology import POSITION_DIM

#: The per-token columns of a shard row (parallel lists of equal length).
TOKEN_COLUMNS = ["token_ids", "token_channel", "token_onset_s", "token_duration_s", "token_pos"]


@dataclass(frozen=True)
class ShardSet:
    """The shard files of one tokenized corpus and the index that describes them."""

    root: Path
    files: tuple[Path, ...]
    index: dict[str, Any]

    @classmethod
    def open(cls, root: str | Path) -> ShardSet:
        """Open a shard folder through its ``index.json`` (written last by a tokenize run).

        A folder without an index is an unfinished (or crashed) tokenization, never read
        as shards. LakeError if the index is missing or not readable, SourceError if the
        folder, or a listed file, is missing or the index lists no shards.
        """
        root = Path(root)
        if not root.is_dir():
            raise SourceError(root, "shard folder not found (expected a folder of Parquet shards)")
        if not (root / INDEX_FILE).exists():
            found = len(list(root.glob("*.parquet")))
            raise LakeError(
                f"{root}: no {INDEX_FILE} beside {found} Parquet file(s): an unfinished "
                "tokenization (rerun `emgcorpus tokenize`)"
            )
        index = read_index(root)
        files = tuple(root / str(e["file"]) for e in index["shards"])
        missing = [f.name for f in files if not f.exists()]
        if missing:
            raise SourceError(root / INDEX_FILE, f"lists shards that do not exist: {missing[:5]}")
        if not files:
            raise SourceError(root / INDEX_FILE, "lists no shards")
        return cls(root=root, files=files, index=index)

    @property
    def vocab_id(self) -> str | None:
        """The vocabulary id the index names (None: not given)."""
        v = self.index.get("vocab_id")
        return None if v is None else str(v)

    @property
    def snapshot(self) -> Any:
        """The lake snapshot the index names (None: not given)."""
        return self.index.get("snapshot")

    @property
    def descriptor_dim(self) -> int:
        """Entries of each token's stored descriptor (``token_desc``; index field
        ``descriptor_dim``); 0 for shards written without descriptors."""
        return int(self.index.get("descriptor_dim") or 0)

    def vocab_size(self) -> int:
        """Number of token ids: the index's ``vocab_size`` if given, else 1 + the largest id."""
        if "vocab_size" in self.index:
            return int(self.index["vocab_size"])
        top = 4
        for f in self.files:
            col = pq.read_table(f, columns=["token_ids"]).column("token_ids")
            flat = pc.list_flatten(col)
            if len(flat):
                top = max(top, int(pc.max(flat).as_py()))
        return top + 1

    def subjects(
        self,
        exclude_subjects: Sequence[str] = (),
        exclude_datasets: Sequence[str] = (),
    ) -> list[str]:
        """``dataset:subject`` keys of every row that passes the filters, sorted."""
        keys: set[str] = set()
        for f in self.files:
            t = pq.read_table(f, columns=["dataset", "subject"])
            ds = t.column("dataset").to_pylist()
            sj = t.column("subject").to_pylist()
            mask = keep_mask(ds, sj, exclude_subjects, exclude_datasets)
            keys.update(subject_key(d, s) for d, s, m in zip(ds, sj, mask) if m)
        return sorted(keys)

    def kept_rows(
        self,
        exclude_subjects: Sequence[str] = (),
        exclude_datasets: Sequence[str] = (),
        min_tokens: int = 1,
    ) -> list[np.ndarray]:
        """Per file, the indices (int64, ascending) of the rows that pass the filters and
        hold at least ``min_tokens`` tokens."""
        kept = []
        for f in self.files:
            t = pq.read_table(f, columns=["dataset", "subject", "token_ids"])
            mask = keep_mask(
                t.column("dataset").to_pylist(),
                t.column("subject").to_pylist(),
                exclude_subjects,
                exclude_datasets,
            )
            lengths = pc.list_value_length(t.column("token_ids")).to_numpy(zero_copy_only=False)
            mask &= np.nan_to_num(lengths, nan=0) >= min_tokens
            kept.append(np.flatnonzero(mask))
        return kept


def keep_mask(
    datasets: list[str],
    subjects: list[str],
    exclude_subjects: Sequence[str],
    exclude_datasets: Sequence[str],
) -> np.ndarray:
    """Boolean mask of the rows (their dataset and subject) not excluded by dataset or by
    ``dataset:subject`` key."""
    ex_s, ex_d = set(exclude_subjects), set(exclude_datasets)
    return np.array(
        [d not in ex_d and subject_key(d, s) not in ex_s for d, s in zip(datasets, subjects)],
        dtype=bool,
    )


def flat_column(t: pa.Table, name: str, dtype: Any) -> np.ndarray:
    """The values of list column ``name`` of every row, concatenated, as ``dtype``."""
    col = t.column(name).combine_chunks()
    return col.values.to_numpy(zero_copy_only=False).astype(dtype, copy=False)


def descriptor_column(t: pa.Table, n_tokens: int) -> np.ndarray | None:
    """The ``token_desc`` values of ``t``'s rows as float32 (n_tokens, D), or None when the
    table has no such column or every row's is null (shards without descriptors). A column
    null for only some rows, or whose length is not a multiple of the token count, is a
    ValueError (callers name the file): descriptors are never silently dropped."""
    if DESC_COLUMN not in t.column_names:
        return None
    col = t.column(DESC_COLUMN).combine_chunks()
    if len(col) == 0 or col.null_count == len(col):
        return None
    flat = col.values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    if col.null_count or (n_tokens and flat.size % n_tokens) or (not n_tokens and flat.size):
        raise ValueError(
            f"token_desc: {flat.size} values for {n_tokens} tokens ({col.null_count} null rows)"
        )
    return flat.reshape(n_tokens, -1) if n_tokens else flat.reshape(0, 0)


class ShardRows:
    """One shard's token columns as flat numpy arrays plus offsets (cheap row slicing).

    ``desc``: the tokens' standardised descriptors (n, D) when the shard stores them, else
    None (shards written before ``token_desc``)."""

    def __init__(self, path: Path) -> None:
        extra = [DESC_COLUMN] if DESC_COLUMN in pq.read_schema(path).names else []
        t = pq.read_table(path, columns=[*TOKEN_COLUMNS, *extra, "t_start_s"])
        self.t_start = t.column("t_start_s").to_numpy()
        ids = t.column("token_ids").combine_chunks()
        self.offsets = ids.offsets.to_numpy()
        self.ids = ids.values.to_numpy(zero_copy_only=False).astype(np.int64)
        self.onset = flat_column(t, "token_onset_s", np.float64)
        self.duration = flat_column(t, "token_duration_s", np.float32)
        pos = flat_column(t, "token_pos", np.float32)
        if pos.size != self.ids.size * POSITION_DIM:
            raise SourceError(path, f"token_pos must hold {POSITION_DIM} floats per token")
        self.pos = pos.reshape(-1, POSITION_DIM)
        try:
            self.desc = descriptor_column(t, self.ids.size)
        except ValueError as exc:
            raise SourceError(path, str(exc)) from None

    def row(self, r: int, max_tokens: int | None, rng: np.random.Generator) -> dict[str, Any]:
        """Row ``r``'s tokens: ``token_ids`` (n,) int64, ``channel_pos`` (n, POSITION_DIM)
        float32, ``onset_s`` (n,) float32 [s] from its first token, ``duration_s`` (n,)
        float32 [s], and ``desc`` (n, D) float32 when the shard stores descriptors; a row
        longer than ``max_tokens`` is cropped to a contiguous span at an offset drawn from
        ``rng``."""
        a, b = int(self.offsets[r]), int(self.offsets[r + 1])
        if max_tokens is not None and b - a > max_tokens:
            a = a + int(rng.integers(0, b - a - max_tokens + 1))
            b = a + max_tokens
        onset = self.onset[a:b]
        t0 = onset[0] if b > a else self.t_start[r]
        out = {
            "token_ids": self.ids[a:b],
            "channel_pos": self.pos[a:b],
            "onset_s": (onset - t0).astype(np.float32),
            "duration_s": self.duration[a:b],
        }
        if self.desc is not None:
            out["desc"] = self.desc[a:b]
        return out


@dataclass
class RecordingTokens:
    """All tokens of one recording, sorted by onset; times [s] from its first sample."""

    ids: np.ndarray  # int64 (n,)
    pos: np.ndarray  # float32 (n, POSITION_DIM)
    onset_s: np.ndarray  # float64 (n,)
    duration_s: np.ndarray  # float32 (n,)
    desc: np.ndarray | None = None  # float32 (n, D) standardised descriptors, if stored

    def between(self, start_s: float, end_s: float) -> dict[str, np.ndarray]:
        """Tokens with onset in [start_s, end_s); onsets made relative to ``start_s``
        (``desc`` too when the shards store descriptors)."""
        a = int(np.searchsorted(self.onset_s, start_s, side="left"))
        b = int(np.searchsorted(self.onset_s, end_s, side="left"))
        out = {
            "token_ids": self.ids[a:b],
            "channel_pos": self.pos[a:b],
            "onset_s": (self.onset_s[a:b] - start_s).astype(np.float32),
            "duration_s": self.duration_s[a:b],
        }
        if self.desc is not None:
            out["desc"] = self.desc[a:b]
        return out


@dataclass
class ShardRecording:
    """One recording as its shard rows hold it: identity, tokens, events, end time [s]."""

    recording_id: str
    dataset: str
    subject: str
    session: str
    trial: str
    #: the last sentence's end [s] from the recording's first sample
    end_s: float
    tokens: RecordingTokens
    #: the union of its sentences' events: dicts with onset [s], duration [s], label,
    #: repetition, kind; sorted by (onset, label)
    events: list[dict[str, Any]] = field(default_factory=list)


def read_dataset_recordings(shards: ShardSet, dataset: str) -> list[ShardRecording]:
    """Every recording of ``dataset`` in the shards, its sentences joined in sentence
    order (recordings in no defined order: a set within each file). ConfigError if the
    dataset has no rows."""
    parts: dict[str, list[tuple[int, pa.Table]]] = {}
    for f in shards.files:
        t = pq.read_table(f, filters=[("dataset", "=", dataset)])
        if t.num_rows == 0:
            continue
        for rid in set(t.column("recording_id").to_pylist()):
            sub = t.filter(pc.equal(t.column("recording_id"), rid))
            for i in range(sub.num_rows):
                parts.setdefault(rid, []).append(
                    (int(sub.column("sentence_index")[i].as_py()), sub.slice(i, 1))
                )
    if not parts:
        raise ConfigError(f"dataset {dataset!r} has no sentences in the shards at {shards.root}")
    out: list[ShardRecording] = []
    for rid, rows in parts.items():
        rows.sort(key=lambda r: r[0])
        t = pa.concat_tables([r[1] for r in rows])
        ids = flat_column(t, "token_ids", np.int64)
        onset = flat_column(t, "token_onset_s", np.float64)
        order = np.argsort(onset, kind="stable")
        try:
            desc = descriptor_column(t, ids.size)
        except ValueError as exc:
            raise SourceError(shards.root, f"recording {rid}: {exc}") from None
        tokens = RecordingTokens(
            ids=ids[order],
            pos=flat_column(t, "token_pos", np.float32).reshape(-1, POSITION_DIM)[order],
            onset_s=onset[order],
            duration_s=flat_column(t, "token_duration_s", np.float32)[order],
            desc=None if desc is None else desc[order],
        )
        seen: dict[tuple[Any, ...], dict[str, Any]] = {}
        for evs in t.column("events").to_pylist():
            for ev in evs or []:
                key = (ev["onset"], ev["duration"], ev["label"], ev["repetition"], ev["kind"])
                seen.setdefault(key, ev)
        first = t.slice(0, 1).to_pylist()[0]
        out.append(
            ShardRecording(
                recording_id=rid,
                dataset=str(first["dataset"]),
                subject=str(first["subject"]),
                session=str(first["session"]),
                trial=str(first["trial"]),
                end_s=float(pc.max(t.column("t_end_s")).as_py()),
                tokens=tokens,
                events=sorted(seen.values(), key=lambda e: (e["onset"], e["label"])),
            )
        )
    return out
