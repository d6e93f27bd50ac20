"""The weight of the target's adaptation windows in the few-shot fits
(EvalConfig.few_shot_weight, training.evaluate.adapt_repeats): 1 keeps the earlier
"as much as one training subject"; a larger weight lets the target's own labelled windows
win over the training subjects where the two disagree; zero-shot and calibration do not
depend on it."""

from __future__ import annotations

import numpy as np
import pytest

from emgcorpus.errors import ConfigError
from tests.training.toy import abc_windows
from training.evaluate import (
    MAX_ADAPT_REPEATS,
    EvalConfig,
    adapt_repeats,
    evaluate_loso,
    run_regimes,
)
from training.splits import loso_folds
from training.windows import window_labels


def test_weight_one_is_the_earlier_rule_and_the_weight_scales_it() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        n_subj = int(rng.integers(1, 30))
        n_train = int(rng.integers(n_subj, 50_000))
        n_adapt = int(rng.integers(1, 2_000))
        earlier = int(np.clip(round(n_train / n_subj / n_adapt), 1, 50))
        assert adapt_repeats(n_train, n_subj, n_adapt, 1.0) == earlier
    assert adapt_repeats(2_000, 20, 5, 1.0) == 20
    assert adapt_repeats(2_000, 20, 5, 3.0) == 60
    assert adapt_repeats(2_000, 20, 500, 0.5) == 1  # never fewer than once
    assert adapt_repeats(100_000, 1, 1, 1.0) == MAX_ADAPT_REPEATS
    assert adapt_repeats(100_000, 1, 1, 4.0) == 4 * MAX_ADAPT_REPEATS


def test_a_heavier_target_overrides_training_subjects_that_disagree() -> None:
    """The last subject makes class a where the others make class b and the reverse: with
    the weight of one subject among four the training subjects win, with a weight of 20 its
    own windows do. Standardising per subject cannot undo a swap of two classes."""
    windows = abc_windows(5, 15)
    labels = window_labels(windows)
    y = np.array([labels.index(w.label) for w in windows], np.int64)
    rng = np.random.default_rng(1)
    means = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    swapped = np.array([1, 0, 2])
    cls = np.array([swapped[k] if w.subject == "4" else k for w, k in zip(windows, y)])
    x = means[cls] + rng.normal(scale=0.4, size=(len(windows), 2))
    folds = loso_folds(windows)
    target = [f for f in folds if f.test_subject.endswith("4")][0].test_subject

    def accuracy(weight: float) -> dict[str, float]:
        cfg = EvalConfig(dataset="d", few_shot=0.2, few_shot_weight=weight, probe="lda")
        preds = run_regimes("td-lda", x, y, windows, folds, cfg, len(labels))
        out = {}
        for regime, p in preds.items():
            idx, pred = p.by_fold[target]
            out[regime] = float(np.mean(pred == y[idx]))
        return out

    light, heavy = accuracy(1.0), accuracy(20.0)
    assert light["zero_shot"] == heavy["zero_shot"] < 0.5
    assert light["unsupervised_calibration"] == heavy["unsupervised_calibration"]
    assert heavy["few_shot_classes"] > 0.9
    assert heavy["few_shot_classes"] > light["few_shot_classes"] + 0.25


def test_a_weight_that_is_not_positive_is_refused(tmp_path) -> None:
    cfg = EvalConfig(dataset="d", few_shot_weight=0.0)
    with pytest.raises(ConfigError, match="few_shot_weight"):
        evaluate_loso(None, None, cfg, lake_path=tmp_path / "lake")
