"""Masked-token pretraining learns a learnable toy; checkpoints round-trip safely."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from emgcorpus.errors import ConfigError, SourceError
from tests.training.toy import periodic_shards
from training.checkpoint import load_checkpoint, read_meta
from training.embedding import pooled_features
from training.model import MaskedTokenModel, ModelConfig
from training.pretrain import PretrainConfig, pretrain

TINY: dict[str, Any] = {"d_model": 32, "n_layers": 1, "n_heads": 2, "d_ff": 64, "dropout": 0.0}


def test_masked_token_loss_decreases_on_a_learnable_toy(tmp_path: Path) -> None:
    shards = periodic_shards(tmp_path / "shards")
    cfg = PretrainConfig(
        steps=60, batch_size=8, lr=3e-3, mask_prob=0.3, log_every=10, warmup_steps=5
    )
    res = pretrain(shards, tmp_path / "ckpt", model_config=TINY, config=cfg, progress=False)
    losses = [p["loss"] for p in res.curve]
    assert len(losses) == 6
    # uniform guessing over 12 ids costs ln 12 = 2.48; the channel position gives the id away
    assert losses[-1] < 0.5 * losses[0]
    assert losses[-1] < 0.5
    lines = (tmp_path / "ckpt" / "curve.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["step"] == 60


def test_checkpoint_round_trip_with_weights_only_and_metadata(tmp_path: Path) -> None:
    shards = periodic_shards(tmp_path / "shards", n_rows=8)
    cfg = PretrainConfig(steps=2, batch_size=4)
    res = pretrain(
        shards,
        tmp_path / "ckpt",
        model_config=TINY,
        config=cfg,
        exclude_subjects=["toy:s3"],
        progress=False,
    )
    model, meta = load_checkpoint(res.checkpoint)
    assert isinstance(model, MaskedTokenModel)
    assert meta.vocab_id == "toy-vocab"
    assert meta.snapshot == {"v": 1}
    assert meta.pretrain_subjects == ["toy:s0", "toy:s1", "toy:s2"]
    assert meta.excluded_subjects == ["toy:s3"]
    assert meta.pretrain_datasets == ["toy"]
    assert meta.model.d_model == 32
    saved = torch.load(res.checkpoint / "model.pt", weights_only=True)
    for k, v in model.state_dict().items():
        assert torch.equal(saved[k], v)
    assert read_meta(res.checkpoint / "model.pt").train["steps_done"] == 2


def test_checkpoint_refuses_pickled_objects(tmp_path: Path) -> None:
    shards = periodic_shards(tmp_path / "shards", n_rows=8)
    res = pretrain(
        shards, tmp_path / "c", model_config=TINY, config=PretrainConfig(steps=1), progress=False
    )
    torch.save({"evil": ConfigError("x")}, res.checkpoint / "model.pt")
    with pytest.raises(SourceError, match="weights-only"):
        load_checkpoint(res.checkpoint)


def test_model_accepts_any_layout_and_empty_windows() -> None:
    model = MaskedTokenModel(ModelConfig(vocab_size=10, **TINY))
    batch = {
        "token_ids": torch.tensor([[5, 6, 7], [0, 0, 0]]),
        "channel_pos": torch.randn(2, 3, 8),
        "onset_s": torch.rand(2, 3),
        "duration_s": torch.rand(2, 3),
        "pad_mask": torch.tensor([[False, False, False], [True, True, True]]),
    }
    assert model(batch).shape == (2, 3, 10)
    emb = pooled_features(model.encoder.encode(batch), batch["pad_mask"], None, 0)
    assert emb.shape == (2, 64) and torch.isfinite(emb).all()


def test_model_config_checks_heads() -> None:
    with pytest.raises(ConfigError, match="divisible"):
        ModelConfig(vocab_size=10, d_model=30, n_heads=4)
