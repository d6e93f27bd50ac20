"""Descriptor entries against signals whose answer is known (sines, band-limited noise, ramps)."""

from __future__ import annotations

import numpy as np
from scipy import signal

from vocab.contractions import Contractions, split_substeps
from vocab.descriptors import (
    DESCRIPTOR_DIM,
    DESCRIPTOR_NAMES,
    DESCRIPTOR_UNITS,
    OPTIONAL_DIMS,
    describe,
)
from vocab.envelope import cell_power, make_grid, rms_envelope
from vocab.nct import NCTTokenizer

COL = {name: i for i, name in enumerate(DESCRIPTOR_NAMES)}


def describe_whole(
    y: np.ndarray, fs: float, band: tuple[float, float], floor: float = 1.0
) -> np.ndarray:
    """Descriptor of one segment spanning all of ``y`` (1-D), as one whole contraction."""
    y2 = np.asarray(y, dtype=np.float32)[None, :]
    grid = make_grid(y2.shape[1], fs, 10.0)
    power = cell_power(y2, grid)
    env = rms_envelope(power, grid, 50.0)
    c = Contractions(
        row=np.array([0]), start=np.array([0]), end=np.array([grid.n_cells]),
        peak=np.array([int(env[0].argmax())]), peak_env=np.array([float(env[0].max())]),
    )  # fmt: skip
    steps = split_substeps(c, grid.n_cells)
    d = describe(y2, grid, power, env, np.array([floor]), np.array([band]), steps, c)
    assert d.shape == (1, DESCRIPTOR_DIM) and d.dtype == np.float32
    return d[0].astype(np.float64)


def noise(fs: float, n: int, lo: float, hi: float, seed: int = 0) -> np.ndarray:
    sos = signal.butter(6, [lo, hi], "bandpass", fs=fs, output="sos")
    return signal.sosfiltfilt(sos, np.random.default_rng(seed).normal(size=n))


def test_names_units_and_dim_agree() -> None:
    assert len(DESCRIPTOR_NAMES) == len(DESCRIPTOR_UNITS) == DESCRIPTOR_DIM == 16
    assert NCTTokenizer().descriptor_dim == DESCRIPTOR_DIM
    assert [DESCRIPTOR_NAMES[i] for i in OPTIONAL_DIMS] == ["band_mid", "band_high"]


def test_sine_frequency_duration_and_intensity() -> None:
    fs = 1000.0
    t = np.arange(300) / fs  # 300 ms
    y = 0.5 * np.sin(2 * np.pi * 70 * t)
    d = describe_whole(y, fs, (20.0, 450.0), floor=0.01)
    assert np.isclose(d[COL["log_duration"]], np.log(0.3), atol=1e-6)
    assert np.isclose(d[COL["log_intensity"]], np.log(0.5 / np.sqrt(2) / 0.01), atol=1e-3)
    for name in ("mean_frequency", "median_frequency"):
        assert abs(d[COL[name]] - 70.0) < 4.0, name
    assert 65.0 < d[COL["spectral_edge_90"]] < 80.0
    assert d[COL["spectral_spread"]] < 8.0  # one line, smeared by the Hann window only
    assert d[COL["low_high_ratio"]] < -1.0  # 70 Hz is in the upper half of 20-95 Hz
    assert d[COL["band_high"]] < -2.0  # nothing above the common band
    assert d[COL["is_first"]] == 1 and d[COL["is_last"]] == 1


def test_spectral_entries_use_the_common_band_only() -> None:
    """The same 25-90 Hz activity plus 200-400 Hz activity seen by a 2 kHz amplifier and by
    a 200 Hz Myo: entries 9-13 agree; 14-15 are measured on one and absent on the other."""
    fs = 2000.0
    x = noise(fs, 4000, 25, 90, seed=4) + noise(fs, 4000, 200, 400, seed=5)
    wide = describe_whole(x, fs, (20.0, 450.0))
    myo = describe_whole(signal.resample_poly(x, 1, 10), 200.0, (20.0, 95.0))
    for name, tol in [("mean_frequency", 3.0), ("median_frequency", 3.0),
                      ("spectral_edge_90", 5.0), ("spectral_spread", 3.0),
                      ("low_high_ratio", 0.1)]:  # fmt: skip
        assert abs(wide[COL[name]] - myo[COL[name]]) < tol, name
    assert 25.0 < wide[COL["mean_frequency"]] < 90.0
    # 200-400 Hz has the density of 25-90 Hz over 2/3 of 150-450 Hz; 95-150 Hz is empty
    assert abs(wide[COL["band_high"]] - np.log10(2 / 3 * 75 / 65)) < 0.15
    assert wide[COL["band_mid"]] < -1.0
    assert np.isnan(myo[COL["band_mid"]]) and np.isnan(myo[COL["band_high"]])
    assert np.isfinite(wide[COL["band_mid"]]) and np.isfinite(wide[COL["band_high"]])


def test_band_ratios_follow_where_the_power_is() -> None:
    fs = 2000.0
    low = describe_whole(noise(fs, 600, 25, 45), fs, (20.0, 450.0))
    high = describe_whole(noise(fs, 600, 60, 90), fs, (20.0, 450.0))
    assert low[COL["low_high_ratio"]] > 0.5 > -0.5 > high[COL["low_high_ratio"]]
    assert low[COL["mean_frequency"]] < 50 < high[COL["mean_frequency"]]
    assert low[COL["median_frequency"]] < high[COL["median_frequency"]]


def test_partly_recorded_optional_band() -> None:
    fs = 400.0  # recorded band 20-190 Hz: 95-150 Hz recorded, 150-450 Hz only 40 Hz of 300
    d = describe_whole(noise(fs, 160, 25, 180, seed=1), fs, (20.0, 190.0))
    assert np.isfinite(d[COL["band_mid"]]) and np.isnan(d[COL["band_high"]])
    assert 20.0 <= d[COL["median_frequency"]] <= 95.0
    assert d[COL["spectral_edge_90"]] <= 95.0 + 1e-6


def test_shape_follows_the_envelope() -> None:
    fs = 1000.0
    n = 400
    ramp = np.linspace(0.1, 1.0, n) * noise(fs, n, 50, 300, seed=2)
    d = describe_whole(ramp, fs, (20.0, 450.0))
    shape = d[COL["shape_q1"] : COL["shape_q4"] + 1]
    assert shape[0] < shape[1] < shape[3] and shape[0] < 0.6 < 1.3 < shape[3]
    assert abs(shape.mean() - 1.0) < 0.15
    flat = describe_whole(noise(fs, n, 50, 300, seed=3), fs, (20.0, 450.0))
    assert np.all(np.abs(flat[COL["shape_q1"] : COL["shape_q4"] + 1] - 1.0) < 0.4)
