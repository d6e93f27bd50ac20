"""Run configs and data plans: presets, command-line options, the two-lake experiment plan."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from emgcorpus.errors import ConfigError, SourceError
from emgcorpus.runs.config import (
    OPTION_FIELDS,
    quickstart_preset,
    reproduce_preset,
    with_options,
)
from emgcorpus.runs.plans import TARGETS, experiment_plan, lake_plan


def test_presets_set_the_values_where_the_runs_differ() -> None:
    quick, repro = quickstart_preset("sim", "sim-myo8"), reproduce_preset(TARGETS["ciil"])
    assert (quick.eval.dataset, quick.eval.device) == ("sim", "sim-myo8")
    assert (repro.eval.dataset, repro.eval.sessions) == ("ciil", ["training"])
    assert repro.eval.spec.include_rest and not quick.eval.spec.include_rest
    assert (quick.pretrain.steps, repro.pretrain.steps) == (1000, 300)
    assert (quick.pretrain.lr, repro.pretrain.lr) == (3e-4, 1e-3)
    assert (quick.eval.strong_max_iter, repro.eval.strong_max_iter) == (60, 100)
    assert quick.eval.probe == repro.eval.probe == "lda"
    assert quick.model.ff_width == repro.model.ff_width == 4 * 64
    assert (quick.vocab.fs_hz, repro.vocab.fs_hz) == (1000.0, None)


def test_options_reach_every_part_they_name() -> None:
    cfg = with_options(
        quickstart_preset(),
        fs_hz=0,
        d_model=32,
        seed=7,
        torch_device="cpu",
        baselines=("td-lda",),
        dask_workers=1,
        pretrain_steps=None,  # None keeps the preset's value
    )
    assert cfg.vocab.fs_hz is None
    assert cfg.model.d_model == 32 and cfg.model.ff_width == 128
    assert cfg.vocab.seed == cfg.pretrain.seed == cfg.eval.seed == 7
    assert cfg.pretrain.torch_device == cfg.eval.torch_device == "cpu"
    assert cfg.eval.baselines == ["td-lda"] and cfg.dask_workers == 1
    assert cfg.pretrain.steps == quickstart_preset().pretrain.steps
    assert quickstart_preset().eval.finetune_adapt == "probe"
    assert with_options(quickstart_preset(), finetune_adapt="both").eval.finetune_adapt == "both"
    assert "dask_workers" in OPTION_FIELDS
    with pytest.raises(ConfigError, match="unknown run option 'workers'"):
        with_options(quickstart_preset(), workers=2)


def test_one_lake_plan_keeps_shards_in_the_lake(tmp_path: Path) -> None:
    plan = lake_plan(tmp_path / "lake", sim_options={"subjects": 4})
    assert plan.pretrain_lake == plan.eval_lake == tmp_path / "lake"
    assert plan.shard_dest("pretrain") is None and plan.eval_fraction == 0.5
    assert [(i.adapter, i.source) for i in plan.ingests] == [("sim", "builtin")]


def test_experiment_plan_leaves_the_target_release_out(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "ciil_myo" / "ElectrodeShift").mkdir(parents=True)
    with pytest.raises(SourceError, match="no pretraining dataset"):
        experiment_plan("ciil", data, tmp_path / "out")
    (data / "flexemg_hd64").mkdir()
    plan = experiment_plan("ciil", data, tmp_path / "out")
    assert [(i.lake.name, i.adapter) for i in plan.ingests] == [
        ("pretrain-lake", "flexemg"),
        ("target-lake", "ciil"),
    ]
    assert plan.eval_fraction is None and plan.target == TARGETS["ciil"]
    assert plan.shard_dest("target") == tmp_path / "out" / "shards-target"
    with pytest.raises(SourceError, match="target data folder not found"):
        experiment_plan("cote-allard", data, tmp_path / "out")
    with pytest.raises(ConfigError, match="unknown experiment"):
        experiment_plan("nope", data, tmp_path / "out")


def test_option_names_say_which_device_and_which_workers() -> None:
    from click.testing import CliRunner

    from emgcorpus.cli import cli

    def options(*command: str) -> str:
        res = CliRunner().invoke(cli, [*command, "--help"])
        assert res.exit_code == 0, res.output
        return res.output

    for command in (("run",), ("quickstart",), ("train", "reproduce")):
        text = options(*command)
        assert "--dask-workers" in text and "--torch-device" in text and "--workers" not in text
    assert "--loader-workers" in options("train", "pretrain")
    evaluate = options("train", "eval")
    assert "--torch-device" in evaluate and "EMG device" in evaluate
    assert "--emg-device" not in evaluate


def test_descriptor_pooling_and_finetune_options_reach_the_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    import emgcorpus.cli.runs as runs_cli
    from emgcorpus.cli import cli

    for preset in (quickstart_preset(), reproduce_preset(TARGETS["cote-allard"])):
        # presets: the shards' descriptors embedded, mean pooling, no fine-tuning
        assert preset.model.desc_dim == -1 and not preset.eval.pool_max
        assert preset.eval.finetune_steps == 0
    cfg = with_options(
        reproduce_preset(TARGETS["cote-allard"]),
        desc_dim=0,
        pool_max=True,
        finetune_layers=2,
        finetune_lr=1e-3,
    )
    assert cfg.model.desc_dim == 0 and cfg.eval.pool_max
    assert (cfg.eval.finetune_layers, cfg.eval.finetune_lr) == (2, 1e-3)
    seen: list = []
    monkeypatch.setattr(runs_cli, "run_stages", lambda plan, cfg, out, **kw: seen.append(cfg))
    args = ["--lake", str(tmp_path / "lake"), "run", "--dataset", "sim", "--out", str(tmp_path)]
    flags = ["--desc-dim", "16", "--pool-max", "--finetune-layers", "2", "--finetune-lr", "0.001"]
    res = CliRunner().invoke(cli, [*args, *flags])
    assert res.exit_code == 0, res.output
    (got,) = seen
    assert got.model.desc_dim == 16 and got.eval.pool_max
    assert (got.eval.finetune_layers, got.eval.finetune_lr) == (2, 0.001)
    res = CliRunner().invoke(cli, [*args, "--no-pool-max"])
    assert res.exit_code == 0, res.output
    assert not seen[-1].eval.pool_max and seen[-1].model.desc_dim == -1
    assert seen[-1].eval.pooling == "cls-mean-desc"  # the presets'
    res = CliRunner().invoke(cli, [*args, "--pooling", "channels-desc"])
    assert res.exit_code == 0, res.output
    assert seen[-1].eval.pooling == "channels-desc"
    assert seen[-1].eval.spatial_words == 0  # the presets': none
    res = CliRunner().invoke(cli, [*args, "--spatial-words", "32"])
    assert res.exit_code == 0, res.output
    assert seen[-1].eval.spatial_words == 32
    res = CliRunner().invoke(cli, [*args, "--pooling", "nope"])
    assert res.exit_code != 0 and "nope" in res.output


def test_tokenizer_params_from_the_command_line() -> None:
    from emgcorpus.cli.runs import configure

    preset = replace(
        quickstart_preset(), vocab=replace(quickstart_preset().vocab, tokenizer_params=())
    )
    cfg = configure(
        preset,
        {"baselines": None, "tokenizer_params": ("on_ratio=2", "intensity_reference=device")},
    )
    assert cfg.vocab.tokenizer_params == (("intensity_reference", "device"), ("on_ratio", 2))
    # over a preset's own parameters: each given one replaces that parameter, the rest stay
    real = reproduce_preset(TARGETS["ciil"])
    assert dict(real.vocab.tokenizer_params)["on_ratio"] == 2
    back = configure(real, {"baselines": None, "tokenizer_params": ("on_ratio=3",)})
    assert dict(back.vocab.tokenizer_params) == {**dict(real.vocab.tokenizer_params), "on_ratio": 3}
    assert configure(real, {"baselines": None, "tokenizer_params": ()}).vocab == real.vocab
    assert configure(preset, {"baselines": None, "tokenizer_params": ()}).vocab == preset.vocab
    with pytest.raises(ConfigError, match="--tokenizer-param 'on_ratio': expected key=value"):
        configure(preset, {"baselines": None, "tokenizer_params": ("on_ratio",)})
    with pytest.raises(ConfigError, match="intensity_reference must be one of"):
        configure(preset, {"baselines": None, "tokenizer_params": ("intensity_reference=x",)})


def test_new_device_plan_holds_the_device_and_its_people_out(tmp_path: Path) -> None:
    from emgcorpus.runs.plans import NEW_DEVICE_DATASET, new_device_plan

    plan = new_device_plan(tmp_path / "lake", "bipolar4", {"subjects": 6, "seed": 3}, 4)
    assert plan.transfer and plan.eval_fraction is None
    seen, new = plan.ingests
    assert "bipolar4" not in seen.options["devices"].split(",")
    assert set(seen.options["devices"].split(",")) == {"myo8", "ring16", "grid64"}
    assert "dataset" not in seen.options and seen.options["seed"] == 3
    assert new.options == {
        "subjects": 4, "seed": 4, "devices": "bipolar4", "dataset": NEW_DEVICE_DATASET
    }  # fmt: skip
    with pytest.raises(ConfigError, match="unknown simulated device 'emg9'"):
        new_device_plan(tmp_path / "lake", "emg9", {})


def test_new_device_plan_refuses_a_lake_that_already_holds_the_device(tmp_path: Path) -> None:
    """A plain quickstart records every simulated device into ``sim``; a new-device run on
    that lake would pretrain on the device it holds out."""
    from adapters.registry import make_adapter
    from emgcorpus.ingest import ingest
    from emgcorpus.runs.plans import NEW_DEVICE_DATASET, new_device_plan

    tiny = {"subjects": 1, "gestures": 2, "repetitions": 1, "contraction_s": 0.5, "rest_s": 0.5}
    lake = tmp_path / "lake"
    # the run's own data (other devices in sim, the new device in its dataset) is fine
    ingest(lake, make_adapter("sim", "builtin", **tiny, devices="myo8"), progress=False)
    new = {**tiny, "devices": "bipolar4", "dataset": NEW_DEVICE_DATASET}
    ingest(lake, make_adapter("sim", "builtin", **new), progress=False)
    assert new_device_plan(lake, "bipolar4", tiny).transfer
    ingest(lake, make_adapter("sim", "builtin", **tiny, devices="bipolar4"), progress=False)
    with pytest.raises(ConfigError, match=r"holds recordings of device 'sim-bipolar4' in dataset"):
        new_device_plan(lake, "bipolar4", tiny)
