"""Band selection, filtering, the time grid, the RMS envelope and the noise floor."""

from __future__ import annotations

import numpy as np
import pytest

from emgcorpus.errors import ConfigError
from emgcorpus.recording import ChannelInfo
from vocab.envelope import (
    cell_power,
    filter_channels,
    make_grid,
    noise_floor,
    recorded_band,
    rms_envelope,
)


def test_recorded_band_clips_to_what_the_device_recorded() -> None:
    ch = ChannelInfo(name="c")
    assert recorded_band(ch, 200.0, 20.0, 450.0) == (20.0, 95.0)  # Myo: 0.95 x Nyquist
    assert recorded_band(ch, 2048.0, 20.0, 450.0) == (20.0, 450.0)
    band = recorded_band(ChannelInfo(name="c", high_cutoff=100.0), 1000.0, 20.0, 450.0)
    assert band == (20.0, 95.0)  # an upsampled 200 Hz signal keeps its band
    band = recorded_band(ChannelInfo(name="c", low_cutoff=30.0), 1000.0, 20.0, 450.0)
    assert band == (30.0, 450.0)
    assert recorded_band(ch, 30.0, 20.0, 450.0) is None  # nothing above 20 Hz recorded


def test_grid_is_fixed_in_seconds_whatever_the_rate() -> None:
    g1, g2 = make_grid(1000, 1000.0, 10.0), make_grid(2000, 2000.0, 10.0)
    assert g1.n_cells == g2.n_cells == 100
    assert np.allclose(g1.time_s(np.arange(101)), g2.time_s(np.arange(101)))
    g3 = make_grid(1005, 1000.0, 10.0)  # a partial last cell
    assert g3.bounds[-1] == 1005 and g3.n_cells == 101 and np.all(g3.counts > 0)
    g4 = make_grid(999, 2048.0, 10.0)  # non-integer samples per cell
    assert np.all(np.isin(np.diff(g4.bounds)[:-1], [20, 21])) and g4.bounds[-1] == 999
    assert 0 < g4.counts[-1] <= 21
    with pytest.raises(ConfigError, match="grid_ms"):
        make_grid(100, 50.0, 10.0)


def test_cell_power_and_envelope_of_a_sine() -> None:
    fs = 1000.0
    t = np.arange(3000) / fs
    y = np.stack([2.0 * np.sin(2 * np.pi * 100 * t), np.zeros_like(t)]).astype(np.float32)
    grid = make_grid(y.shape[1], fs, 10.0)
    power = cell_power(y, grid)
    assert np.isclose(power.sum(), float(np.sum(y.astype(np.float64) ** 2)), rtol=1e-5)
    env = rms_envelope(power, grid, 50.0)
    assert env.shape == (2, grid.n_cells)
    assert np.allclose(env[0, 5:-5], 2.0 / np.sqrt(2), rtol=1e-3)
    assert np.all(env[1] == 0)


def test_filter_passes_the_band_and_ignores_a_dc_offset() -> None:
    fs = 1000.0
    t = np.arange(4000) / fs
    x = np.stack(
        [
            np.sin(2 * np.pi * 100 * t),  # in band
            np.sin(2 * np.pi * 3 * t),  # below band
            1000.0 + 0.0 * t,  # pure DC offset (raw ADC counts)
        ]
    ).astype(np.float32)
    y = filter_channels(x, fs, [(20.0, 450.0)] * 3)
    assert y.dtype == np.float32
    assert np.sqrt(np.mean(y[0, 1000:] ** 2)) > 0.6
    assert np.sqrt(np.mean(y[1, 1000:] ** 2)) < 0.01
    assert np.max(np.abs(y[2])) < 1e-2, "no start-up transient from a DC offset"
    # each row in its own band: a 60 Hz sine is cut by a 80-450 Hz band only
    s60 = np.sin(2 * np.pi * 60 * t).astype(np.float32)
    y2 = filter_channels(np.stack([s60, s60]), fs, [(20.0, 450.0), (80.0, 450.0)])
    assert np.std(y2[0, 1000:]) > 3 * np.std(y2[1, 1000:])
    y3 = filter_channels(np.stack([s60]), fs, [(20.0, 450.0)], notch_hz=60.0)
    assert np.std(y3[0, 1000:]) < 0.2 * np.std(y2[0, 1000:])


def test_noise_floor_without_rest_at_the_start() -> None:
    """A recording that starts mid-contraction: the floor is still the quiet level."""
    fs = 1000.0
    grid = make_grid(10_000, fs, 10.0)
    rng = np.random.default_rng(0)
    env = np.full((1, grid.n_cells), 0.05) * rng.uniform(0.8, 1.2, grid.n_cells)
    env[0, :600] = 1.0  # active for the first 6 s of 10 s
    floor = noise_floor(env, grid, 200.0, 10.0)
    assert 0.04 < floor[0] < 0.06
    silent = noise_floor(np.zeros((1, grid.n_cells)), grid, 200.0, 10.0)
    assert 0 < silent[0] < 1e-30
