"""Reading token shards: a streaming, shardable, resumable dataset and the padding collate.

Shards follow ``emgcorpus.shards.schema.SHARD_SCHEMA`` (one row = one sentence of one
recording) and are listed by ``index.json`` beside them (else every ``*.parquet`` in the
folder, sorted by name).

:class:`ShardDataset` is a ``torch.utils.data.IterableDataset``. Each epoch has one *global
sequence* of rows: shards in a seeded random order, rows within each shard in a seeded
random order (``seed``, ``epoch``). Reader slot ``s`` of ``n`` (``n`` = world size x
DataLoader workers; rank from ``torch.distributed`` when it is initialised, worker from
``get_worker_info``) yields the global positions ``s, s + n, s + 2n, ...``, so every row is
read exactly once per epoch across all ranks and workers, and each worker only opens the
shards it has rows in (one shard in memory at a time).

Resuming: ``state_dict()`` is ``{"epoch", "position", "seed"}``; ``position`` counts the
rows of the epoch's global sequence already consumed; after ``load_state_dict`` every slot
skips the global positions below it and yields exactly the remaining rows. A single-process
trainer on ``world`` ranks that consumed ``m`` rows per rank is at position ``m * world``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch
from torch.utils.data import IterableDataset, get_worker_info

from emgcorpus.errors import ConfigError, SourceError
from emgcorpus.recording import subject_key
from emgcorpus.topology import POSITION_DIM
from training.windows import RecordingEvents

try:  # the contract of vocab/special_tokens.py: PAD=0, MASK=1, CLS=2, SEP=3, UNK=4
    from emgcorpus.shards.special_tokens import PAD as PAD_ID  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - until the vocab module lands
    PAD_ID = 0

TOKEN_COLUMNS = ["token_ids", "token_channel", "token_onset_s", "token_duration_s", "token_pos"]
META_COLUMNS = ["recording_id", "dataset", "subject", "session", "trial", "t_start_s", "t_end_s"]


@dataclass(frozen=True)
class ShardSet:
    """The shard files of one tokenized corpus and the index that describes them."""

    root: Path
    files: tuple[Path, ...]
    index: dict[str, Any]

    @classmethod
    def open(cls, root: str | Path) -> ShardSet:
        """Open a shard folder (``index.json`` if present, else ``*.parquet``)."""
        root = Path(root)
        if not root.is_dir():
            raise SourceError(root, "shard folder not found (expected a folder of Parquet shards)")
        index_path = root / "index.json"
        index: dict[str, Any] = {}
        if index_path.exists():
            try:
                index = json.loads(index_path.read_text())
            except json.JSONDecodeError as exc:
                raise SourceError(index_path, f"not valid JSON: {exc}") from None
            entries = index.get("shards")
            if not isinstance(entries, list):
                raise SourceError(index_path, "expected a 'shards' list of {file, rows, ...}")
            files = tuple(root / str(e["file"]) for e in entries)
            missing = [f.name for f in files if not f.exists()]
            if missing:
                raise SourceError(index_path, f"lists shards that do not exist: {missing[:5]}")
        else:
            files = tuple(sorted(root.glob("*.parquet")))
        if not files:
            raise SourceError(root, "no shards: expected index.json or *.parquet files")
        return cls(root=root, files=files, index=index)

    @property
    def vocab_id(self) -> str | None:
        v = self.index.get("vocab_id")
        return None if v is None else str(v)

    @property
    def snapshot(self) -> Any:
        return self.index.get("snapshot")

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
            mask = _keep_mask(ds, sj, exclude_subjects, exclude_datasets)
            keys.update(subject_key(d, s) for d, s, m in zip(ds, sj, mask) if m)
        return sorted(keys)


def _keep_mask(
    datasets: list[str],
    subjects: list[str],
    exclude_subjects: Sequence[str],
    exclude_datasets: Sequence[str],
) -> np.ndarray:
    ex_s, ex_d = set(exclude_subjects), set(exclude_datasets)
    return np.array(
        [d not in ex_d and subject_key(d, s) not in ex_s for d, s in zip(datasets, subjects)],
        dtype=bool,
    )


def reader_slot(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """(slot, n_slots) of the calling reader: rank x workers + worker id."""
    if rank is None or world_size is None:
        rank, world_size = 0, 1
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            rank, world_size = dist.get_rank(), dist.get_world_size()
    info = get_worker_info()
    wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
    return rank * nw + wid, world_size * nw


class _ShardRows:
    """One shard's token columns as flat numpy arrays plus offsets (cheap row slicing)."""

    def __init__(self, path: Path) -> None:
        t = pq.read_table(path, columns=[*TOKEN_COLUMNS, "t_start_s"])
        self.t_start = t.column("t_start_s").to_numpy()
        ids = t.column("token_ids").combine_chunks()
        self.offsets = ids.offsets.to_numpy()
        self.ids = ids.values.to_numpy(zero_copy_only=False).astype(np.int64)
        self.onset = _flat(t, "token_onset_s", np.float64)
        self.duration = _flat(t, "token_duration_s", np.float32)
        pos = _flat(t, "token_pos", np.float32)
        if pos.size != self.ids.size * POSITION_DIM:
            raise SourceError(path, f"token_pos must hold {POSITION_DIM} floats per token")
        self.pos = pos.reshape(-1, POSITION_DIM)

    def row(self, r: int, max_tokens: int | None, rng: np.random.Generator) -> dict[str, Any]:
        a, b = int(self.offsets[r]), int(self.offsets[r + 1])
        if max_tokens is not None and b - a > max_tokens:
            a = a + int(rng.integers(0, b - a - max_tokens + 1))
            b = a + max_tokens
        onset = self.onset[a:b]
        t0 = onset[0] if b > a else self.t_start[r]
        return {
            "token_ids": self.ids[a:b],
            "channel_pos": self.pos[a:b],
            "onset_s": (onset - t0).astype(np.float32),
            "duration_s": self.duration[a:b],
        }


