"""Fold workers (training.evaluate.regimes_in_workers, EvalConfig.fold_workers; what
bench/bench_eval.py and evaluate_loso use): folds dealt to forked processes give exactly the
predictions of one run_regimes call, in the same fold order, for every regime; a failing
worker raises in the parent."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

import training.evaluate as evaluate
from tests.training.toy import abc_windows
from training.evaluate import EvalConfig, regimes_in_workers, run_regimes
from training.splits import loso_folds
from training.windows import window_labels


@pytest.mark.parametrize("method", ["td-lda", "strong"])
def test_workers_give_the_serial_predictions(method: str) -> None:
    windows = abc_windows(5)
    labels = window_labels(windows)
    y = np.array([labels.index(w.label) for w in windows], np.int64)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(len(windows), 6))
    x[:, 0] += 1.5 * y  # learnable, so a wrong fold merge shows as different predictions
    x[:, 1] += rng.normal(size=len(windows)) * np.array([int(w.subject) for w in windows])
    folds = loso_folds(windows)
    cfg = EvalConfig(dataset="d", strong_max_iter=20, fold_workers=2)
    serial = run_regimes(method, x, y, windows, folds, cfg, len(labels))
    forked, worker_cpu = regimes_in_workers(method, x, y, windows, folds, cfg, len(labels))
    assert worker_cpu > 0.0
    assert list(forked) == list(serial)
    for regime, preds in serial.items():
        assert list(forked[regime].by_fold) == [f.test_subject for f in folds]
        for subject, (idx, pred) in preds.by_fold.items():
            got_idx, got_pred = forked[regime].by_fold[subject]
            np.testing.assert_array_equal(got_idx, idx)
            np.testing.assert_array_equal(got_pred, pred)
    assert (serial["within_subject"].by_fold[folds[0].test_subject][1] >= 0).all()
    assert not evaluate._FOLD_JOB  # the workers' inputs are not kept alive after the run


def test_one_worker_runs_here() -> None:
    windows = abc_windows(3)
    labels = window_labels(windows)
    y = np.array([labels.index(w.label) for w in windows], np.int64)
    x = np.random.default_rng(1).normal(size=(len(windows), 4)) + 3.0 * y[:, None]
    folds = loso_folds(windows)
    preds, worker_cpu = regimes_in_workers(
        "td-lda", x, y, windows, folds, EvalConfig(dataset="d"), len(labels)
    )
    assert worker_cpu == 0.0
    acc = np.mean([(p == y[i]).mean() for i, p in preds["zero_shot"].by_fold.values()])
    assert acc > 0.8


def _fail(*args: Any) -> Any:
    raise ValueError("no fit today")


def _die(*args: Any) -> Any:
    os._exit(3)


@pytest.mark.parametrize(
    ("broken", "says"), [(_fail, "ValueError: no fit today"), (_die, "BrokenProcessPool")]
)
def test_a_failing_worker_raises_in_the_parent(
    monkeypatch: pytest.MonkeyPatch, broken: Any, says: str
) -> None:
    windows = abc_windows(4)
    labels = window_labels(windows)
    y = np.array([labels.index(w.label) for w in windows], np.int64)
    x = np.random.default_rng(2).normal(size=(len(windows), 3))
    folds = loso_folds(windows)
    monkeypatch.setattr(evaluate, "run_regimes", broken)  # the forked workers inherit it
    cfg = EvalConfig(dataset="d", fold_workers=2)
    with pytest.raises(RuntimeError, match=r"method td-lda: the fold worker of folds \[") as err:
        regimes_in_workers("td-lda", x, y, windows, folds, cfg, len(labels))
    assert says in str(err.value)
    assert not evaluate._FOLD_JOB
