"""model-finetune with the probe path: the frozen method's regimes on the fine-tuned features.

Per fold the backbone's last layers and a head are trained on the training subjects
(training.finetune.supervised_fold); the fold's pooled features of every window then go
through training.evaluate.run_regimes, exactly as the frozen ``model`` method's features.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from emgcorpus.errors import ConfigError
from emgcorpus.shards.reader import ShardSet
from tests.training.toy import pretrained_gesture_toy
from training.checkpoint import load_checkpoint
from training.data import load_dataset_tokens
from training.embedding import pooled_width, pooling_slots, window_items
from training.evaluate import (
    REFERENCE,
    REGIMES,
    EvalConfig,
    evaluate_loso,
    evaluation_folds,
    finetune_regime,
    run_regimes,
)
from training.finetune import FinetuneConfig, supervised_fold
from training.windows import window_labels

TINY: dict[str, Any] = {"d_model": 16, "n_layers": 2, "n_heads": 2, "d_ff": 32, "dropout": 0.0}


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return pretrained_gesture_toy(tmp_path_factory.mktemp("ftprobe"), TINY)


def _config(**kw: Any) -> EvalConfig:
    base: dict[str, Any] = {
        "dataset": "toy",
        "baselines": [],
        "few_shot": 0.2,
        "finetune_steps": 20,
        "finetune_lr": 3e-3,
        "audit": False,
    }
    return EvalConfig(**{**base, **kw})


def test_the_probe_path_reports_every_regime_beside_the_gradient_path(
    toy: tuple[Path, Path],
) -> None:
    shards, ckpt = toy
    report = evaluate_loso(shards, ckpt, _config(finetune_adapt="both"), progress=False)
    frozen = report["methods"]["model"]
    probe = report["methods"]["model-finetune"]
    gradient = report["methods"]["model-finetune-gradient"]
    assert set(probe) == set(frozen) == {*REGIMES, REFERENCE}
    for regime in (*REGIMES, REFERENCE):
        # the same test windows as the frozen method, every subject tested
        assert probe[regime]["n_test_windows"] == frozen[regime]["n_test_windows"]
        assert len(probe[regime]["window_accuracy"]["per_subject"]) == 3
        assert probe[regime]["window_accuracy"]["mean"] >= 0.9
    assert set(probe["zero_shot"]["n_test_windows"].values()) == {8 * 16}
    assert set(probe["few_shot"]["n_test_windows"].values()) == {6 * 16}
    assert probe["few_shot"]["share_of_within_subject"]["mean"] is not None
    # the gradient path has no calibration and no reference; its few-shot cuts are the same
    assert gradient["unsupervised_calibration"]["window_accuracy"]["mean"] is None
    assert gradient[REFERENCE]["window_accuracy"]["mean"] is None
    for regime in ("zero_shot", "few_shot", "few_shot_classes"):
        assert gradient[regime]["n_test_windows"] == probe[regime]["n_test_windows"]
    # the default is the probe path alone, under the method's own name
    alone = evaluate_loso(shards, ckpt, _config(), progress=False)["methods"]
    assert set(alone) == {"model", "model-finetune"}
    assert set(alone["model-finetune"]) == {*REGIMES, REFERENCE}
    with pytest.raises(ConfigError, match="finetune_adapt"):
        evaluate_loso(shards, ckpt, _config(finetune_adapt="nope"), progress=False)


def test_with_the_backbone_unchanged_the_probe_path_is_the_frozen_method(
    toy: tuple[Path, Path],
) -> None:
    """Learning rate 0: the fine-tuned features are the pretrained ones, so every regime's
    predictions (confusion matrices) are the frozen model's probe's, not the head's."""
    shards, ckpt = toy
    report = evaluate_loso(shards, ckpt, _config(finetune_lr=0.0), progress=False)
    frozen, probe = report["methods"]["model"], report["methods"]["model-finetune"]
    for regime in (*REGIMES, REFERENCE):
        assert probe[regime]["confusion"] == frozen[regime]["confusion"], regime


