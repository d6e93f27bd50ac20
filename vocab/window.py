"""The window tokenizer: the reference paper's released method, kept as a baseline.

What it does, on purpose like the paper (so NCT can be compared with it on the same splits):

1. keep the ``EMG``/``good`` channels, resample them to ``target_fs_hz`` (200 Hz) with
   ``scipy.signal.resample_poly``;
2. map them onto ``n_channels`` (16) by index: the first 16 are kept, fewer are padded with
   zero channels (no topology is used);
3. cut windows of ``window_ms`` (250 ms) every ``stride_ms`` (50 ms): ``n_windows =
   1 + (n - w) // s`` for ``n >= w`` resampled samples, else 0;
4. energy gate: a window whose mean square (after per-window channel demeaning) is below
   ``gate_ratio`` x the mean over the recording's windows is rest. Consecutive rest windows
   become one KIND_REST segment from the first one's onset to the next active window's
   onset (``run_length x stride``; the final run extends to the recording's end);
5. every other window is z-scored as a whole (channel means removed, divided by the
   window's overall standard deviation: this throws force away, as the paper does) and
   described by 4 features per mapped channel, in channel order (index ``4c + k``):

   ====  ==========================  ======  =========================================
    k    feature                     unit    of the z-scored window
   ====  ==========================  ======  =========================================
    0    rms                         1       root mean square
    1    waveform_length             1/s     sum of |first difference| per second
    2    zero_crossing_rate          1/s     sign changes per second
    3    slope_sign_change_rate      1/s     sign changes of the first difference per s
   ====  ==========================  ======  =========================================

   Padded (absent) channels give zeros. Active segments have ``channel = -1`` (all
   channels), onset at the window start and duration ``window_ms``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, ClassVar

import numpy as np
from scipy import signal

from emgcorpus.errors import ConfigError, check_positive
from emgcorpus.recording import ChannelInfo
from vocab.nct import check_input, emg_channels, sort_segments
from vocab.tokenizer_base import KIND_ACTIVE, KIND_REST, Segments, Tokenizer

N_FEATURES = 4


def resample_to(x: np.ndarray, fs: float, target_fs: float) -> np.ndarray:
    """Resample ``x`` (n_samples, n_ch) from ``fs`` to ``target_fs`` [Hz], polyphase."""
    if abs(fs - target_fs) < 1e-9:
        return x
    ratio = Fraction(target_fs / fs).limit_denominator(10000)
    return np.asarray(signal.resample_poly(x, ratio.numerator, ratio.denominator, axis=0))


def map_channels(x: np.ndarray, n_channels: int) -> np.ndarray:
    """Map (n_samples, k) onto exactly ``n_channels`` columns by index: truncate or zero-pad."""
    out = np.zeros((x.shape[0], n_channels), dtype=np.float64)
    k = min(n_channels, x.shape[1])
    out[:, :k] = x[:, :k]
    return out


def n_windows(n_samples: int, window: int, stride: int) -> int:
    """Windows of ``window`` samples every ``stride`` samples in ``n_samples``."""
    return 0 if n_samples < window else 1 + (n_samples - window) // stride


class WindowTokenizer(Tokenizer):
    """Fixed windows at 200 Hz over 16 index-mapped channels (see module docstring)."""

    name: ClassVar[str] = "window"
    version: ClassVar[str] = "1"

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        for key in ("target_fs_hz", "window_ms", "stride_ms"):
            check_positive(key, self.params[key])
        if int(self.params["n_channels"]) < 1:
            raise ConfigError(f"n_channels must be >= 1, got {self.params['n_channels']}")
        if float(self.params["gate_ratio"]) < 0:
            raise ConfigError(f"gate_ratio must be >= 0, got {self.params['gate_ratio']}")

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {
            "target_fs_hz": 200.0,
            "n_channels": 16,
            "window_ms": 250.0,
            "stride_ms": 50.0,
            "gate_ratio": 0.1,
        }

    @property
    def descriptor_dim(self) -> int:
        return int(self.params["n_channels"]) * N_FEATURES

    def window_samples(self) -> tuple[int, int]:
        """(window, stride) in samples at ``target_fs_hz``."""
        fs = float(self.params["target_fs_hz"])
        w = max(1, int(round(self.params["window_ms"] / 1000.0 * fs)))
        s = max(1, int(round(self.params["stride_ms"] / 1000.0 * fs)))
        return w, s

    def segment(
        self,
        x: np.ndarray,
        fs: float,
        channels: list[ChannelInfo],
        noise_floor: np.ndarray | None = None,
    ) -> Segments:
        """Windows, gated into active windows (with descriptors) and merged rest runs.

        ``noise_floor`` is ignored: the energy gate is relative to each window's recording.
        """
        arr = check_input(x, fs, channels, "window tokenizer")
        dim = self.descriptor_dim
        used = emg_channels(channels)
        if not used or arr.shape[0] == 0:
            return Segments.empty(dim)
        tfs = float(self.params["target_fs_hz"])
        xr = map_channels(
            resample_to(arr[:, used].astype(np.float64), float(fs), tfs), self.params["n_channels"]
        )
        w, s = self.window_samples()
        n_win = n_windows(xr.shape[0], w, s)
        if n_win == 0:
            return Segments.empty(dim)
        idx = np.arange(n_win)[:, None] * s + np.arange(w)[None, :]
        win = xr[idx]  # (n_win, w, n_channels)
        win = win - win.mean(axis=1, keepdims=True)
        energy = np.mean(win**2, axis=(1, 2))
        ref = float(energy.mean())
        active = energy >= self.params["gate_ratio"] * ref if ref > 0 else np.zeros(n_win, bool)

        z = win[active] / np.maximum(win[active].std(axis=(1, 2), keepdims=True), 1e-30)
        desc = _window_features(z, tfs)

        onset_w = np.arange(n_win) * s / tfs
        duration_s = xr.shape[0] / tfs
        # rest runs: consecutive inactive windows
        padded = np.concatenate([[False], ~active, [False]]).astype(np.int8)
        d = np.diff(padded)
        r_start = np.nonzero(d == 1)[0]
        r_end = np.nonzero(d == -1)[0]  # exclusive window index
        r_onset = onset_w[r_start]
        r_off = np.where(r_end < n_win, r_end * s / tfs, duration_s)
        n_act = int(active.sum())
        channel = np.full(n_act + len(r_start), -1, np.int32)
        onset = np.concatenate([onset_w[active], r_onset])
        dur = np.concatenate([np.full(n_act, w / tfs), r_off - r_onset])
        kind = np.concatenate([np.full(n_act, KIND_ACTIVE), np.full(len(r_start), KIND_REST)])
        all_desc = np.concatenate([desc, np.full((len(r_start), dim), np.nan)])
        return sort_segments(channel, onset, dur, kind, all_desc)


def _window_features(z: np.ndarray, fs: float) -> np.ndarray:
    """RMS, waveform length, ZC and SSC rates of z-scored windows (n, w, ch) -> (n, 4 * ch)."""
    n, w, ch = z.shape
    if n == 0:
        return np.zeros((0, ch * N_FEATURES), np.float32)
    t = w / fs
    rms = np.sqrt(np.mean(z**2, axis=1))
    dz = np.diff(z, axis=1)
    wl = np.abs(dz).sum(axis=1) / t
    zc = ((z[:, 1:] * z[:, :-1]) < 0).sum(axis=1) / t
    ssc = ((dz[:, 1:] * dz[:, :-1]) < 0).sum(axis=1) / t
    feats = np.stack([rms, wl, zc, ssc], axis=2)  # (n, ch, 4)
    return feats.reshape(n, ch * N_FEATURES).astype(np.float32)