def _flat(t: pa.Table, name: str, dtype: Any) -> np.ndarray:
    col = t.column(name).combine_chunks()
    return col.values.to_numpy(zero_copy_only=False).astype(dtype, copy=False)


class ShardDataset(IterableDataset):
    """Sentences of token shards, streamed; see the module docstring for order and resume.

    Each item is a dict of numpy arrays: ``token_ids`` (n,) int64, ``channel_pos``
    (n, POSITION_DIM) float32, ``onset_s`` (n,) float32 [s] from the first token,
    ``duration_s`` (n,) float32 [s], and ``position`` (int, its global position).
    ``max_tokens`` crops longer sentences to a seeded random contiguous span.
    """

    def __init__(
        self,
        shards: ShardSet | str | Path,
        *,
        seed: int = 0,
        shuffle: bool = True,
        max_tokens: int | None = 512,
        exclude_subjects: Sequence[str] = (),
        exclude_datasets: Sequence[str] = (),
        rank: int | None = None,
        world_size: int | None = None,
        min_tokens: int = 1,
    ) -> None:
        super().__init__()
        self.shards = shards if isinstance(shards, ShardSet) else ShardSet.open(shards)
        self.seed = seed
        self.shuffle = shuffle
        self.max_tokens = max_tokens
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.position = 0
        self._kept: list[np.ndarray] = []
        for f in self.shards.files:
            t = pq.read_table(f, columns=["dataset", "subject", "token_ids"])
            mask = _keep_mask(
                t.column("dataset").to_pylist(),
                t.column("subject").to_pylist(),
                exclude_subjects,
                exclude_datasets,
            )
            lengths = pc.list_value_length(t.column("token_ids")).to_numpy(zero_copy_only=False)
            mask &= np.nan_to_num(lengths, nan=0) >= min_tokens
            self._kept.append(np.flatnonzero(mask))

    def __len__(self) -> int:
        """Rows per epoch across all readers."""
        return int(sum(len(k) for k in self._kept))

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch`` from its beginning (a new seeded order)."""
        self.epoch, self.position = int(epoch), 0

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if "seed" in state and int(state["seed"]) != self.seed:
            raise ConfigError(
                f"resume state was written with seed {state['seed']}, dataset has {self.seed}"
            )
        self.epoch, self.position = int(state["epoch"]), int(state["position"])

    def global_sequence(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """(shard index, row index) of every row of ``epoch``, in reading order."""
        n_shards = len(self._kept)
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(n_shards) if self.shuffle else np.arange(n_shards)
        shard_idx, row_idx = [], []
        for s in order:
            rows = self._kept[s]
            if self.shuffle:
                rows = np.random.default_rng([self.seed, epoch, int(s)]).permutation(rows)
            shard_idx.append(np.full(len(rows), s, dtype=np.int64))
            row_idx.append(rows.astype(np.int64))
        if not shard_idx:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(shard_idx), np.concatenate(row_idx)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        slot, n_slots = reader_slot(self.rank, self.world_size)
        shard_idx, row_idx = self.global_sequence(self.epoch)
        start = self.position + ((slot - self.position) % n_slots)
        cache: tuple[int, _ShardRows] | None = None
        for p in range(start, len(shard_idx), n_slots):
            s = int(shard_idx[p])
            if cache is None or cache[0] != s:
                cache = (s, _ShardRows(self.shards.files[s]))
            rng = np.random.default_rng([self.seed, self.epoch, p])
            item = cache[1].row(int(row_idx[p]), self.max_tokens, rng)
            item["position"] = p
            if get_worker_info() is None:
                self.position = p + 1
            yield item


def collate_tokens(items: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Pad a list of token sequences to one batch.

    Returns ``token_ids`` (B, L) int64 padded with PAD, ``channel_pos`` (B, L, P), ``onset_s``
    and ``duration_s`` (B, L) float32, ``pad_mask`` (B, L) bool (True = padding), and
    ``position`` (B,) int64 when the items carry one.
    """
    b = len(items)
    length = max([len(it["token_ids"]) for it in items] + [1])
    ids = torch.full((b, length), PAD_ID, dtype=torch.int64)
    pos = torch.zeros((b, length, POSITION_DIM), dtype=torch.float32)
    onset = torch.zeros((b, length), dtype=torch.float32)
    dur = torch.zeros((b, length), dtype=torch.float32)
    pad = torch.ones((b, length), dtype=torch.bool)
    for i, it in enumerate(items):
        n = len(it["token_ids"])
        if n:
            ids[i, :n] = torch.tensor(np.asarray(it["token_ids"], dtype=np.int64))
            pos[i, :n] = torch.tensor(np.asarray(it["channel_pos"], dtype=np.float32))
            onset[i, :n] = torch.tensor(np.asarray(it["onset_s"], dtype=np.float32))
            dur[i, :n] = torch.tensor(np.asarray(it["duration_s"], dtype=np.float32))
            pad[i, :n] = False
    out = {"token_ids": ids, "channel_pos": pos, "onset_s": onset, "duration_s": dur}
    out["pad_mask"] = pad
    if all("position" in it for it in items):
        out["position"] = torch.tensor([int(it["position"]) for it in items], dtype=torch.int64)
    return out


