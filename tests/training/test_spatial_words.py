"""Spatial words (training.spatial_words): the co-activation pattern per 50 ms step, quantised
per fold, as an audit feature set and as features appended to the model's."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from emgcorpus.cli.main import cli
from training.audit import run_audit
from training.eval_report import accuracy_lines, render_html
from training.evaluate import EvalConfig, evaluate_loso
from training.report_stats import report_statistics
from training.spatial_words import (
    N_WORDS,
    NO_INTENSITY,
    NO_SLOTS,
    StepPatterns,
    fold_word_bags,
    spatial_word_bags,
    window_patterns,
    word_bag,
)
from training.splits import Fold

from .toy import pretrained_gesture_toy, pretrained_without_toy, spatial_toy

TINY = {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32}


def _item(ids, onsets, durations, levels) -> dict[str, np.ndarray]:
    n = len(ids)
    return {
        "token_ids": np.array(ids, np.int64),
        "onset_s": np.array(onsets, np.float32),
        "duration_s": np.array(durations, np.float32),
        "desc": np.column_stack([np.zeros(n), levels]).astype(np.float32),
    }


def test_window_pattern_is_the_level_relative_to_the_active_positions():
    # positions 0 and 2 active together for the first two 50 ms steps, position 1 alone
    # in the third; a special token (id 5) and a token without position are ignored
    item = _item(
        [12, 13, 14, 5, 12],
        [0.0, 0.0, 0.10, 0.0, 0.0],
        [0.10, 0.10, 0.05, 0.20, 0.20],
        [1.0, 3.0, 7.0, 9.0, 9.0],
    )
    slot = np.array([0, 2, 1, 0, -1])
    vecs, n_grid = window_patterns(item, slot, intensity=1, n_positions=3, length_s=0.25)
    assert n_grid == 5
    np.testing.assert_allclose(
        vecs,
        [
            [-1.0, 0.0, 1.0, 1.0, 0.0, 1.0],
            [-1.0, 0.0, 1.0, 1.0, 0.0, 1.0],
            [0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        ],
    )
    # a window without tokens: no pattern, its grid steps count as no word
    empty = {k: v[:0] for k, v in item.items()}
    vecs, n_grid = window_patterns(empty, slot[:0], 1, 3, 1.0)
    assert vecs.shape == (0, 6) and n_grid == 20
    # the level of the louder token where one position holds two; gain-free
    item = _item([12, 13, 14], [0.0, 0.0, 0.0], [0.05] * 3, [2.0, 5.0, 1.0])
    vecs, _ = window_patterns(item, np.array([0, 0, 1]), 1, 2, 0.05)
    np.testing.assert_allclose(vecs, [[2.0, -2.0, 1.0, 1.0]])
    shifted = _item([12, 13, 14], [0.0, 0.0, 0.0], [0.05] * 3, [12.0, 15.0, 11.0])
    np.testing.assert_allclose(window_patterns(shifted, np.array([0, 0, 1]), 1, 2, 0.05)[0], vecs)


def test_word_bag_rows_are_shares_of_the_grid_including_no_word():
    patterns = StepPatterns(
        vectors=np.zeros((5, 2), np.float32),
        owner=np.array([0, 0, 0, 2, 2]),
        n_steps=np.array([4, 3, 2]),
    )
    bag = word_bag(np.array([1, 1, 0, 2, 2]), patterns, n_words=3)
    assert bag.shape == (3, 4)
    np.testing.assert_allclose(bag.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(bag[0], [0.25, 0.5, 0.0, 0.25])
    np.testing.assert_allclose(bag[1], [0.0, 0.0, 0.0, 1.0])  # no active step
    np.testing.assert_allclose(bag[2], [0.0, 0.0, 1.0, 0.0])


def test_a_folds_codebook_does_not_see_the_held_out_subject():
    rng = np.random.default_rng(0)
    owner = np.repeat(np.arange(6), 20)
    patterns = StepPatterns(rng.normal(size=(120, 4)).astype(np.float32), owner, np.full(6, 25))
    fold = Fold("s2", train_idx=np.arange(4), test_idx=np.array([4, 5]))
    bags = fold_word_bags(patterns, [fold], n_words=8)(fold)
    assert bags.shape == (6, 9)
    moved = patterns.vectors.copy()
    moved[owner >= 4] = rng.normal(5.0, 3.0, size=(40, 4))  # only the test windows' steps
    again = fold_word_bags(StepPatterns(moved, owner, patterns.n_steps), [fold], n_words=8)(fold)
    np.testing.assert_array_equal(again[:4], bags[:4])  # same codebook for the training rows
    assert not np.array_equal(again[4:], bags[4:])


def _acc(result: dict, name: str, regime: str = "zero_shot") -> float:
    return float(result[name][regime]["window_accuracy"]["mean"])


def test_synergy_toy_only_the_words_carry_the_gesture(tmp_path):
    """Every channel is active half of each gesture at one level: pooled per position, the
    gestures look alike; which channels act together, step by step, tells them apart."""
    audit = run_audit(spatial_toy(tmp_path / "shards", "synergy"), EvalConfig(dataset="toy"))[
        "audit"
    ]
    assert audit["unavailable"] == {}
    assert audit["n_features"]["spatial-words"] == N_WORDS + 1
    methods = audit["methods"]
    assert _acc(methods, "spatial-words") > 0.9
    assert _acc(methods, "spatial-words", "within_subject") > 0.9
    for name in ("pooled-descriptors", "spatial-intensity"):
        assert _acc(methods, name) < 0.7, name


def test_model_features_with_spatial_words(tmp_path):
    shards = spatial_toy(tmp_path / "shards", "synergy", subjects=4, others=2)
    ckpt = pretrained_without_toy(shards, tmp_path / "ckpt", TINY)
    plain = evaluate_loso(
        shards, ckpt, EvalConfig(dataset="toy", baselines=[], probe="lda"), progress=False
    )
    out = tmp_path / "report"
    args = ["train", "eval", "--shards", str(shards), "--checkpoint", str(ckpt), "--no-lake"]
    args += ["--dataset", "toy", "--baselines", "", "--probe", "lda", "--out", str(out)]
    res = CliRunner().invoke(cli, [*args, "--spatial-words", "16"])
    assert res.exit_code == 0, res.output
    words = json.loads((out / "report.json").read_text())
    assert words["config"]["spatial_words"] == 16 and words["spatial_words"]["appended"]
    assert "model features: the model's features + a bag of 16 spatial words" in res.output
    # the words alone (the audit's 64) carry the gesture; the model without them does not
    assert _acc(plain["audit"]["methods"], "spatial-words") > 0.9
    assert _acc(plain["methods"], "model") < 0.75
    assert _acc(words["methods"], "model") > 0.9
    assert _acc(words["methods"], "model") > _acc(plain["methods"], "model") + 0.15


def test_spatial_words_that_cannot_be_built_leave_the_model_as_it_is_and_say_why(tmp_path):
    shards, ckpt = pretrained_gesture_toy(tmp_path, TINY)
    base = {"dataset": "toy", "baselines": [], "audit": False}
    plain = evaluate_loso(shards, ckpt, EvalConfig(**base), progress=False)
    asked = evaluate_loso(shards, ckpt, EvalConfig(**base, spatial_words=8), progress=False)
    assert "spatial_words" not in plain
    assert asked["spatial_words"]["appended"] is False
    assert "the shards store no token descriptors" in asked["spatial_words"]["note"]
    assert asked["methods"]["model"] == plain["methods"]["model"]
    assert any("not appended: the shards store no" in x for x in accuracy_lines(asked))
    assert "not appended" in render_html({**asked, "statistics": report_statistics(asked)})


def test_cli_audit_prints_the_words_line(tmp_path):
    shards = spatial_toy(tmp_path / "shards", "synergy")
    res = CliRunner().invoke(
        cli, ["train", "audit", "--shards", str(shards), "--dataset", "toy", "--no-lake"]
    )
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if "audit spatial-words" in x)
    assert float(line.split("zero_shot")[1].split(",")[0]) > 0.9


def test_words_say_why_they_cannot_be_built():
    item = _item([12], [0.0], [0.05], [1.0])
    item["channel_pos"] = np.zeros((1, 8), np.float32)
    # a dense grid has no position slots (more than MAX_POOL_POSITIONS positions)
    got = spatial_word_bags([item], {}, 1, [], [], model_window_s=1.0)
    assert got == (None, NO_SLOTS)
    slots = {np.zeros(8, np.float32).tobytes(): 0}
    got = spatial_word_bags([item], slots, None, [], [], model_window_s=1.0)
    assert got == (None, NO_INTENSITY)
