"""bench/bench_eval.py's fold workers: folds dealt to forked processes give exactly the
predictions of one run_regimes call, in the same fold order, for every regime."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from training.evaluate import EvalConfig, run_regimes
from training.splits import loso_folds
from training.windows import RecordingEvents, WindowSpec, make_windows, window_labels

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_eval.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_eval_under_test", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _windows(n_subjects: int = 5) -> list:
    recs = []
    for s in range(n_subjects):
        evs = [
            {
                "onset": 0.5 + 1.5 * k,
                "duration": 1.0,
                "label": "abc"[k % 3],
                "repetition": k // 3,
                "kind": "gesture",
            }
            for k in range(12)
        ]
        recs.append(RecordingEvents(f"r{s}", "d", str(s), "1", "1", 19.0, evs))
    return make_windows(recs, WindowSpec())


@pytest.mark.parametrize("method", ["td-lda", "strong"])
def test_workers_give_the_serial_predictions(method: str) -> None:
    bench = _bench()
    windows = _windows()
    labels = window_labels(windows)
    y = np.array([labels.index(w.label) for w in windows], np.int64)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(len(windows), 6))
    x[:, 0] += 1.5 * y  # learnable, so a wrong fold merge shows as different predictions
    x[:, 1] += rng.normal(size=len(windows)) * np.array([int(w.subject) for w in windows])
    folds = loso_folds(windows)
    cfg = EvalConfig(dataset="d", strong_max_iter=20)
    serial = run_regimes(method, x, y, windows, folds, cfg, len(labels))
    forked, worker_cpu = bench.regimes_in_workers(method, x, y, windows, folds, cfg, len(labels), 2)
    assert worker_cpu > 0.0
    assert list(forked) == list(serial)
    for regime, preds in serial.items():
        assert list(forked[regime].by_fold) == [f.test_subject for f in folds]
        for subject, (idx, pred) in preds.by_fold.items():
            got_idx, got_pred = forked[regime].by_fold[subject]
            np.testing.assert_array_equal(got_idx, idx)
            np.testing.assert_array_equal(got_pred, pred)
    assert (serial["within_subject"].by_fold[folds[0].test_subject][1] >= 0).all()
    assert not bench._JOB  # the workers' inputs are not kept alive after the run


def test_one_worker_runs_here() -> None:
    bench = _bench()
    windows = _windows(3)
    labels = window_labels(windows)
    y = np.array([labels.index(w.label) for w in windows], np.int64)
    x = np.random.default_rng(1).normal(size=(len(windows), 4)) + 3.0 * y[:, None]
    folds = loso_folds(windows)
    preds, worker_cpu = bench.regimes_in_workers(
        "td-lda", x, y, windows, folds, EvalConfig(dataset="d"), len(labels), 1
    )
    assert worker_cpu == 0.0
    acc = np.mean([(p == y[i]).mean() for i, p in preds["zero_shot"].by_fold.values()])
    assert acc > 0.8
