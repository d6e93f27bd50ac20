"""The information audit (training.audit): what the tokens carry before any model."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from click.testing import CliRunner

from emgcorpus.cli.main import cli
from emgcorpus.shards.reader import ShardSet
from training.audit import audit_features, audit_regimes, run_audit
from training.data import load_dataset_tokens
from training.embedding import position_slots, window_items
from training.eval_report import render_html
from training.evaluate import EvalConfig, evaluate_loso, evaluation_windows
from training.splits import loso_folds
from training.windows import window_labels

from .toy import (
    N_CHANNELS,
    SPATIAL_INTENSITY,
    gesture_shards,
    pretrained_gesture_toy,
    spatial_toy,
)


def _acc(audit: dict[str, Any], name: str, regime: str) -> float:
    return float(audit["methods"][name][regime]["window_accuracy"]["mean"])


def test_active_position_toy_spatial_and_bag_beat_chance_shuffled_labels_do_not(tmp_path):
    shards = spatial_toy(tmp_path / "shards", "active")
    result = run_audit(shards, EvalConfig(dataset="toy"))
    audit = result["audit"]
    assert audit["unavailable"] == {}
    assert audit["n_positions"] == N_CHANNELS and audit["intensity_index"] == SPATIAL_INTENSITY
    for name in ("bag-position-code", "spatial-intensity", "pooled-descriptors"):
        assert _acc(audit, name, "zero_shot") > 0.9, name
        assert _acc(audit, name, "within_subject") > 0.9, name

    # the same features with labels shuffled within each subject: near chance (0.5)
    shard_set = ShardSet.open(shards)
    tokens, recs = load_dataset_tokens(shard_set, "toy")
    windows, _ = evaluation_windows(EvalConfig(dataset="toy"), recs, None)
    folds = loso_folds(windows)
    items = window_items(tokens, windows, model_window_s=None, max_window_tokens=512)
    feats, _ = audit_features(items, position_slots(tokens), SPATIAL_INTENSITY)
    labels = window_labels(windows)
    y = np.array([labels.index(w.label) for w in windows])
    rng = np.random.default_rng(0)
    y_shuffled = rng.permutation(y)
    for name in ("bag-position-code", "spatial-intensity"):
        res = audit_regimes(feats[name], y_shuffled, windows, folds, len(labels))
        assert res["zero_shot"]["window_accuracy"]["mean"] < 0.65, name


def test_intensity_toy_only_the_relative_spatial_pattern_carries_the_gesture(tmp_path):
    """Every position is always active with label-independent ids: the bag is at chance;
    the relative intensity pattern survives each subject's random gain."""
    audit = run_audit(spatial_toy(tmp_path / "shards", "intensity"), EvalConfig(dataset="toy"))[
        "audit"
    ]
    assert _acc(audit, "spatial-intensity", "zero_shot") > 0.9
    assert _acc(audit, "bag-position-code", "zero_shot") < 0.7


def test_shards_without_descriptors_report_them_unavailable(tmp_path):
    shards = gesture_shards(tmp_path / "shards")
    audit = run_audit(shards, EvalConfig(dataset="toy"))["audit"]
    assert set(audit["unavailable"]) == {
        "pooled-descriptors",
        "spatial-intensity",
        "spatial-words",
    }
    assert "token_desc" in audit["unavailable"]["spatial-intensity"]
    assert "token_desc" in audit["unavailable"]["spatial-words"]
    assert set(audit["methods"]) == {"bag-position-code"}
    assert audit["n_features"]["bag-position-code"] % N_CHANNELS == 0
    html = render_html(
        {
            "dataset": "toy",
            "windows": {
                "n_subjects": 3,
                "n_windows": 1,
                "n_trials": 1,
                "labels": ["a"],
                "source": "s",
                "model_sees": "m",
                "baselines_see": "b",
            },
            "config": {"spec": {"window_s": 0.25, "hop_s": 0.05}},
            "regimes": {},
            "methods": {},
            "checkpoint": {
                "path": "c",
                "vocab_id": "v",
                "pretrain_subjects": 1,
                "pretrain_datasets": ["p"],
            },
            "audit": audit,
        }
    )
    assert "Information audit" in html and "unavailable: the shards store no" in html


def test_every_evaluation_report_carries_the_audit(tmp_path):
    shards, ckpt = pretrained_gesture_toy(
        tmp_path, {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32}
    )
    cfg = EvalConfig(dataset="toy", baselines=[], probe="lda")
    report = evaluate_loso(shards, ckpt, cfg, progress=False)
    audit = report["audit"]
    assert audit["probe"] == "lda"
    assert set(audit["methods"]["bag-position-code"]) == {"zero_shot", "within_subject"}
    # the audit's windows are the report's windows
    n = audit["methods"]["bag-position-code"]["zero_shot"]["n_test_windows"]
    assert sum(n.values()) == report["windows"]["n_windows"]
    off = evaluate_loso(shards, ckpt, EvalConfig(dataset="toy", baselines=[], audit=False))
    assert "audit" not in off


def test_cli_train_audit_prints_it(tmp_path):
    shards = spatial_toy(tmp_path / "shards", "active")
    runner = CliRunner()
    res = runner.invoke(
        cli, ["train", "audit", "--shards", str(shards), "--dataset", "toy", "--no-lake"]
    )
    assert res.exit_code == 0, res.output
    assert "audit bag-position-code: zero_shot" in res.output
    assert "audit spatial-intensity: zero_shot" in res.output
    res = runner.invoke(
        cli, ["train", "audit", "--shards", str(shards), "--dataset", "toy", "--no-lake", "--json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert (
        doc["audit"]["methods"]["spatial-intensity"]["zero_shot"]["window_accuracy"]["mean"] > 0.9
    )
