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


def test_descriptors_enter_beside_the_ids_and_absent_ones_are_masked() -> None:
    from training.model import descriptor_input

    torch.manual_seed(0)
    model = MaskedTokenModel(ModelConfig(vocab_size=10, desc_dim=3, **TINY)).eval()
    desc = torch.tensor([[[0.5, -1.0, float("nan")], [9.0, 0.0, 0.0], [float("nan")] * 3]])
    batch = {
        "token_ids": torch.tensor([[5, 6, 7]]),
        "channel_pos": torch.zeros(1, 3, 8),
        "onset_s": torch.zeros(1, 3),
        "duration_s": torch.ones(1, 3),
        "pad_mask": torch.zeros(1, 3, dtype=torch.bool),
    }
    x = descriptor_input(desc)
    assert x.shape == (1, 3, 6) and torch.isfinite(x).all()
    assert x[0, 1, 0] == 6.0 and x[0, 0, 5] == 0.0 and x[0, 2, 3:].sum() == 0.0
    with torch.no_grad():
        a = model({**batch, "desc": desc})
        b = model({**batch, "desc": desc.nan_to_num(2.0)})
    assert not torch.allclose(a, b)  # the descriptor changes the output
    with pytest.raises(ConfigError, match="descriptor entries"):
        model({**batch, "desc": torch.zeros(1, 3, 4)})
    with pytest.raises(ConfigError, match="store none"):
        model(batch)  # shards without token_desc cannot feed a descriptor model
    # an ids-only model ignores descriptors: old and new shards give the same output
    plain = MaskedTokenModel(ModelConfig(vocab_size=10, **TINY)).eval()
    with torch.no_grad():
        assert torch.equal(plain(batch), plain({**batch, "desc": desc}))
    with pytest.raises(ConfigError, match="desc_dim"):
        ModelConfig(vocab_size=10, desc_dim=-2)


def test_pretraining_hides_the_descriptor_of_every_predicted_token(tmp_path: Path) -> None:
    import training.pretrain as pt

    seen: list[dict[str, torch.Tensor]] = []

    class Spy(MaskedTokenModel):
        def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            seen.append(batch)
            return super().forward(batch)

    shards = periodic_shards(tmp_path / "shards", n_rows=8, desc_dim=2)
    original = pt.MaskedTokenModel
    pt.MaskedTokenModel = Spy  # type: ignore[misc]
    try:
        res = pretrain(
            shards,
            tmp_path / "c",
            model_config={**TINY, "desc_dim": -1},
            config=PretrainConfig(steps=3, mask_prob=0.5),
            progress=False,
        )
    finally:
        pt.MaskedTokenModel = original  # type: ignore[misc]
    assert res.meta.model.desc_dim == 2 and read_meta(res.checkpoint).model.desc_dim == 2
    assert len(seen) == 3
    for b in seen:
        masked = b["token_ids"] == pt.MASK_ID
        assert masked.any() and torch.isnan(b["desc"][masked]).all()
        real = ~b["pad_mask"] & ~masked
        assert torch.isfinite(b["desc"][real]).any()


def test_a_descriptor_model_refuses_shards_without_descriptors(tmp_path: Path) -> None:
    plain = periodic_shards(tmp_path / "plain", n_rows=8)
    cfg = PretrainConfig(steps=1, batch_size=4)
    with pytest.raises(ConfigError, match="store none"):
        pretrain(plain, tmp_path / "c", model_config={**TINY, "desc_dim": 2}, config=cfg)
    # desc_dim -1 on shards without descriptors: ids only
    res = pretrain(
        plain, tmp_path / "d", model_config={**TINY, "desc_dim": -1}, config=cfg, progress=False
    )
    assert res.meta.model.desc_dim == 0
    # a checkpoint that embeds descriptors, evaluated on shards without them: a clear error
    from tests.training.toy import gesture_shards
    from training.evaluate import EvalConfig, evaluate_loso

    with_desc = pretrain(
        periodic_shards(tmp_path / "desc", n_rows=8, desc_dim=2),
        tmp_path / "e",
        model_config={**TINY, "desc_dim": -1},
        config=cfg,
        progress=False,
    )
    cfg_eval = EvalConfig(dataset="toy", baselines=[], within_subject=False)
    with pytest.raises(ConfigError, match="store none .written before token_desc"):
        evaluate_loso(gesture_shards(tmp_path / "g"), with_desc.checkpoint, cfg_eval)


def test_cli_desc_dim_pool_max_and_finetune_options(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from emgcorpus.cli import cli
    from tests.training.toy import pretrained_gesture_toy

    shards = periodic_shards(tmp_path / "desc", n_rows=8, desc_dim=2)
    lake = ["--lake", str(tmp_path / "no-lake")]
    pre = [*lake, "train", "pretrain", "--shards", str(shards), "--steps", "1", "--d-model", "32"]
    ckpt_dir = str(tmp_path / "c")
    res = CliRunner().invoke(cli, [*pre, "--layers", "1", "--desc-dim", "-1", "--out", ckpt_dir])
    assert res.exit_code == 0, res.output
    assert read_meta(ckpt_dir).model.desc_dim == 2
    gesture, ckpt = pretrained_gesture_toy(tmp_path / "g", TINY)
    out = tmp_path / "report"
    ev = [*lake, "train", "eval", "--shards", str(gesture), "--checkpoint", str(ckpt)]
    ev += ["--dataset", "toy", "--baselines", "", "--no-lake", "--out", str(out)]
    ev += ["--pool-max", "--finetune-steps", "2", "--finetune-lr", "0.01"]
    res = CliRunner().invoke(cli, ev)
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["pool_max"] and report["config"]["finetune_lr"] == 0.01
    assert report["methods"]["model-finetune"]["zero_shot"]["window_accuracy"]["mean"] is not None


def test_cli_pretrain_json(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from emgcorpus.cli import cli

    shards = periodic_shards(tmp_path / "desc", n_rows=8, desc_dim=2)
    args = ["--lake", str(tmp_path / "no-lake"), "train", "pretrain", "--shards", str(shards)]
    args += ["--steps", "2", "--d-model", "16", "--layers", "1", "--heads", "2"]
    args += ["--out", str(tmp_path / "c"), "--json"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert Path(doc["checkpoint"]).exists()
    assert doc["steps"] == 2 and isinstance(doc["final_loss"], float)
    assert doc["torch_device"] and isinstance(doc["pretrain_subjects"], list)
    assert doc["pretrain_subjects"] == read_meta(tmp_path / "c").pretrain_subjects
