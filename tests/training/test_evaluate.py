"""LOSO protocol end to end on toy shards: guard, regimes, metrics, report files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emgcorpus.errors import ConfigError
from tests.training.toy import pretrained_gesture_toy
from training.eval_report import write_eval_report
from training.evaluate import REGIMES, EvalConfig, evaluate_loso
from training.pretrain import PretrainConfig, pretrain

TINY = {"d_model": 16, "n_layers": 1, "n_heads": 2, "d_ff": 32, "dropout": 0.0}


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return pretrained_gesture_toy(tmp_path_factory.mktemp("eval"), TINY)


def test_eval_refuses_a_checkpoint_that_saw_evaluation_subjects(
    toy: tuple[Path, Path], tmp_path: Path
) -> None:
    shards, _ = toy
    leaky = pretrain(
        shards,
        tmp_path / "leaky",
        model_config=TINY,
        config=PretrainConfig(steps=1, batch_size=4),
        exclude_subjects=["toy:a"],
        progress=False,
    ).checkpoint
    cfg = EvalConfig(dataset="toy", baselines=[])
    with pytest.raises(ConfigError, match=r"2 evaluation subject\(s\): toy:b, toy:c"):
        evaluate_loso(shards, leaky, cfg, progress=False)


def test_loso_report_has_three_regimes_for_model_and_baseline(
    toy: tuple[Path, Path], tmp_path: Path
) -> None:
    shards, ckpt = toy
    cfg = EvalConfig(dataset="toy", baselines=["window"], few_shot=0.2, torch_device="cpu")
    report = evaluate_loso(shards, ckpt, cfg, window_shards=shards, progress=False)
    assert report["windows"]["n_subjects"] == 3
    assert report["windows"]["labels"] == ["fist", "open"]
    # 8 events of 1 s, 250 ms windows at 50 ms hop: 16 windows per event
    assert report["windows"]["n_windows"] == 3 * 8 * 16
    assert report["windows"]["source"] == "shard events"
    for method in ("model", "window"):
        res = report["methods"][method]
        for regime in REGIMES:
            acc = res[regime]["window_accuracy"]
            assert set(acc["per_subject"]) == {"toy:a", "toy:b", "toy:c"}
            assert 0.0 <= acc["min"] <= acc["mean"] <= acc["max"] <= 1.0
            assert res[regime]["trial_accuracy"]["mean"] is not None
        # few-shot: 20 % of 8 trials rounds up to whole trials; the rest is tested
        assert set(res["few_shot"]["n_test_windows"].values()) == {6 * 16}
    # the bag of tokens separates the classes perfectly (gesture tokens differ by class)
    assert report["methods"]["window"]["zero_shot"]["window_accuracy"]["mean"] == 1.0
    page = write_eval_report(report, tmp_path / "out")
    assert page.exists()
    for name in ("report.json", "per_subject_accuracy.png", "confusion_zero_shot.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert set(REGIMES) <= set(data["methods"]["model"]) and set(REGIMES) <= set(data["regimes"])
    assert "zero_shot" in page.read_text()


def test_lake_baselines_need_a_lake(toy: tuple[Path, Path]) -> None:
    shards, ckpt = toy
    with pytest.raises(ConfigError, match="lake path"):
        evaluate_loso(shards, ckpt, EvalConfig(dataset="toy"), progress=False)


def test_longer_model_window_keeps_its_centre_and_stays_in_its_repetition() -> None:
    from training.embedding import model_window_bounds
    from training.windows import Window

    w = Window("r/0@1", "r", "d", "s", "1", "1", 1.0, 1.25, "a", 1, "r/0", 1.0, 2.0)
    assert model_window_bounds(w, None) == (1.0, 1.25)
    lo, hi = model_window_bounds(w, 1.0)
    assert (lo, hi) == (1.0, 1.625)  # clipped at the repetition's onset on the left
    w2 = Window("r/0@1.5", "r", "d", "s", "1", "1", 1.5, 1.75, "a", 1, "r/0", 1.0, 2.0)
    assert model_window_bounds(w2, 0.5) == (1.375, 1.875)


def test_trial_accuracy_is_a_majority_vote_per_repetition() -> None:
    import numpy as np

    from training.evaluate import trial_votes
    from training.windows import Window

    wins = [
        Window(f"r/{t}@{k}", "r", "d", "s", "1", "1", k, k + 0.25, "a", t, f"r/{t}", 0, 9)
        for t in range(2)
        for k in range(3)
    ]
    y = np.zeros(6, np.int64)
    pred = np.array([0, 1, 0, 1, 1, 0])  # trial 0: 2 of 3 right, trial 1: 1 of 3 right
    true, voted = trial_votes(pred, np.arange(6), wins, y)
    assert true.tolist() == [0, 0] and voted.tolist() == [0, 1]
