"""The training curve's throughput: tokens/s per logging step and elapsed seconds, also
with a DataLoader worker; the collated batch is the one the items describe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from emgcorpus.shards.special_tokens import PAD
from emgcorpus.topology import POSITION_DIM
from tests.training.toy import periodic_shards
from training.data import collate_tokens
from training.pretrain import PretrainConfig, pretrain

TINY: dict[str, Any] = {"d_model": 16, "n_layers": 1, "n_heads": 2, "d_ff": 32, "dropout": 0.0}


@pytest.mark.parametrize("workers", [0, 1])
def test_curve_tokens_per_s_is_the_rate_since_the_previous_point(
    tmp_path: Path, workers: int
) -> None:
    shards = periodic_shards(tmp_path / "shards", n_rows=16)
    cfg = PretrainConfig(steps=6, batch_size=4, log_every=2, loader_workers=workers)
    res = pretrain(shards, tmp_path / "ckpt", model_config=TINY, config=cfg, progress=False)
    assert [p["step"] for p in res.curve] == [2, 4, 6]
    elapsed = [p["elapsed_s"] for p in res.curve]
    assert elapsed == sorted(elapsed) and elapsed[0] > 0
    for prev, p in zip(res.curve, res.curve[1:], strict=False):
        rate = (p["tokens"] - prev["tokens"]) / (p["elapsed_s"] - prev["elapsed_s"])
        assert p["tokens_per_s"] == pytest.approx(rate, rel=1e-6)
    # resuming goes on counting elapsed seconds from where the first run stopped
    more = PretrainConfig(steps=8, batch_size=4, log_every=2, loader_workers=workers)
    res2 = pretrain(shards, tmp_path / "ckpt2", config=more, resume=res.checkpoint, progress=False)
    assert res2.curve[-1]["step"] == 8
    assert res2.curve[-1]["elapsed_s"] > elapsed[-1]


def test_collate_pads_and_keeps_every_field() -> None:
    rng = np.random.default_rng(0)
    items = []
    for n in (3, 0, 5):
        items.append(
            {
                "token_ids": np.arange(10, 10 + n, dtype=np.int64),
                "channel_pos": rng.normal(size=(n, POSITION_DIM)).astype(np.float32),
                "onset_s": np.linspace(0, 1, n, dtype=np.float32),
                "duration_s": np.full(n, 0.1, np.float32),
                "desc": rng.normal(size=(n, 2)).astype(np.float32),
                "position": 7 + n,
            }
        )
    b = collate_tokens(items)
    assert b["token_ids"].shape == (3, 5) and b["token_ids"].dtype == torch.int64
    assert b["token_ids"][0].tolist() == [10, 11, 12, PAD, PAD]
    assert b["token_ids"][1].tolist() == [PAD] * 5
    assert b["pad_mask"].tolist()[2] == [False] * 5
    assert b["pad_mask"][0].tolist() == [False, False, False, True, True]
    assert torch.equal(b["channel_pos"][2], torch.from_numpy(items[2]["channel_pos"]))
    assert torch.isnan(b["desc"][0, 3:]).all() and torch.equal(
        b["desc"][0, :3], torch.from_numpy(items[0]["desc"])
    )
    assert b["position"].tolist() == [10, 7, 12]
    assert b["onset_s"].dtype == torch.float32 and float(b["duration_s"][1].sum()) == 0.0
