"""Round-two training features: resume, per-position pooling, few-shot fine-tuning, filters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from emgcorpus.errors import ConfigError
from tests.training.toy import periodic_shards, pretrained_gesture_toy
from training.checkpoint import read_meta
from training.embedding import pooled_features, position_slots
from training.evaluate import REGIMES, EvalConfig, evaluate_loso
from training.finetune import trainable_copy
from training.model import ModelConfig, TokenEncoder
from training.pretrain import OPTIMIZER, PretrainConfig, pretrain

TINY: dict[str, Any] = {"d_model": 16, "n_layers": 2, "n_heads": 2, "d_ff": 32, "dropout": 0.0}


def test_resume_goes_on_from_the_step_and_data_position(tmp_path: Path) -> None:
    shards = periodic_shards(tmp_path / "shards", n_rows=20)
    cfg = PretrainConfig(steps=7, batch_size=4, log_every=1)
    whole = pretrain(shards, tmp_path / "whole", model_config=TINY, config=cfg, progress=False)
    first = pretrain(
        shards,
        tmp_path / "part",
        model_config=TINY,
        config=PretrainConfig(steps=3, batch_size=4, log_every=1),
        progress=False,
    )
    assert first.meta.train["data_state"]["position"] == 12
    assert (tmp_path / "part" / OPTIMIZER).exists()
    resumed = pretrain(
        shards, tmp_path / "resumed", config=cfg, resume=tmp_path / "part", progress=False
    )
    # 20 rows / 4 per step = 5 steps per epoch: step 7 is 2 steps into epoch 1 either way
    assert resumed.meta.train["steps_done"] == 7
    assert resumed.meta.train["data_state"] == whole.meta.train["data_state"]
    assert resumed.meta.train["data_state"]["epoch"] == 1
    assert [p["step"] for p in resumed.curve] == list(range(1, 8))
    assert resumed.meta.model == first.meta.model
    lines = (tmp_path / "resumed" / "curve.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == list(range(1, 8))
    assert read_meta(tmp_path / "resumed").train["steps_done"] == 7


def test_resume_refuses_a_checkpoint_of_another_vocabulary(tmp_path: Path) -> None:
    a = periodic_shards(tmp_path / "a", n_rows=8)
    pretrain(
        a,
        tmp_path / "ck",
        model_config=TINY,
        config=PretrainConfig(steps=1, batch_size=4),
        progress=False,
    )
    sidecar = tmp_path / "ck" / "model.json"
    meta = json.loads(sidecar.read_text())
    meta["vocab_id"] = "another"
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="vocabulary another"):
        pretrain(a, tmp_path / "r", config=PretrainConfig(steps=2), resume=tmp_path / "ck")


def test_per_position_pooling_averages_each_electrode_separately() -> None:
    h = torch.zeros(1, 5, 2)
    h[0, 0] = torch.tensor([9.0, 9.0])  # CLS
    h[0, 1:] = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 4.0], [7.0, 7.0]])
    pad = torch.tensor([[False, False, False, True]])
    slots = torch.tensor([[0, 0, 1, -1]])
    out = pooled_features(h, pad, slots, n_slots=2)[0]
    cls, mean, per_slot, share = out[:2], out[2:4], out[4:8], out[8:]
    assert cls.tolist() == [9.0, 9.0]
    assert torch.allclose(mean, torch.tensor([4 / 3, 4 / 3]))
    assert per_slot.tolist() == [2.0, 0.0, 0.0, 4.0]
    assert torch.allclose(share, torch.tensor([2 / 3, 1 / 3]))


def test_fine_tuning_copies_and_unfreezes_only_the_last_layers() -> None:
    enc = TokenEncoder(ModelConfig(vocab_size=12, **TINY))
    ft = trainable_copy(enc, layers=1)
    trainable = {n for n, p in ft.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("encoder.layers.1.", "norm.")) for n in trainable)
    assert all(p.requires_grad for p in enc.parameters())  # the original is untouched
    with pytest.raises(ConfigError, match="cannot fine-tune 3 layers"):
        trainable_copy(enc, layers=3)


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return pretrained_gesture_toy(tmp_path_factory.mktemp("adapt"), TINY)


def test_finetuned_few_shot_is_reported_beside_the_frozen_probe(toy: tuple[Path, Path]) -> None:
    shards, ckpt = toy
    cfg = EvalConfig(
        dataset="toy",
        baselines=[],
        few_shot=0.2,
        finetune_steps=20,
        finetune_lr=3e-3,
        finetune_adapt="gradient",
        within_subject=False,
    )
    report = evaluate_loso(shards, ckpt, cfg, progress=False)
    ft = report["methods"]["model-finetune"]
    # gradient path: supervised on the training subjects alone (zero-shot), then adapted
    zs = ft["zero_shot"]
    assert set(zs["n_test_windows"].values()) == {8 * 16}  # every window of the target
    assert zs["n_test_windows"] == report["methods"]["model"]["zero_shot"]["n_test_windows"]
    assert zs["window_accuracy"]["mean"] >= 0.9
    assert ft["unsupervised_calibration"]["window_accuracy"]["mean"] is None
    fs = ft["few_shot"]
    assert set(fs["n_test_windows"].values()) == {6 * 16}
    # gesture tokens differ by class: the adapted head separates them
    assert fs["window_accuracy"]["mean"] >= 0.9
    assert report["methods"]["model"]["few_shot"]["n_test_windows"] == fs["n_test_windows"]
    # the per-class cut adapts a copy of the same zero-shot model on every class's first windows
    fc = ft["few_shot_classes"]
    assert fc["n_test_windows"] == report["methods"]["model"]["few_shot_classes"]["n_test_windows"]
    assert fc["window_accuracy"]["mean"] >= 0.9


def test_pooling_widths_and_position_slots(toy: tuple[Path, Path]) -> None:
    from emgcorpus.shards.reader import ShardSet
    from training.checkpoint import load_checkpoint
    from training.data import load_dataset_tokens
    from training.embedding import embed_windows
    from training.windows import make_windows

    shards, ckpt = toy
    tokens, recs = load_dataset_tokens(ShardSet.open(shards), "toy")
    assert len(position_slots(tokens)) == 4  # the toy's 4 ring electrodes
    windows = make_windows(recs, EvalConfig(dataset="toy").spec)[:10]
    model, _ = load_checkpoint(ckpt)
    d = TINY["d_model"]
    defaults = EvalConfig(dataset="toy")
    embedding: dict[str, Any] = {
        "model_window_s": defaults.model_window_s,
        "max_window_tokens": defaults.max_window_tokens,
        "batch_size": defaults.batch_size,
        "torch_device": "cpu",
        "progress": False,
    }
    for pooling, width in (("cls-mean", 2 * d), ("channels", 2 * d + 4 * (d + 1))):
        emb = embed_windows(model.encoder, tokens, windows, pooling=pooling, **embedding)
        assert emb.shape == (10, width) and np.isfinite(emb).all()
    # max pooling adds the max over the window and per position; the rest is unchanged
    emb = embed_windows(
        model.encoder, tokens, windows, pooling="channels", pool_max=True, **embedding
    )
    assert emb.shape == (10, 3 * d + 4 * (2 * d + 1)) and np.isfinite(emb).all()
    plain = embed_windows(model.encoder, tokens, windows, pooling="channels", **embedding)
    np.testing.assert_allclose(emb[:, : 2 * d], plain[:, : 2 * d], atol=1e-5)
    np.testing.assert_allclose(emb[:, -4:], plain[:, -4:], atol=1e-6)  # token shares
    assert not np.allclose(emb[:, 2 * d : 3 * d], plain[:, 2 * d : 3 * d])  # max != slot mean
    with pytest.raises(ConfigError, match="pooling"):
        embed_windows(model.encoder, tokens, windows, pooling="x", **embedding)


def test_session_and_device_filters(toy: tuple[Path, Path]) -> None:
    shards, ckpt = toy
    with pytest.raises(ConfigError, match=r"has sessions \['1'\]"):
        evaluate_loso(
            shards, ckpt, EvalConfig(dataset="toy", baselines=[], sessions=["x"]), progress=False
        )
    with pytest.raises(ConfigError, match="needs the lake"):
        evaluate_loso(
            shards,
            ckpt,
            EvalConfig(dataset="toy", baselines=[], device="Myo"),
            progress=False,
        )
    report = evaluate_loso(
        shards, ckpt, EvalConfig(dataset="toy", baselines=[], sessions=["1"]), progress=False
    )
    assert report["windows"]["n_subjects"] == 3


def test_results_markdown_lists_every_method_and_regime(toy: tuple[Path, Path]) -> None:
    from emgcorpus.runs.plans import TARGETS, experiment_plan
    from emgcorpus.runs.results import results_markdown, summary_table

    shards, ckpt = toy
    cfg = EvalConfig(dataset="toy", baselines=["window"], few_shot=0.2, within_subject=False)
    report = evaluate_loso(shards, ckpt, cfg, window_shards=shards, progress=False)
    table = summary_table(report)
    assert set(table) == {"model", "window"}
    text = results_markdown(report, "emgcorpus train reproduce toy", "a machine")
    rows = [line for line in text.splitlines() if line.startswith("| model |")]
    assert len(rows) == len(REGIMES) + 1  # every regime + the within-subject reference
    assert "`emgcorpus train reproduce toy`" in text and "a machine" in text
    assert set(TARGETS) == {"ciil", "cote-allard"}
    with pytest.raises(ConfigError, match="unknown experiment"):
        experiment_plan("nope", ".", "/nonexistent")
