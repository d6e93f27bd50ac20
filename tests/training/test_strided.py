"""The strong baseline fits on a bounded, evenly strided subset of the training windows."""

from __future__ import annotations

import numpy as np

from training.baselines import STRONG_MAX_ROWS, StridedFit, make_classifier


class _Recorder:
    def fit(self, x: np.ndarray, y: np.ndarray) -> _Recorder:
        self.x, self.y = x, y
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(len(x), np.int64)


def test_strided_fit_bounds_rows_and_keeps_every_part_in_order() -> None:
    x = np.arange(25_000, dtype=np.float64)[:, None]
    y = np.repeat(np.arange(5), 5_000)  # five classes in time order
    rec = _Recorder()
    StridedFit(rec, 6000).fit(x, y)
    assert len(rec.x) <= 6000 and len(rec.x) >= 6000 // 2
    assert np.all(np.diff(rec.x[:, 0]) > 0)  # order kept
    assert set(rec.y.tolist()) == {0, 1, 2, 3, 4}  # every part of the sequence sampled
    small = _Recorder()
    StridedFit(small, 6000).fit(x[:100], y[:100])
    assert len(small.x) == 100  # below the bound: every row


def test_strong_baseline_learns_a_separable_problem_through_the_stride() -> None:
    rng = np.random.default_rng(0)
    n = STRONG_MAX_ROWS * 2
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 4)) + 3.0 * y[:, None]
    clf = make_classifier("strong", strong_max_iter=20)
    assert isinstance(clf, StridedFit)
    acc = float(np.mean(clf.fit(x, y).predict(x) == y))
    assert acc > 0.95
