"""Few-shot fine-tuning: adapt the backbone's last layers and a head to one held-out subject.

Per LOSO fold, a copy of the pretrained encoder has its last ``layers`` transformer layers
and final norm unfrozen (everything below stays frozen), and a linear head on the pooled
features (training.embedding.pooled_features, behind a parameter-free LayerNorm) is
trained with cross-entropy. Each batch draws half its windows from the other evaluation
subjects (labelled) and half from the held-out subject's adaptation windows (its first
few-shot fraction in time order), so the few labelled target windows weigh as much as all
the others. The adapted model then classifies the held-out subject's remaining windows.
Nothing else of the target subject is seen.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from emgcorpus.errors import ConfigError
from training.embedding import encode_batch, pooled_width
from training.model import TokenEncoder


@dataclass
class FinetuneConfig:
    """Steps, batch size, learning rate and how many of the last layers are adapted."""

    steps: int = 100
    batch_size: int = 64
    lr: float = 3e-4
    layers: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 2 or self.layers < 0:
            raise ConfigError(
                f"fine-tuning needs steps >= 1, batch_size >= 2 and layers >= 0, got {self}"
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


def finetune_predict(
    encoder: TokenEncoder,
    items: Sequence[dict[str, np.ndarray]],
    y: np.ndarray,
    train_idx: np.ndarray,
    adapt_idx: np.ndarray,
    test_idx: np.ndarray,
    n_classes: int,
    slots: dict[bytes, int],
    config: FinetuneConfig,
    torch_device: torch.device,
) -> np.ndarray:
    """Fine-tune on train + adapt windows (module docstring); predicted classes of test_idx.

    ``items``: every window's tokens (training.embedding.window_items); ``slots``: the
    position slots pooled over (training.embedding.pooling_slots).
    """
    if len(test_idx) == 0:
        return np.zeros(0, np.int64)
    enc = trainable_copy(encoder, config.layers).to(torch_device)
    width = pooled_width(enc.cfg.d_model, len(slots))
    head = nn.Sequential(nn.LayerNorm(width, elementwise_affine=False), nn.Linear(width, n_classes))
    head = head.to(torch_device)
    params = [p for p in enc.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.01)
    rng = np.random.default_rng(config.seed)
    loss_fn = nn.CrossEntropyLoss()
    half = config.batch_size // 2
    pools = [np.asarray(train_idx), np.asarray(adapt_idx)]
    pools = [p for p in pools if len(p)]
    enc.train()
    for _ in range(config.steps):
        picks = np.concatenate(
            [rng.choice(p, size=config.batch_size // len(pools) or half) for p in pools]
        )
        feats = encode_batch(enc, [items[i] for i in picks], slots, torch_device)
        target = torch.as_tensor(y[picks], dtype=torch.int64, device=torch_device)
        loss = loss_fn(head(feats), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    enc.eval()
    preds = []
    with torch.no_grad():
        for a in range(0, len(test_idx), 256):
            chunk = test_idx[a : a + 256]
            feats = encode_batch(enc, [items[i] for i in chunk], slots, torch_device)
            preds.append(head(feats).argmax(-1).cpu().numpy())
    return np.concatenate(preds).astype(np.int64)
