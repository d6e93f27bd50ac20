"""Token shards for torch: a streaming, shardable, resumable dataset and the padding collate.

Shards are opened and read through emgcorpus.shards.reader (ShardSet, ShardRows); this
module adds the torch side on top.

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

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from emgcorpus.errors import ConfigError
from emgcorpus.shards.reader import (
    RecordingTokens,
    ShardRows,
    ShardSet,
    read_dataset_recordings,
)
from emgcorpus.shards.special_tokens import PAD as PAD_ID
from emgcorpus.topology import POSITION_DIM
from training.windows import RecordingEvents


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


class ShardDataset(IterableDataset):
    """Sentences of token shards, streamed; see the module docstring for order and resume.

    Each item is a dict of numpy arrays: ``token_ids`` (n,) int64, ``channel_pos``
    (n, POSITION_DIM) float32, ``onset_s`` (n,) float32 [s] from the first token,
    ``duration_s`` (n,) float32 [s], ``desc`` (n, D) float32 when the shards store
    descriptors, and ``position`` (int, its global position).
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
        self._kept = self.shards.kept_rows(exclude_subjects, exclude_datasets, min_tokens)

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
        cache: tuple[int, ShardRows] | None = None
        for p in range(start, len(shard_idx), n_slots):
            s = int(shard_idx[p])
            if cache is None or cache[0] != s:
                cache = (s, ShardRows(self.shards.files[s]))
            rng = np.random.default_rng([self.seed, self.epoch, p])
            item = cache[1].row(int(row_idx[p]), self.max_tokens, rng)
            item["position"] = p
            if get_worker_info() is None:
                self.position = p + 1
            yield item


def collate_tokens(items: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Pad a list of token sequences to one batch.

    Returns ``token_ids`` (B, L) int64 padded with PAD, ``channel_pos`` (B, L, P), ``onset_s``
    and ``duration_s`` (B, L) float32, ``pad_mask`` (B, L) bool (True = padding), ``desc``
    (B, L, D) float32 NaN-padded when every item carries descriptors (of one width), and
    ``position`` (B,) int64 when the items carry one. The batch is filled in numpy arrays
    and handed to torch without a copy (one conversion per field, not per item).
    """
    b = len(items)
    lengths = [len(it["token_ids"]) for it in items]
    length = max([*lengths, 1])
    ids = np.full((b, length), PAD_ID, dtype=np.int64)
    pos = np.zeros((b, length, POSITION_DIM), dtype=np.float32)
    onset = np.zeros((b, length), dtype=np.float32)
    dur = np.zeros((b, length), dtype=np.float32)
    pad = np.ones((b, length), dtype=bool)
    dims = {np.shape(it["desc"])[-1] for it in items if "desc" in it}
    with_desc = len(dims) == 1 and all("desc" in it for it in items)
    desc = np.full((b, length, dims.pop()), np.nan, np.float32) if with_desc else None
    for i, (it, n) in enumerate(zip(items, lengths, strict=True)):
        if n:
            ids[i, :n] = it["token_ids"]
            pos[i, :n] = it["channel_pos"]
            onset[i, :n] = it["onset_s"]
            dur[i, :n] = it["duration_s"]
            pad[i, :n] = False
            if desc is not None:
                desc[i, :n] = it["desc"]
    out = {
        "token_ids": torch.from_numpy(ids),
        "channel_pos": torch.from_numpy(pos),
        "onset_s": torch.from_numpy(onset),
        "duration_s": torch.from_numpy(dur),
        "pad_mask": torch.from_numpy(pad),
    }
    if desc is not None:
        out["desc"] = torch.from_numpy(desc)
    if all("position" in it for it in items):
        out["position"] = torch.tensor([int(it["position"]) for it in items], dtype=torch.int64)
    return out


def check_descriptors(desc_dim: int, shards: ShardSet, what: str = "the model") -> None:
    """ConfigError unless shards with ``desc_dim`` descriptor entries per token can feed a
    model that embeds ``desc_dim`` (0: ids only, any shards do)."""
    if desc_dim > 0 and shards.descriptor_dim != desc_dim:
        have = shards.descriptor_dim
        raise ConfigError(
            f"{what} embeds {desc_dim} descriptor entries per token, the shards at "
            f"{shards.root} store {have or 'none (written before token_desc)'}: "
            + ("re-tokenize with this version" if not have else "use the matching shards")
        )


def load_dataset_tokens(
    shards: ShardSet, dataset: str
) -> tuple[dict[str, RecordingTokens], list[RecordingEvents]]:
    """Every token and the events of each recording of ``dataset`` in the shards.

    Returns (tokens by recording id, one RecordingEvents per recording with its events as
    the union of its sentences' events and its duration as the last sentence's end [s]).
    Raises ConfigError if the dataset has no rows in the shards.
    """
    recordings = read_dataset_recordings(shards, dataset)
    tokens = {r.recording_id: r.tokens for r in recordings}
    recs = [
        RecordingEvents(
            recording_id=r.recording_id,
            dataset=r.dataset,
            subject=r.subject,
            session=r.session,
            trial=r.trial,
            duration_s=r.end_s,
            events=r.events,
        )
        for r in recordings
    ]
    return tokens, recs
