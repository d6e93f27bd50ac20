"""Self-supervised masked-token pretraining on token shards (CPU by default, CUDA when asked).

BERT-style masking: each real token is chosen with probability ``mask_prob``; a chosen
token is replaced by MASK (80 %), by a random id (10 %) or kept (10 %), and the model is
trained to predict the original id (cross-entropy on chosen tokens only). The training
curve is logged to ``curve.jsonl`` and to the checkpoint's sidecar, together with the
subjects it saw, so that evaluation can refuse overlap: per logging step the step, epoch,
mean loss since the previous point, tokens seen, ``tokens_per_s`` (real tokens per second
since the previous point, data path included) and ``elapsed_s`` (training seconds so far,
over resumed runs too).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from emgcorpus.errors import ConfigError
from emgcorpus.shards.reader import ShardSet
from emgcorpus.shards.special_tokens import MASK as MASK_ID
from training.checkpoint import CheckpointMeta, load_checkpoint, read_meta, save_checkpoint
from training.data import ShardDataset, check_descriptors, collate_tokens
from training.model import DESC_FROM_SHARDS, VOCAB_FROM_SHARDS, MaskedTokenModel, ModelConfig
from training.torch_device import resolve_torch_device

N_SPECIAL = 5  # PAD, MASK, CLS, SEP, UNK are never drawn as random replacements
OPTIMIZER = "optimizer.pt"  # AdamW state beside the checkpoint, for --resume


def _optimizer_to(opt: torch.optim.Optimizer, device: torch.device) -> None:
    for state in opt.state.values():
        for k, v in state.items():
            if isinstance(v, torch.Tensor):
                state[k] = v.to(device)


@dataclass
class PretrainConfig:
    """Training parameters. ``steps`` (if set) stops early; else ``epochs`` full passes."""

    epochs: int = 1
    steps: int | None = None
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 0.01
    mask_prob: float = 0.15
    max_tokens: int = 256
    seed: int = 0
    #: torch device: ``cpu``, ``cuda`` or ``auto`` (training.torch_device)
    torch_device: str = "cpu"
    #: DataLoader worker processes reading the shards (0: in the training process)
    loader_workers: int = 0
    log_every: int = 10
    warmup_steps: int = 50

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mask_tokens(
    ids: torch.Tensor,
    pad_mask: torch.Tensor,
    mask_prob: float,
    vocab_size: int,
    gen: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(corrupted ids, targets) where targets are -100 except at chosen positions."""
    real = ~pad_mask
    chosen = (torch.rand(ids.shape, generator=gen, device=ids.device) < mask_prob) & real
    if not bool(chosen.any()) and bool(real.any()):
        first = torch.nonzero(real)[0]
        chosen[first[0], first[1]] = True
    targets = torch.where(chosen, ids, torch.full_like(ids, -100))
    roll = torch.rand(ids.shape, generator=gen, device=ids.device)
    corrupted = ids.clone()
    corrupted[chosen & (roll < 0.8)] = MASK_ID
    rand_pos = chosen & (roll >= 0.8) & (roll < 0.9)
    if bool(rand_pos.any()):
        hi = max(vocab_size, N_SPECIAL + 1)
        rnd = torch.randint(N_SPECIAL, hi, ids.shape, generator=gen, device=ids.device)
        corrupted[rand_pos] = rnd[rand_pos]
    return corrupted, targets


@dataclass
class PretrainResult:
    """Where the checkpoint is and what the training curve was."""

    checkpoint: Path
    curve: list[dict[str, float]]
    meta: CheckpointMeta


