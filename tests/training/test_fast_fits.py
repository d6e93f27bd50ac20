"""The evaluation's fast fits: ShrinkageLDA equals sklearn's shrinkage LDA, and the strong
baseline's early stopping validates on rows the stride left out."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from emgcorpus.errors import ConfigError
from training.baselines import ShrinkageLDA, StridedFit, make_classifier


def _data(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 5, n)
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 10.0, d) + rng.normal(size=d)
    x[:, 0] = rng.normal(size=n) + 2.0 * y
    x[:, 1] = 2.0 * x[:, 2] + 1e-3 * x[:, 3]  # nearly collinear columns
    x[:, 4] = 1.0  # a constant column
    return x, y


@pytest.mark.parametrize(("n", "d"), [(400, 6), (3000, 40)])
def test_shrinkage_lda_is_sklearn_lda(n: int, d: int) -> None:
    x, y = _data(n, d)
    ref = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(x, y)
    ours = ShrinkageLDA().fit(x, y)
    np.testing.assert_allclose(ours.covariance_, ref.covariance_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-7, atol=1e-9)
    xt, _ = _data(500, d, seed=1)
    assert np.array_equal(ours.predict(xt), ref.predict(xt))
    assert (ours.predict(x) == y).mean() > 0.4  # it learned the informative column


def test_shrinkage_lda_string_labels_and_one_class() -> None:
    x, y = _data(300, 6)
    labels = np.array(["a", "b", "c", "d", "e"])[y]
    pred = ShrinkageLDA().fit(x, labels).predict(x)
    assert set(pred) <= set(labels)
    with pytest.raises(ConfigError, match="at least 2 classes"):
        ShrinkageLDA().fit(x, np.zeros(len(x), np.int64))


def test_strong_stops_early_on_left_out_rows() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 4))
    x[:, 0] += 3.0 * y  # easy: the loss stops improving long before 100 iterations
    clf = make_classifier("strong", strong_max_iter=100)
    assert isinstance(clf, StridedFit)
    clf.max_rows = 500  # stride 4: validation rows are the ones halfway between
    clf.fit(x, y)
    assert clf.estimator.n_iter_ < 60
    assert (clf.predict(x) == y).mean() > 0.9
    slow = make_classifier("strong", strong_max_iter=10, fast=False)
    slow.fit(x, y)
    assert slow.estimator.n_iter_ == 10


def test_strong_small_class_fits_without_early_stopping() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4))
    y = np.r_[np.zeros(55, np.int64), np.ones(5, np.int64)]
    x[y == 1, 0] += 4.0
    clf = make_classifier("strong", strong_max_iter=15).fit(x, y)
    assert clf.estimator.n_iter_ == 15  # 5 rows of class 1: no validation split possible
    assert (clf.predict(x) == y).mean() > 0.9


def test_boost_probe_is_the_strong_classifier_on_the_model_features() -> None:
    # a label that is an XOR of two columns: no linear probe separates it, boosted trees do
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 5))
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64)
    boost = make_classifier("model", probe="boost", strong_max_iter=50)
    strong = make_classifier("strong", strong_max_iter=50)
    assert isinstance(boost, StridedFit) and type(boost.estimator) is type(strong.estimator)
    assert boost.estimator.get_params() == strong.estimator.get_params()
    xt = rng.normal(size=(1000, 5))
    yt = ((xt[:, 0] > 0) ^ (xt[:, 1] > 0)).astype(np.int64)
    assert (boost.fit(x, y).predict(xt) == yt).mean() > 0.9
    assert (make_classifier("model", probe="lda").fit(x, y).predict(xt) == yt).mean() < 0.7
    with pytest.raises(ConfigError, match="invalid linear probe 'boost'"):
        from training.baselines import linear_probe

        linear_probe("boost")
