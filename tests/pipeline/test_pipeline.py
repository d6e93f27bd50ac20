"""The run orchestrator on a tiny simulated corpus (one lake), its subject split and step cache."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from emgcorpus.errors import ConfigError
from emgcorpus.runs.config import quickstart_preset, with_options
from emgcorpus.runs.orchestrator import run_stages
from emgcorpus.runs.plans import lake_plan, split_subjects
from vocab.artifact import Vocabulary, default_store

TINY_SIM = {
    "subjects": 4,
    "gestures": 2,
    "repetitions": 2,
    "contraction_s": 1.0,
    "rest_s": 1.0,
    "devices": "myo8,bipolar4",
}


def test_split_subjects_holds_out_the_last_ones() -> None:
    pre, ev = split_subjects(["03", "01", "02", "04", "05", "06", "07", "08"], 0.5)
    assert pre == ["01", "02", "03", "04"] and ev == ["05", "06", "07", "08"]
    pre, ev = split_subjects(["a", "b", "c", "d"], 0.25)  # LOSO needs 3 evaluation subjects
    assert pre == ["a"] and ev == ["b", "c", "d"]
    with pytest.raises(ConfigError, match="at least 4"):
        split_subjects(["a", "b", "c"], 0.5)
    with pytest.raises(ConfigError, match="eval_fraction"):
        split_subjects(["a", "b", "c", "d"], 1.0)


def test_pipeline_runs_every_stage_and_never_pretrains_on_evaluation_subjects(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    preset = quickstart_preset("sim", "sim-myo8")
    cfg = with_options(
        replace(
            preset,
            vocab=replace(preset.vocab, window_size=8),
            model=replace(preset.model, n_heads=2),
        ),
        fs_hz=1000.0,
        vocab_size=16,
        pretrain_steps=3,
        d_model=16,
        n_layers=1,
        baselines=["td-lda", "window"],
        dask_scheduler="sync",
    )
    plan = lake_plan(tmp_path / "lake", 0.75, sim_options=TINY_SIM)
    page = run_stages(plan, cfg, tmp_path / "run", progress=False, echo=lines.append).page
    assert page.exists() and page.name == "report.html"
    report = json.loads((page.parent / "report.json").read_text())
    assert report["run"]["pretrain_subjects"] == ["sim:01"]
    assert report["windows"]["subjects"] == ["sim:02", "sim:03", "sim:04"]
    ckpt = json.loads((tmp_path / "run" / "checkpoint" / "model.json").read_text())
    assert set(ckpt["pretrain_subjects"]).isdisjoint(report["windows"]["subjects"])
    # the vocabulary build left the evaluation subjects out too (summary.json: what it saw)
    seen = json.loads((tmp_path / "run" / "summary.json").read_text())["stages"]["vocabulary"]
    assert seen["excluded_subjects"] == report["windows"]["subjects"]
    assert set(seen["subjects"]).isdisjoint(report["windows"]["subjects"])
    assert seen["recordings_per_dataset"] == {"sim": 2}  # sim:01 on 2 devices
    assert ckpt["vocab_id"] == report["run"]["vocab_id"]
    assert set(report["methods"]) == {"model", "td-lda", "window"}
    assert [ln[:4] for ln in lines if ln.startswith("[")] == [f"[{i}/7" for i in range(1, 8)]
    assert lines[-1] == f"report: {page}"
    # a second run finds everything in place: same vocabulary, nothing re-ingested
    again: list[str] = []
    run_stages(plan, cfg, tmp_path / "run2", progress=False, echo=again.append)
    assert "0 recordings added, 8 already there" in "\n".join(again)
    assert f"vocabulary {report['run']['vocab_id']}" in "\n".join(again)
    # in the same run folder the step cache reuses vocabularies, shards and checkpoint
    cached: list[str] = []
    run_stages(plan, cfg, tmp_path / "run", progress=False, echo=cached.append)
    assert f"        vocabulary {report['run']['vocab_id']} (reused)" in cached
    assert f"        reusing {tmp_path / 'run' / 'checkpoint'}" in cached
    rerun = json.loads((page.parent / "report.json").read_text())
    assert rerun["methods"] == report["methods"]
    # a tokenizer parameter (--tokenizer-param) makes a new NCT vocabulary with it; the
    # window baseline's vocabulary does not take it and is reused
    varied: list[str] = []
    cfg2 = with_options(cfg, tokenizer_params=(("intensity_reference", "device"),))
    run_stages(plan, cfg2, tmp_path / "run", progress=False, echo=varied.append)
    new_id = json.loads((page.parent / "report.json").read_text())["run"]["vocab_id"]
    assert new_id != report["run"]["vocab_id"]
    params = Vocabulary.load(default_store(tmp_path / "lake"), new_id).tokenizer().params
    assert params["intensity_reference"] == "device"
    assert sum("(reused)" in ln and "vocabulary" in ln for ln in varied) == 1
    with pytest.raises(ConfigError, match="unknown NCT parameter"):
        with_options(cfg, tokenizer_params=(("floor", 1),))


def test_pipeline_refuses_an_empty_lake_and_unknown_dataset(tmp_path: Path) -> None:
    from emgcorpus.lake import Lake

    Lake.create(tmp_path / "lake")
    with pytest.raises(ConfigError, match="holds no recordings"):
        run_stages(
            lake_plan(tmp_path / "lake"),
            quickstart_preset(),
            tmp_path / "run",
            progress=False,
            echo=lambda s: None,
        )


def test_new_device_run_evaluates_a_device_and_people_never_seen(tmp_path: Path) -> None:
    """``quickstart --new-device``'s plan, tiny: the vocabulary and pretraining read the
    other virtual devices' recordings of other people only."""
    from emgcorpus.lake import Lake
    from emgcorpus.runs.plans import NEW_DEVICE_DATASET, new_device_plan

    preset = quickstart_preset(NEW_DEVICE_DATASET)
    cfg = with_options(
        replace(preset, model=replace(preset.model, n_heads=2)),
        vocab_size=16,
        pretrain_steps=3,
        d_model=16,
        n_layers=1,
        baselines=["td-lda"],
        dask_scheduler="sync",
    )
    sim = {k: v for k, v in TINY_SIM.items() if k != "devices"} | {"subjects": 3}
    plan = new_device_plan(tmp_path / "lake", "bipolar4", sim)
    page = run_stages(plan, cfg, tmp_path / "run", progress=False, echo=lambda _: None).page
    lake = Lake.open(tmp_path / "lake")
    devices = {
        ds: set(lake.recordings(datasets=[ds])["device"]) for ds in ("sim", NEW_DEVICE_DATASET)
    }
    assert devices == {"sim": {"sim-myo8", "sim-ring16", "sim-grid64"},
                       NEW_DEVICE_DATASET: {"sim-bipolar4"}}  # fmt: skip
    report = json.loads((page.parent / "report.json").read_text())
    assert report["windows"]["subjects"] == [f"{NEW_DEVICE_DATASET}:0{k}" for k in (1, 2, 3)]
    vocab = Vocabulary.load(default_store(tmp_path / "lake"), report["run"]["vocab_id"])
    assert vocab.compiled_datasets == ["sim"]
    ckpt = json.loads((tmp_path / "run" / "checkpoint" / "model.json").read_text())
    assert ckpt["pretrain_datasets"] == ["sim"]
    assert set(report["methods"]) == {"model", "td-lda"}