def pretrain(
    shards: str | Path | ShardSet,
    out_dir: str | Path,
    *,
    model_config: ModelConfig | Mapping[str, Any] | None = None,
    config: PretrainConfig | None = None,
    exclude_subjects: Sequence[str] = (),
    exclude_datasets: Sequence[str] = (),
    progress: bool = True,
    resume: str | Path | None = None,
) -> PretrainResult:
    """Pretrain a :class:`MaskedTokenModel` on the shards; write a checkpoint to ``out_dir``.

    ``model_config``: a ModelConfig, or a mapping of ModelConfig fields to override its
    defaults; a ``vocab_size`` left at VOCAB_FROM_SHARDS becomes the shards', a ``desc_dim``
    of DESC_FROM_SHARDS the shards' descriptor_dim (ConfigError if the model embeds
    descriptors the shards lack). The descriptor of every token chosen for prediction is
    hidden (NaN) from the model, so the task is not trivial.
    Rows of excluded subjects (``dataset:subject``) and datasets are never read.

    ``resume``: a checkpoint folder written by this function. Training goes on from its
    weights, optimizer state, step count and data position (the sidecar's ``data_state``:
    the rows already consumed are not read again); its model config wins over
    ``model_config``; ``config.steps``/``epochs`` count from the start of the first run.
    Raises ConfigError if the checkpoint's vocabulary or seed differs from this run's.
    """
    cfg = config or PretrainConfig()
    shard_set = shards if isinstance(shards, ShardSet) else ShardSet.open(shards)
    torch.manual_seed(cfg.seed)
    device = resolve_torch_device(cfg.torch_device)
    prev: CheckpointMeta | None = None
    if resume is not None:
        prev = read_meta(resume)
        if prev.vocab_id and shard_set.vocab_id and prev.vocab_id != shard_set.vocab_id:
            raise ConfigError(
                f"--resume {resume}: checkpoint vocabulary {prev.vocab_id} differs from the "
                f"shards' {shard_set.vocab_id}"
            )
        mcfg = prev.model
    else:
        mcfg = (
            model_config
            if isinstance(model_config, ModelConfig)
            else ModelConfig(**(model_config or {}))
        )
        if mcfg.vocab_size == VOCAB_FROM_SHARDS:
            mcfg = replace(mcfg, vocab_size=shard_set.vocab_size())
        if mcfg.desc_dim == DESC_FROM_SHARDS:
            mcfg = replace(mcfg, desc_dim=shard_set.descriptor_dim)
    check_descriptors(mcfg.desc_dim, shard_set)
    subjects = shard_set.subjects(exclude_subjects, exclude_datasets)
    if not subjects:
        raise ConfigError("no pretraining rows left after --exclude-subjects/--exclude-datasets")
    ds = ShardDataset(
        shard_set,
        seed=cfg.seed,
        max_tokens=cfg.max_tokens,
        exclude_subjects=exclude_subjects,
        exclude_datasets=exclude_datasets,
    )
    loader = DataLoader(
        ds,
        batch_size=cfg.batch_size,
        collate_fn=collate_tokens,
        num_workers=cfg.loader_workers,
        pin_memory=device.type == "cuda",
        prefetch_factor=4 if cfg.loader_workers > 0 else None,
    )
    model = MaskedTokenModel(mcfg)
    if resume is not None:
        model, _ = load_checkpoint(resume)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, epoch, tokens = 0, 0, 0
    curve: list[dict[str, float]] = []
    if prev is not None and resume is not None:
        optim_path = Path(resume) / OPTIMIZER
        if optim_path.exists():
            opt.load_state_dict(torch.load(optim_path, map_location="cpu", weights_only=True))
        ds.load_state_dict(prev.train.get("data_state", {"epoch": 0, "position": 0}))
        step = int(prev.train.get("steps_done", 0))
        epoch = ds.epoch
        curve = list(prev.curve)
        tokens = int(curve[-1]["tokens"]) if curve else 0
    model = model.to(device)
    _optimizer_to(opt, device)
    start_step = step
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + start_step + 1) / max(1, cfg.warmup_steps))
    )
    gen = torch.Generator(device=device)
    gen.manual_seed(cfg.seed + start_step)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=-100)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    curve_path = out / "curve.jsonl"
    n_batches = -(-len(ds) // cfg.batch_size)
    total = cfg.steps if cfg.steps is not None else cfg.epochs * n_batches
    bar = tqdm(
        total=total,
        initial=step,
        desc="pretrain",
        unit="step",
        disable=not progress or not sys.stderr.isatty(),
    )
    t0 = time.perf_counter()
    t_log, tokens_log = t0, tokens
    elapsed0 = float(curve[-1].get("elapsed_s", 0.0)) if curve else 0.0
    run_loss, run_n = 0.0, 0
    model.train()
    with curve_path.open("w") as fh:
        for point in curve:
            fh.write(json.dumps(point) + "\n")
        fresh_epoch = prev is None
        while step < total:
            if fresh_epoch:
                ds.set_epoch(epoch)
            fresh_epoch = True
            for batch in loader:
                if "position" in batch:
                    ds.position = int(batch["position"].max()) + 1
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                ids, targets = mask_tokens(
                    batch["token_ids"], batch["pad_mask"], cfg.mask_prob, mcfg.vocab_size, gen
                )
                masked = {**batch, "token_ids": ids}
                if "desc" in batch:  # the model must not read a predicted token's descriptor
                    hide = (targets != -100).unsqueeze(-1)
                    masked["desc"] = batch["desc"].masked_fill(hide, float("nan"))
                logits = model(masked)
                loss = loss_fn(logits.reshape(-1, mcfg.vocab_size), targets.reshape(-1))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
                step += 1
                tokens += int((~batch["pad_mask"]).sum())
                run_loss += float(loss.detach())
                run_n += 1
                bar.update(1)
                if step % cfg.log_every == 0 or step == total:
                    now = time.perf_counter()
                    dt = now - t_log
                    point = {
                        "step": step,
                        "epoch": epoch,
                        "loss": run_loss / run_n,
                        "tokens": tokens,
                        "tokens_per_s": (tokens - tokens_log) / dt if dt > 0 else 0.0,
                        "elapsed_s": elapsed0 + now - t0,
                    }
                    t_log, tokens_log = now, tokens
                    curve.append(point)
                    fh.write(json.dumps(point) + "\n")
                    fh.flush()
                    bar.set_postfix(loss=f"{point['loss']:.3f}")
                    run_loss, run_n = 0.0, 0
                if step >= total:
                    break
            if step >= total and ds.position < len(ds):
                break
            epoch += 1
            if n_batches == 0:
                break
    bar.close()
    meta = CheckpointMeta(
        model=mcfg,
        vocab_id=shard_set.vocab_id,
        snapshot=shard_set.snapshot,
        pretrain_subjects=subjects,
        pretrain_datasets=sorted({s.split(":", 1)[0] for s in subjects}),
        excluded_subjects=sorted(exclude_subjects),
        excluded_datasets=sorted(exclude_datasets),
        train={
            **cfg.to_dict(),
            "torch_device_used": str(device),
            "steps_done": step,
            "data_state": ds.state_dict(),
            "shards": str(shard_set.root),
        },
        curve=curve,
    )
    save_checkpoint(out, model.cpu(), meta)
    _optimizer_to(opt, torch.device("cpu"))
    tmp = out / (OPTIMIZER + ".tmp")
    torch.save(opt.state_dict(), tmp)
    tmp.replace(out / OPTIMIZER)
    return PretrainResult(checkpoint=out, curve=curve, meta=meta)
