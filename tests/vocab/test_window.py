"""The window baseline tokenizer: window count, channel mapping, gating, z-scoring."""

from __future__ import annotations

import numpy as np
import pytest

from emgcorpus.errors import ConfigError
from emgcorpus.recording import ChannelInfo
from tests.conftest import shared_data
from vocab.tokenizer_base import KIND_ACTIVE, KIND_REST
from vocab.tokenizers import get_tokenizer
from vocab.window import N_FEATURES, WindowTokenizer, map_channels, n_windows


def chans(n: int) -> list[ChannelInfo]:
    return [ChannelInfo(name=f"c{i}", units="mV") for i in range(n)]


def quiet_then_burst(fs: float, n_ch: int, seconds: float = 4.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    x = 0.01 * rng.normal(size=(n, n_ch))
    x[n // 2 :] += rng.normal(size=(n - n // 2, n_ch))
    return x


def test_window_count_formula() -> None:
    assert n_windows(1000, 50, 10) == 96
    assert n_windows(50, 50, 10) == 1 and n_windows(49, 50, 10) == 0
    tok = WindowTokenizer()
    assert tok.window_samples() == (50, 10)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5000, 4))  # 5 s at 1 kHz -> 1000 samples at 200 Hz
    s = tok.segment(x, 1000.0, chans(4))
    assert (s.kind == KIND_ACTIVE).sum() == n_windows(1000, 50, 10)  # no gating on noise
    assert np.all(s.channel == -1)
    assert np.allclose(s.duration_s[s.kind == KIND_ACTIVE], 0.25)
    assert np.allclose(np.diff(s.onset_s), 0.05)
    # a 2 kHz copy gives the same windows (resampled to 200 Hz first)
    s2 = tok.segment(np.repeat(x, 2, axis=0), 2000.0, chans(4))
    assert len(s2) == len(s)


def test_channel_mapping_pads_and_truncates() -> None:
    x8 = np.arange(24, dtype=float).reshape(3, 8)
    m = map_channels(x8, 16)
    assert m.shape == (3, 16) and np.array_equal(m[:, :8], x8) and not m[:, 8:].any()
    tok = WindowTokenizer()
    assert tok.descriptor_dim == 16 * N_FEATURES
    s8 = tok.segment(quiet_then_burst(1000.0, 8), 1000.0, chans(8))
    act = s8.descriptor[s8.kind == KIND_ACTIVE]
    assert act.shape[1] == 64 and not act[:, 8 * N_FEATURES :].any()  # padded channels
    assert act[:, : 8 * N_FEATURES].any(axis=0).all()
    # 64 -> 16: only the first 16 channels matter
    x64 = quiet_then_burst(1000.0, 64)
    s64 = tok.segment(x64, 1000.0, chans(64))
    x64b = x64.copy()
    x64b[:, 40] *= 7.0
    s64b = tok.segment(x64b, 1000.0, chans(64))
    assert np.array_equal(s64b.descriptor, s64.descriptor, equal_nan=True)
    x64c = x64.copy()
    x64c[:, 3] *= 7.0
    assert not np.allclose(
        tok.segment(x64c, 1000.0, chans(64)).descriptor, s64.descriptor, equal_nan=True
    )


def test_energy_gate_turns_quiet_windows_into_one_rest() -> None:
    fs = 1000.0
    x = quiet_then_burst(fs, 8)
    s = WindowTokenizer().segment(x, fs, chans(8))
    rest = s.kind == KIND_REST
    assert rest.sum() == 1 and s.onset_s[rest][0] == 0.0
    first_active = s.onset_s[~rest].min()
    assert abs(first_active - 1.8) < 0.06  # first window reaching into the burst at 2 s
    assert np.isclose(s.duration_s[rest][0], first_active)
    assert np.isnan(s.descriptor[rest]).all() and np.isfinite(s.descriptor[~rest]).all()
    no_gate = WindowTokenizer(gate_ratio=0.0).segment(x, fs, chans(8))
    assert (no_gate.kind == KIND_ACTIVE).all()


def test_z_score_throws_force_away() -> None:
    fs = 1000.0
    x = quiet_then_burst(fs, 8)
    tok = WindowTokenizer()
    s = tok.segment(x, fs, chans(8))
    s_big = tok.segment(x * 1000.0, fs, chans(8))
    assert np.allclose(s.descriptor, s_big.descriptor, rtol=1e-4, atol=1e-4, equal_nan=True)


def test_edge_cases_and_registry() -> None:
    tok = get_tokenizer("window")
    assert isinstance(tok, WindowTokenizer)
    assert len(tok.segment(np.zeros((100, 2)), 1000.0, chans(2))) == 0  # shorter than a window
    silent = tok.segment(np.zeros((2000, 2)), 1000.0, chans(2))
    assert (silent.kind == KIND_REST).all() and np.isclose(silent.duration_s.sum(), 2.0)
    acc = [ChannelInfo(name="a", type="ACC"), ChannelInfo(name="b", type="ACC")]
    assert len(tok.segment(np.ones((2000, 2)), 1000.0, acc)) == 0
    x = np.ones((2000, 2))
    x[10, 0] = np.nan
    with pytest.raises(ConfigError, match="finite"):
        tok.segment(x, 1000.0, chans(2))
    with pytest.raises(ConfigError, match="unknown window parameter"):
        WindowTokenizer(window=3)


def test_real_myo_recording() -> None:
    folder = shared_data("cote_allard_myo", "PreTrainingDataset", "Female0", "training0")
    x = np.fromfile(folder / "classe_5.dat", np.int16).reshape(-1, 8).astype(np.float64)
    s = WindowTokenizer().segment(x, 200.0, chans(8))
    n_win = n_windows(x.shape[0], 50, 10)
    n_rest_windows = round(float(s.duration_s[s.kind == KIND_REST].sum()) / 0.05)
    assert (s.kind == KIND_ACTIVE).sum() + n_rest_windows >= n_win - 5
    assert (s.kind == KIND_ACTIVE).sum() > n_win / 2
