"""evaluate_loso with fold workers (EvalConfig.fold_workers): the same report accuracies as
in process, for the model's probe and a baseline, with the folds really fitted in forks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import training.evaluate as evaluate
from tests.training.toy import pretrained_gesture_toy
from training.evaluate import EvalConfig, evaluate_loso

TINY = {"d_model": 16, "n_layers": 1, "n_heads": 2, "d_ff": 32, "dropout": 0.0}


def test_fold_workers_give_the_in_process_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shards, ckpt = pretrained_gesture_toy(tmp_path, TINY)
    pools: list[int] = []

    class CountedPool(evaluate.ProcessPoolExecutor):
        def __init__(self, workers: int, **kw: Any) -> None:
            pools.append(workers)
            super().__init__(workers, **kw)

    monkeypatch.setattr(evaluate, "ProcessPoolExecutor", CountedPool)
    reports = {}
    for workers in (1, 2):
        cfg = EvalConfig(
            dataset="toy",
            baselines=["window"],
            few_shot=0.2,
            audit=False,
            fold_workers=workers,
        )
        reports[workers] = evaluate_loso(shards, ckpt, cfg, window_shards=shards, progress=False)
    assert pools == [2, 2]  # in process at 1; with 2, one pool per method (model, window)
    one, two = reports[1]["methods"], reports[2]["methods"]
    assert list(one) == list(two) == ["model", "window"]
    for method, regimes in one.items():
        assert list(regimes) == list(two[method])
        for regime, res in regimes.items():
            for key in ("window_accuracy", "trial_accuracy", "n_test_windows", "confusion"):
                assert two[method][regime][key] == res[key], (method, regime, key)
    assert reports[2]["config"]["fold_workers"] == 2
