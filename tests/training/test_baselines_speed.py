"""The strong baseline's fast fit (learning rate STRONG_LEARNING_RATE, early stopping) stops
in fewer iterations than the earlier fit runs and classifies held-out rows as well."""

from __future__ import annotations

import numpy as np

from training.baselines import STRONG_LEARNING_RATE, StridedFit, make_classifier


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.normal(size=(n, 8))
    x[:, 0] += 1.2 * y
    x[:, 1] += 0.8 * (y % 2) + 0.3 * x[:, 0]
    return x, y


def test_fast_strong_fit_stops_early_and_keeps_accuracy() -> None:
    x, y = _data(4000, 0)
    xt, yt = _data(2000, 1)
    fast = make_classifier("strong", strong_max_iter=100)
    earlier = make_classifier("strong", strong_max_iter=100, fast=False)
    assert isinstance(fast, StridedFit) and isinstance(earlier, StridedFit)
    assert fast.estimator.learning_rate == STRONG_LEARNING_RATE
    assert earlier.estimator.learning_rate == 0.1
    fast.max_rows = earlier.max_rows = 2000  # stride 2: the fast fit validates on the rest
    fast.fit(x, y)
    earlier.fit(x, y)
    assert earlier.estimator.n_iter_ == 100
    assert fast.estimator.n_iter_ < 50
    acc_fast = float((fast.predict(xt) == yt).mean())
    acc_earlier = float((earlier.predict(xt) == yt).mean())
    assert acc_fast > 0.6
    assert acc_fast >= acc_earlier - 0.02
