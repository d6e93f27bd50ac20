"""Descriptor entries against signals whose answer is known (sines, band-limited noise, ramps)."""

from __future__ import annotations

import numpy as np
from scipy import signal

from vocab.contractions import Contractions, split_substeps
from vocab.descriptors import DESCRIPTOR_DIM, DESCRIPTOR_NAMES, DESCRIPTOR_UNITS, describe
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


def test_sine_frequency_duration_and_intensity() -> None:
    fs = 1000.0
    t = np.arange(300) / fs  # 300 ms
    y = 0.5 * np.sin(2 * np.pi * 100 * t)
    d = describe_whole(y, fs, (20.0, 450.0), floor=0.01)
    assert np.isclose(d[COL["log_duration"]], np.log(0.3), atol=1e-6)
    assert np.isclose(d[COL["log_intensity"]], np.log(0.5 / np.sqrt(2) / 0.01), atol=1e-3)
    for name in ("mean_frequency", "median_frequency"):
        assert abs(d[COL[name]] - 100.0) < 4.0, name
    assert 95.0 < d[COL["spectral_edge_90"]] < 110.0
    assert abs(d[COL["zero_crossing_rate"]] - 200.0) < 5.0
    assert d[COL["is_first"]] == 1 and d[COL["is_last"]] == 1


def test_band_ratios_follow_where_the_power_is() -> None:
    fs = 2000.0
    low = describe_whole(noise(fs, 600, 25, 55), fs, (20.0, 450.0))
    high = describe_whole(noise(fs, 600, 200, 400), fs, (20.0, 450.0))
    assert low[COL["band_low"]] > 0.5 and low[COL["band_high"]] < -0.5
    assert high[COL["band_high"]] > 0.1 and high[COL["band_low"]] < -1.0
    assert low[COL["mean_frequency"]] < 60 < 200 < high[COL["mean_frequency"]]
    assert low[COL["median_frequency"]] < high[COL["median_frequency"]]


def test_unrecorded_band_is_neutral_on_a_200hz_device() -> None:
    fs = 200.0  # Myo: recorded band 20-95 Hz, nothing of 150-450 Hz
    d = describe_whole(noise(fs, 60, 25, 90, seed=1), fs, (20.0, 95.0))
    assert d[COL["band_high"]] == 0.0
    assert d[COL["band_mid"]] != 0.0  # 60-95 Hz is recorded and measured
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