def _toy_fold(toy: tuple[Path, Path]) -> dict[str, Any]:
    shards, ckpt = toy
    cfg = _config()
    tokens, recs = load_dataset_tokens(ShardSet.open(shards), "toy")
    windows, _, folds = evaluation_folds(cfg, recs, None)
    labels = window_labels(windows)
    y = np.array([labels.index(w.label) for w in windows], np.int64)
    model, _ = load_checkpoint(ckpt)
    return {
        "cfg": cfg,
        "tokens": tokens,
        "windows": windows,
        "fold": folds[0],
        "y": y,
        "n_classes": len(labels),
        "encoder": model.encoder,
    }


def test_zero_shot_and_calibration_never_see_the_target_labels(toy: tuple[Path, Path]) -> None:
    t = _toy_fold(toy)
    f, y, windows, cfg = t["fold"], t["y"], t["windows"], t["cfg"]
    scrambled = y.copy()
    scrambled[f.test_idx] = (y[f.test_idx] + 1) % t["n_classes"]  # every target label wrong
    slots = pooling_slots(t["tokens"], cfg.pooling, windows)
    items = window_items(
        t["tokens"],
        windows,
        model_window_s=cfg.model_window_s,
        max_window_tokens=cfg.max_window_tokens,
    )
    every = np.arange(len(windows))
    fcfg = FinetuneConfig(steps=20, lr=3e-3)
    got = []
    for labels in (y, scrambled):
        torch.manual_seed(0)
        fold = supervised_fold(
            t["encoder"],
            items,
            labels,
            f.train_idx,
            f.test_idx,
            [],
            t["n_classes"],
            slots,
            fcfg,
            torch.device("cpu"),
            features_of=every,
        )
        assert fold.few == []
        assert fold.features is not None
        assert fold.features.shape == (len(windows), pooled_width(16, len(slots)))
        regimes = run_regimes("model", fold.features, labels, windows, [f], cfg, t["n_classes"])
        got.append((fold, regimes))
    (a, ra), (b, rb) = got
    np.testing.assert_array_equal(a.zero, b.zero)
    assert a.features is not None and b.features is not None
    np.testing.assert_allclose(a.features, b.features, rtol=0, atol=1e-6)
    for regime in ("zero_shot", "unsupervised_calibration"):
        (ia, pa), (ib, pb) = ra[regime].by_fold[f.test_subject], rb[regime].by_fold[f.test_subject]
        np.testing.assert_array_equal(ia, f.test_idx)
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_array_equal(pa, pb)
    # the check can fail: the within-subject reference, fit on the target's own labels,
    # follows the scrambling
    (_, pa), (_, pb) = ra[REFERENCE].by_fold[f.test_subject], rb[REFERENCE].by_fold[f.test_subject]
    assert not np.array_equal(pa, pb)


def test_finetune_regime_predicts_the_same_without_the_target_labels(
    toy: tuple[Path, Path],
) -> None:
    """Through finetune_regime itself: scrambling the held-out subject's labels leaves what
    zero-shot and calibration predict (the confusion's column sums) as it was."""
    t = _toy_fold(toy)
    f, y = t["fold"], t["y"]
    scrambled = y.copy()
    scrambled[f.test_idx] = (y[f.test_idx] + 1) % t["n_classes"]
    out = []
    for labels in (y, scrambled):
        torch.manual_seed(0)
        res = finetune_regime(
            t["encoder"],
            t["tokens"],
            t["windows"],
            [f],
            labels,
            t["n_classes"],
            t["cfg"],
            progress=False,
        )
        out.append(res["model-finetune"])
    for regime in ("zero_shot", "unsupervised_calibration"):
        predicted = [np.asarray(r[regime]["confusion"]).sum(axis=0) for r in out]
        np.testing.assert_array_equal(predicted[0], predicted[1])
        acc = [r[regime]["window_accuracy"]["mean"] for r in out]
        assert acc[0] >= 0.9 and acc[1] <= 0.1  # scored against the scrambled labels
