"""Hysteresis, gap merging, minimum duration, peaks, sub-steps and rests on the grid."""

from __future__ import annotations

import numpy as np
import pytest

from emgcorpus.errors import ConfigError
from vocab.contractions import (
    ContractionDetector,
    Runs,
    hysteresis,
    merge_gaps,
    rest_runs,
    runs_of,
    split_substeps,
)
from vocab.envelope import make_grid


def test_hysteresis_keeps_state_between_thresholds() -> None:
    env = np.array([[1, 4, 2.5, 2.5, 1.5, 2.5, 3.5, 2.5]], dtype=float)
    mask = hysteresis(env, np.array([3.0]), np.array([2.0]))
    assert mask[0].tolist() == [False, True, True, True, False, False, True, True]
    # starting between the thresholds counts as off
    assert not hysteresis(np.array([[2.5, 2.5]]), np.array([3.0]), np.array([2.0])).any()


def test_runs_merge_and_rests() -> None:
    mask = np.array([[0, 1, 1, 0, 1, 0, 0, 0, 1, 1], [1, 1, 0, 0, 0, 0, 0, 0, 0, 1]], dtype=bool)
    runs = runs_of(mask)
    assert list(zip(runs.row, runs.start, runs.end)) == [
        (0, 1, 3), (0, 4, 5), (0, 8, 10), (1, 0, 2), (1, 9, 10),
    ]  # fmt: skip
    merged = merge_gaps(runs, 2)  # gap of 1 cell merges, gaps of 3 and 7 do not
    assert list(zip(merged.row, merged.start, merged.end)) == [
        (0, 1, 5), (0, 8, 10), (1, 0, 2), (1, 9, 10),
    ]  # fmt: skip
    rests = rest_runs(merged, 2, 10)
    per_row = np.bincount(rests.row, weights=rests.end - rests.start, minlength=2)
    act_row = np.bincount(merged.row, weights=merged.end - merged.start, minlength=2)
    assert np.array_equal(per_row + act_row, [10, 10])
    assert list(zip(rests.row, rests.start, rests.end))[:2] == [(0, 0, 1), (0, 5, 8)]


def test_detector_drops_short_runs_and_finds_peaks() -> None:
    grid = make_grid(3000, 1000.0, 10.0)  # 300 cells of 10 ms
    env = np.ones((2, grid.n_cells))
    env[0, 50:55] = 10.0  # 50 ms: too short
    env[0, 100:160] = 5.0  # 600 ms contraction, peak at cell 130
    env[0, 130] = 9.0
    env[0, 163:200] = 5.0  # 30 ms gap: merged into the previous one
    env[1, 200:230] = 4.0  # 300 ms on the other channel
    det = ContractionDetector(on_ratio=3.0, off_ratio=2.0, min_duration_ms=100.0, min_gap_ms=50.0)
    c = det.detect(env, np.ones(2), grid)
    assert list(zip(c.row, c.start, c.end)) == [(0, 100, 200), (1, 200, 230)]
    assert c.peak.tolist() == [130, 200]
    assert np.allclose(c.peak_env, [9.0, 4.0])
    assert np.allclose(c.onset_s(grid), [1.0, 2.0]) and np.allclose(c.offset_s(grid), [2.0, 2.3])
    assert np.allclose(c.peak_s(grid), [1.305, 2.005])


def test_detector_rejects_bad_parameters() -> None:
    with pytest.raises(ConfigError, match="off_ratio"):
        ContractionDetector(on_ratio=2.0, off_ratio=3.0)
    with pytest.raises(ConfigError, match="min_duration_ms"):
        ContractionDetector(min_duration_ms=-1.0)


def test_split_substeps() -> None:
    runs = Runs(row=np.array([0, 0, 1]), start=np.array([0, 100, 10]), end=np.array([55, 105, 50]))
    s = split_substeps(runs, 20)
    lengths = (s.end - s.start).tolist()
    assert lengths == [20, 20, 15, 5, 20, 20]
    assert s.contraction.tolist() == [0, 0, 0, 1, 2, 2]
    assert s.is_first.tolist() == [True, False, False, True, True, False]
    assert s.is_last.tolist() == [False, False, True, True, False, True]
    # sub-steps tile each contraction exactly
    for i in range(3):
        m = s.contraction == i
        assert s.start[m][0] == runs.start[i] and s.end[m][-1] == runs.end[i]
        assert np.array_equal(s.start[m][1:], s.end[m][:-1])
