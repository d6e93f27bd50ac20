"""Chance levels, paired tests and confusions in the LOSO report (json, html, markdown)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.image as mpimg
import numpy as np
import pytest

from emgcorpus.runs.results import results_markdown
from training.eval_report import confusion_png, write_eval_report
from training.evaluate import FEW_SHOT_SPLITS, REFERENCE, REGIMES
from training.report_stats import chance_levels, paired_test, paired_tests, row_normalised

LABELS = ["Hand Close", "Hand Open", "Wrist Flexion"]


def _spread(per: dict[str, float]) -> dict[str, Any]:
    v = np.array(list(per.values()))
    return {
        "mean": float(v.mean()),
        "std": float(v.std()),
        "min": float(v.min()),
        "max": float(v.max()),
        "per_subject": per,
    }


def fake_report(n_subjects: int, model_gain: float = 0.1) -> dict[str, Any]:
    """A LOSO report of ``n_subjects``: the model beats td-lda by ``model_gain`` on every
    subject (plus a little subject-dependent jitter); test windows 60/30/10 % per class."""
    subjects = [f"ds:s{i}" for i in range(n_subjects)]
    confusion = [[50, 8, 2], [5, 20, 5], [1, 1, 8]]  # rows: 60, 30, 10 windows
    methods: dict[str, Any] = {}
    for m, shift in (("model", model_gain), ("td-lda", 0.0)):
        methods[m] = {}
        for r in (*REGIMES, REFERENCE):
            per = {
                s: 0.5 + 0.02 * i + shift + 0.001 * i * (m == "model")
                for i, s in enumerate(subjects)
            }
            methods[m][r] = {
                "window_accuracy": _spread(per),
                "trial_accuracy": _spread(per),
                "n_test_windows": {s: 100 for s in subjects},
                "confusion": confusion,
            }
    return {
        "protocol": "loso",
        "dataset": "ds",
        "config": {"spec": {"window_s": 0.25, "hop_s": 0.05}},
        "regimes": {r: "..." for r in (*REGIMES, REFERENCE)},
        "windows": {
            "source": "lake events",
            "n_windows": 100 * n_subjects,
            "n_trials": 10 * n_subjects,
            "n_subjects": n_subjects,
            "subjects": subjects,
            "labels": LABELS,
            "model_sees": "tokens",
            "baselines_see": "samples",
        },
        "checkpoint": {
            "path": "c.pt",
            "vocab_id": "v",
            "pretrain_subjects": 3,
            "pretrain_datasets": ["other"],
        },
        "curve": [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}],
        "methods": methods,
    }


def test_chance_levels_are_uniform_and_the_majority_class_share() -> None:
    chance = chance_levels(fake_report(3))
    assert chance["uniform"] == pytest.approx(1 / 3)
    assert chance["majority"]["model"]["zero_shot"] == pytest.approx(0.6)
    assert row_normalised([[2, 2], [0, 0]]).tolist() == [[0.5, 0.5], [0.0, 0.0]]


def test_wilcoxon_exact_p_and_the_too_few_and_all_zero_cases() -> None:
    a = {f"s{i}": 0.6 + 0.01 * i for i in range(8)}
    b = {f"s{i}": 0.5 for i in range(8)}
    t = paired_test(a, b)
    # 8 positive differences: exact two-sided p = 2 / 2**8
    assert t["n"] == 8 and t["p_value"] == pytest.approx(2 / 256)
    assert t["mean_difference"] == pytest.approx(0.135)
    few = paired_test({k: a[k] for k in list(a)[:5]}, b)
    assert few["p_value"] is None and few["n"] == 5 and "too few subjects" in few["note"]
    same = paired_test(b, dict(b))
    assert same["p_value"] == 1.0 and same["note"] == "all differences zero"
    # subjects missing or NaN on one side are not paired
    c = dict(b) | {"s0": float("nan")}
    assert paired_test(a, {k: v for k, v in c.items() if k != "s1"})["n"] == 6
    tie = paired_test(a, dict(b) | {"s3": a["s3"]})
    assert tie["n_nonzero"] == 7 and "1 zero difference(s) dropped" in tie["note"]


def test_paired_tests_compare_the_model_with_every_baseline_per_regime() -> None:
    report = fake_report(7)
    tests = paired_tests(report)
    assert {(t["model"], t["baseline"]) for t in tests} == {("model", "td-lda")}
    assert {t["regime"] for t in tests} == {*REGIMES, REFERENCE}
    assert all(t["p_value"] == pytest.approx(2 / 128) for t in tests)
    # model-finetune (zero- and few-shot only) against the baseline and the frozen model
    tuned = {r: dict(v) for r, v in report["methods"]["model"].items()}
    for r in ("unsupervised_calibration", REFERENCE):
        tuned[r] = tuned[r] | {"window_accuracy": {"mean": None, "per_subject": {}}}
    report["methods"]["model-finetune"] = tuned
    pairs = sorted((t["model"], t["baseline"], t["regime"]) for t in paired_tests(report))
    tuned_regimes = 1 + len(FEW_SHOT_SPLITS)  # zero-shot and every few-shot regime
    assert len(pairs) == len(REGIMES) + 1 + 2 * tuned_regimes
    assert ("model-finetune", "model", "few_shot") in pairs
    assert ("model", "model-finetune", "few_shot") not in pairs
    # the gradient path is a model method too: against the baseline and both earlier models
    report["methods"]["model-finetune-gradient"] = tuned
    pairs = sorted((t["model"], t["baseline"], t["regime"]) for t in paired_tests(report))
    assert len(pairs) == len(REGIMES) + 1 + 2 * tuned_regimes + 3 * tuned_regimes
    assert ("model-finetune-gradient", "model-finetune", "zero_shot") in pairs
    assert ("model-finetune", "model-finetune-gradient", "zero_shot") not in pairs


def test_report_files_show_chance_tests_and_every_confusion(tmp_path: Path) -> None:
    page = write_eval_report(fake_report(7), tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    stats = data["statistics"]
    assert stats["chance"]["uniform"] == pytest.approx(1 / 3)
    assert stats["confusion_row_normalised"]["td-lda"]["few_shot"][2] == pytest.approx(
        [0.1, 0.1, 0.8]
    )
    # every regime and the reference x (window, trial)
    assert len(stats["paired_tests"]) == 2 * (len(REGIMES) + 1)
    text = page.read_text()
    assert "p = 0.0156 (n = 7)" in text and "majority class" in text
    assert "0.80 (8)" in text and "Wrist Flexion" in text  # confusion table cells
    for regime in (*REGIMES, REFERENCE):
        png = tmp_path / confusion_png(regime)
        assert f'src="{png.name}"' in text
        img = mpimg.imread(png)
        assert img.shape[1] > 400 and img[..., :3].std() > 0.05
    md = results_markdown(data, "emgcorpus run x", "machine")
    assert "| model vs td-lda | zero_shot | 7 | +0.103 | p = 0.0156 (n = 7) |" in md
    assert "| 0.600 |" in md  # the majority-class column
    assert (
        "**td-lda, few_shot**" in md and "| Wrist Flexion | 0.10 (1) | 0.10 (1) | 0.80 (8) |" in md
    )
    assert md.count("| true / predicted |") == 2 * (len(REGIMES) + 1)  # 2 methods, every regime
    small = results_markdown(fake_report(4), "c", "m")
    assert "too few subjects (n=4" in small