@dataclass
class RecordingTokens:
    """All tokens of one recording, sorted by onset; times [s] from its first sample."""

    ids: np.ndarray  # int64 (n,)
    pos: np.ndarray  # float32 (n, POSITION_DIM)
    onset_s: np.ndarray  # float64 (n,)
    duration_s: np.ndarray  # float32 (n,)

    def between(self, start_s: float, end_s: float) -> dict[str, np.ndarray]:
        """Tokens with onset in [start_s, end_s); onsets made relative to ``start_s``."""
        a = int(np.searchsorted(self.onset_s, start_s, side="left"))
        b = int(np.searchsorted(self.onset_s, end_s, side="left"))
        return {
            "token_ids": self.ids[a:b],
            "channel_pos": self.pos[a:b],
            "onset_s": (self.onset_s[a:b] - start_s).astype(np.float32),
            "duration_s": self.duration_s[a:b],
        }


def load_dataset_tokens(
    shards: ShardSet, dataset: str
) -> tuple[dict[str, RecordingTokens], list[RecordingEvents]]:
    """Every token and the events of each recording of ``dataset`` in the shards.

    Returns (tokens by recording id, one RecordingEvents per recording with its events as
    the union of its sentences' events and its duration as the last sentence's end [s]).
    Raises ConfigError if the dataset has no rows in the shards.
    """
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
    tokens: dict[str, RecordingTokens] = {}
    recs: list[RecordingEvents] = []
    for rid, rows in parts.items():
        rows.sort(key=lambda r: r[0])
        t = pa.concat_tables([r[1] for r in rows])
        ids = _flat(t, "token_ids", np.int64)
        onset = _flat(t, "token_onset_s", np.float64)
        order = np.argsort(onset, kind="stable")
        tokens[rid] = RecordingTokens(
            ids=ids[order],
            pos=_flat(t, "token_pos", np.float32).reshape(-1, POSITION_DIM)[order],
            onset_s=onset[order],
            duration_s=_flat(t, "token_duration_s", np.float32)[order],
        )
        seen: dict[tuple[Any, ...], dict[str, Any]] = {}
        for evs in t.column("events").to_pylist():
            for ev in evs or []:
                key = (ev["onset"], ev["duration"], ev["label"], ev["repetition"], ev["kind"])
                seen.setdefault(key, ev)
        first = t.slice(0, 1).to_pylist()[0]
        recs.append(
            RecordingEvents(
                recording_id=rid,
                dataset=str(first["dataset"]),
                subject=str(first["subject"]),
                session=str(first["session"]),
                trial=str(first["trial"]),
                duration_s=float(pc.max(t.column("t_end_s")).as_py()),
                events=sorted(seen.values(), key=lambda e: (e["onset"], e["label"])),
            )
        )
    return tokens, recs
