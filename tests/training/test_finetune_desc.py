"""Supervised fine-tuning with the descriptor path (poolings ``channels-desc`` and
``cls-mean-desc``).

The classes differ only in their tokens' descriptors, relative across two electrode
positions (same ids, same positions, same times): a head that sees the pooled descriptors
separates them, one without does not.
"""

from __future__ import annotations

import numpy as np
import torch

from emgcorpus.topology import POSITION_DIM
from training.finetune import FinetuneConfig, supervised_fold
from training.model import ModelConfig, TokenEncoder


def _items(n: int, rng: np.random.Generator) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
    pos = np.zeros((2, POSITION_DIM), np.float32)
    pos[0, 0], pos[1, 1] = 1.0, 1.0
    items: list[dict[str, np.ndarray]] = []
    y = []
    for k in range(n):
        label = k % 2
        desc = np.zeros((4, 2), np.float32)
        # class 1: position 0 stronger than position 1; class 0: the reverse (+ a common
        # per-window offset, which the relative pooling removes)
        offset = rng.normal(0, 2.0)
        desc[:, 0] = offset + np.where(np.arange(4) % 2 == label, 1.0, -1.0)
        items.append(
            {
                "token_ids": np.full(4, 5, np.int64),
                "channel_pos": pos[np.arange(4) % 2],
                "onset_s": np.linspace(0.0, 0.3, 4, dtype=np.float32),
                "duration_s": np.full(4, 0.05, np.float32),
                "desc": desc,
            }
        )
        y.append(label)
    return items, np.array(y, np.int64)


def test_the_head_sees_the_descriptors_relative_to_the_window() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    items, y = _items(96, rng)
    encoder = TokenEncoder(ModelConfig(vocab_size=8, d_model=16, n_layers=1, n_heads=2, desc_dim=0))
    slots = {items[0]["channel_pos"][0].tobytes(): 0, items[0]["channel_pos"][1].tobytes(): 1}
    assert len(slots) == 2
    train, test = np.arange(64), np.arange(64, 96)
    adapt, rest = np.arange(64, 72), np.arange(72, 96)
    accuracy = {}
    for pooling in ("channels", "channels-desc", "cls-mean-desc"):
        cfg = FinetuneConfig(steps=60, lr=3e-3, layers=0, pooling=pooling)
        fold = supervised_fold(
            encoder, items, y, train, test, [(adapt, rest)], 2, slots, cfg, torch.device("cpu")
        )
        assert len(fold.zero) == len(test) and [len(f) for f in fold.few] == [len(rest)]
        assert fold.features is None  # none asked for
        accuracy[pooling] = float((fold.zero == y[test]).mean())
    # ids-only encoder: the windows look alike without the descriptors
    assert accuracy["channels"] <= 0.75
    assert accuracy["channels-desc"] >= 0.95
    assert accuracy["cls-mean-desc"] >= 0.95
