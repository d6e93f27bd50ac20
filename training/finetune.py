"""Supervised fine-tuning per LOSO fold, and few-shot adaptation to one held-out subject.

:func:`supervised_fold` (the ``model-finetune`` method of training.evaluate): a fresh copy
of the pretrained backbone (its last ``layers`` layers unfrozen) and a linear head are
trained on the training subjects' labelled windows only -> zero-shot predictions for the
held-out subject (nothing of it seen); then, for each few-shot split of the held-out
subject (training.evaluate.FEW_SHOT_SPLITS), a copy of that zero-shot model goes on training
on batches of which ``adapt_share`` come from the split's adaptation windows and the rest from
the training subjects, at ``adapt_lr_scale`` x the rate -> few-shot predictions on the split's
test windows. Every few-shot model thus starts from the same zero-shot model. With
``features_of`` it also gives the zero-shot model's pooled features (the head's input) of
those windows, on which training.evaluate fits the frozen method's probe in every regime
(``finetune_adapt`` ``probe``).

The head sits on the pooled features (training.embedding.pooled_features) behind a
parameter-free LayerNorm; the frozen layers below stay as pretrained. Nothing else of the
target subject is seen.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from emgcorpus.errors import ConfigError
from training.embedding import encode_batch, feature_width
from training.model import TokenEncoder


@dataclass
class FinetuneConfig:
    """Steps, batch size, learning rate and how many of the last layers are adapted."""

    steps: int = 100
    batch_size: int = 64
    lr: float = 3e-4
    layers: int = 1
    seed: int = 0
    #: supervised_fold: adaptation steps on the held-out subject's few-shot windows
    #: (0: steps // 2) and their learning rate as a fraction of ``lr``
    adapt_steps: int = 0
    adapt_lr_scale: float = 0.3
    #: share of each adaptation batch drawn from the held-out subject's adaptation windows
    adapt_share: float = 0.5
    #: also max-pool the token outputs (training.embedding.pooled_features)
    pool_max: bool = False
    #: what the head sees of each window (training.embedding.POOLINGS, encode_batch)
    pooling: str = "channels"

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 2 or self.layers < 0:
            raise ConfigError(
                f"fine-tuning needs steps >= 1, batch_size >= 2 and layers >= 0, got {self}"
            )
        if self.adapt_steps < 0 or not self.adapt_lr_scale > 0 or not 0 < self.adapt_share < 1:
            raise ConfigError(
                "fine-tuning needs adapt_steps >= 0, adapt_lr_scale > 0 and 0 < adapt_share < 1,"
                f" got {self}"
            )


def trainable_copy(encoder: TokenEncoder, layers: int) -> TokenEncoder:
    """A deep copy of ``encoder`` with only its last ``layers`` layers and final norm trainable."""
    enc = copy.deepcopy(encoder)
    for p in enc.parameters():
        p.requires_grad_(False)
    blocks = list(enc.encoder.layers)
    if layers > len(blocks):
        raise ConfigError(f"cannot fine-tune {layers} layers of a {len(blocks)}-layer encoder")
    for block in blocks[len(blocks) - layers :]:
        for p in block.parameters():
            p.requires_grad_(True)
    if layers:
        for p in enc.norm.parameters():
            p.requires_grad_(True)
    return enc


@dataclass
class FinetunedFold:
    """What :func:`supervised_fold` gives for one fold."""

    #: the zero-shot model's predicted classes of ``test_idx``
    zero: np.ndarray
    #: per adaptation, the adapted copy's predicted classes of its ``rest_idx``
    few: list[np.ndarray]
    #: the zero-shot model's pooled features (head input) of ``features_of``, or None
    features: np.ndarray | None = None


def supervised_fold(
    encoder: TokenEncoder,
    items: Sequence[dict[str, np.ndarray]],
    y: np.ndarray,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    adaptations: Sequence[tuple[np.ndarray, np.ndarray]],
    n_classes: int,
    slots: dict[bytes, int],
    config: FinetuneConfig,
    torch_device: torch.device,
    features_of: np.ndarray | None = None,
) -> FinetunedFold:
    """One fold of supervised fine-tuning (module docstring): the predicted classes of
    ``test_idx`` after training on ``train_idx`` alone (zero-shot), and for each
    ``(adapt_idx, rest_idx)`` of ``adaptations`` those of ``rest_idx`` after adapting a copy
    of that model with ``adapt_idx`` (few-shot; without adaptation windows, the zero-shot
    model's). With ``features_of``: also the zero-shot model's pooled features (the head's
    input, float32, eval mode) of those windows; only ``train_idx``'s labels are used."""
    enc = trainable_copy(encoder, config.layers).to(torch_device)
    desc_dim = np.asarray(items[0]["desc"]).shape[-1] if items and "desc" in items[0] else 0
    width = feature_width(enc.cfg.d_model, len(slots), desc_dim, config.pooling, config.pool_max)
    head = nn.Sequential(nn.LayerNorm(width, elementwise_affine=False), nn.Linear(width, n_classes))
    head = head.to(torch_device)
    params = [p for p in enc.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.01)
    rng = np.random.default_rng(config.seed)
    loss_fn = nn.CrossEntropyLoss()

    def features(idx: np.ndarray) -> torch.Tensor:
        chosen = [items[int(i)] for i in idx]
        return encode_batch(enc, chosen, slots, torch_device, config.pool_max, config.pooling)

    def train(pools: list[tuple[np.ndarray, float]], steps: int) -> None:
        pools = [(p, share) for p, share in pools if len(p)]
        if not pools:
            return
        total = sum(share for _, share in pools)
        sizes = [max(1, round(config.batch_size * share / total)) for _, share in pools]
        enc.train()
        head.train()
        for _ in range(steps):
            picks = np.concatenate(
                [rng.choice(p, size=n) for (p, _), n in zip(pools, sizes, strict=True)]
            )
            target = torch.as_tensor(y[picks], dtype=torch.int64, device=torch_device)
            loss = loss_fn(head(features(picks)), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()

    @torch.no_grad()
    def in_batches(
        idx: np.ndarray, out: Callable[[torch.Tensor], np.ndarray], empty: np.ndarray
    ) -> np.ndarray:
        """``out`` of the features of ``idx``, 256 windows at a time, in eval mode
        (``empty`` when there are none)."""
        enc.eval()
        head.eval()
        return np.concatenate(
            [empty] + [out(features(idx[a : a + 256])) for a in range(0, len(idx), 256)]
        )

    def predict(idx: np.ndarray) -> np.ndarray:
        return in_batches(
            idx, lambda f: head(f).argmax(-1).cpu().numpy().astype(np.int64), np.zeros(0, np.int64)
        )

    def pooled(idx: np.ndarray) -> np.ndarray:
        return in_batches(idx, lambda f: f.float().cpu().numpy(), np.zeros((0, width), np.float32))

    train([(np.asarray(train_idx), 1.0)], config.steps)
    zero = predict(np.asarray(test_idx))
    feats = None if features_of is None else pooled(np.asarray(features_of))
    zero_state = copy.deepcopy((enc.state_dict(), head.state_dict(), opt.state_dict()))
    few: list[np.ndarray] = []
    for adapt_idx, rest_idx in adaptations:
        if len(adapt_idx) == 0:
            few.append(predict(np.asarray(rest_idx)))
            continue
        enc_state, head_state, opt_state = copy.deepcopy(zero_state)
        enc.load_state_dict(enc_state)
        head.load_state_dict(head_state)
        opt.load_state_dict(opt_state)
        for group in opt.param_groups:
            group["lr"] = config.lr * config.adapt_lr_scale
        train(
            [
                (np.asarray(train_idx), 1.0 - config.adapt_share),
                (np.asarray(adapt_idx), config.adapt_share),
            ],
            config.adapt_steps or config.steps // 2,
        )
        few.append(predict(np.asarray(rest_idx)))
    return FinetunedFold(zero, few, feats)
