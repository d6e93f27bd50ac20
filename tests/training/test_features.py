"""TD and strong features on signals with known answers; TD+LDA on a separable toy."""

from __future__ import annotations

import numpy as np
import pytest

from emgcorpus.errors import ConfigError
from training.baselines import cut_windows, make_classifier
from training.features import (
    ar_coefficients,
    mav,
    rms,
    slope_sign_changes,
    spectral_features,
    strong_features,
    td_features,
    waveform_length,
    zero_crossings,
)
from training.windows import Window

FS = 1000.0


def _sine(freq: float, n: int = 500, amp: float = 1.0, phase: float = 0.1) -> np.ndarray:
    t = np.arange(n) / FS
    return (amp * np.sin(2 * np.pi * freq * t + phase))[None, :, None]


def test_mav_rms_wl_of_a_constant() -> None:
    x = np.full((1, 100, 2), -3.0)
    assert mav(x).tolist() == [[3.0, 3.0]]
    assert rms(x).tolist() == [[3.0, 3.0]]
    assert waveform_length(x).tolist() == [[0.0, 0.0]]
    assert zero_crossings(x).tolist() == [[0.0, 0.0]]


def test_zero_crossings_and_slope_sign_changes_of_a_sine() -> None:
    x = _sine(10.0)  # 0.5 s of 10 Hz: 5 periods, 10 zero crossings, 10 extrema
    assert zero_crossings(x)[0, 0] == 10
    assert slope_sign_changes(x)[0, 0] == 10
    assert rms(x)[0, 0] == pytest.approx(1 / np.sqrt(2), rel=1e-3)
    assert mav(x)[0, 0] == pytest.approx(2 / np.pi, rel=1e-2)
    # WL of a sine: 4 * amplitude per period
    assert waveform_length(x)[0, 0] == pytest.approx(20.0, rel=1e-2)
    assert td_features(np.concatenate([x, x], axis=2)).shape == (1, 10)


def test_spectral_features_find_the_frequency() -> None:
    s = spectral_features(_sine(80.0), FS)
    assert s[0, 0] == pytest.approx(80.0, abs=3.0)  # mean frequency
    assert s[0, 1] == pytest.approx(80.0, abs=3.0)  # median frequency
    bands = s[0, 2:]
    assert bands.argmax() == 2  # 60-100 Hz band
    assert strong_features(np.random.default_rng(0).normal(size=(3, 200, 4)), FS).shape[0] == 3


def test_ar_coefficients_recover_an_ar2_process() -> None:
    rng = np.random.default_rng(1)
    x = np.zeros(4000)
    for i in range(2, len(x)):
        x[i] = 1.2 * x[i - 1] - 0.5 * x[i - 2] + rng.normal()
    coef = ar_coefficients(x[None, :, None], order=2)[0]
    assert coef == pytest.approx([1.2, -0.5], abs=0.05)


def test_feature_input_checks() -> None:
    with pytest.raises(ConfigError, match="n_windows, n_samples, n_channels"):
        td_features(np.zeros((10, 4)))


def test_td_lda_on_a_separable_toy() -> None:
    rng = np.random.default_rng(0)
    # class k: channel k carries 5x the noise amplitude of the others
    xs, ys = [], []
    for k in range(3):
        x = rng.normal(size=(60, 250, 3))
        x[:, :, k] *= 5
        xs.append(x)
        ys += [k] * 60
    X, y = td_features(np.concatenate(xs)), np.array(ys)
    clf = make_classifier("td-lda").fit(X[::2], y[::2])
    assert (clf.predict(X[1::2]) == y[1::2]).mean() > 0.9


def test_cut_windows_takes_the_right_samples() -> None:
    samples = np.arange(20, dtype=np.float64)[:, None] * np.ones((1, 2))
    w = Window("r/0@0", "r", "d", "s", "1", "1", 0.5, 0.8, "a", 0, "r/0", 0.0, 1.0)
    cut = cut_windows(samples, 10.0, [w])
    assert cut.shape == (1, 3, 2) and cut[0, :, 0].tolist() == [5.0, 6.0, 7.0]
