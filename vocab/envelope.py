"""Band-pass filtering, the RMS envelope on a fixed physical time grid, and the noise floor.

Everything downstream of the filter works on a :class:`TimeGrid`: cells of a fixed
physical length (``step_ms``, e.g. 10 ms), whatever the sampling rate. Cell ``k`` holds
samples ``bounds[k]:bounds[k + 1]`` with ``bounds[k] = round(k * step_s * fs)``, so a
1000 Hz and a 2000 Hz copy of one signal have the same cells in seconds. This is what
makes the tokenizer rate-independent, and it keeps the per-sample work to one filter
pass and one sum of squares.

Units: ``fs`` and every cutoff in Hz, times in s (``*_s``) or ms (``*_ms``); envelopes are
in the signal's physical units (RMS), noise floors too.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import signal

from emgcorpus.errors import ConfigError
from emgcorpus.recording import ChannelInfo

#: The band edge is kept this far below Nyquist (or the device's high cutoff).
NYQUIST_MARGIN = 0.95
#: A band narrower than this [Hz] cannot be filtered meaningfully.
MIN_BANDWIDTH_HZ = 5.0


def recorded_band(
    channel: ChannelInfo, fs: float, band_low_hz: float, band_high_hz: float
) -> tuple[float, float] | None:
    """The analysis band [Hz] of one channel: the requested band clipped to what was recorded.

    Low edge = max(band_low_hz, channel.low_cutoff); high edge =
    min(band_high_hz, 0.95 * channel.high_cutoff, 0.95 * fs / 2). ``None`` when the band is
    narrower than MIN_BANDWIDTH_HZ (nothing left to analyse).
    """
    low = float(band_low_hz)
    if channel.low_cutoff is not None and np.isfinite(channel.low_cutoff):
        low = max(low, float(channel.low_cutoff))
    high = min(float(band_high_hz), NYQUIST_MARGIN * fs / 2.0)
    if (
        channel.high_cutoff is not None
        and np.isfinite(channel.high_cutoff)
        and channel.high_cutoff > 0
    ):
        high = min(high, NYQUIST_MARGIN * float(channel.high_cutoff))
    if high - low < MIN_BANDWIDTH_HZ:
        return None
    return low, high


def bandpass_sos(fs: float, low_hz: float, high_hz: float, order: int) -> np.ndarray:
    """Butterworth band-pass (second-order sections) for ``low_hz``..``high_hz`` at ``fs``."""
    return np.asarray(
        signal.butter(order, [low_hz, high_hz], btype="bandpass", fs=fs, output="sos")
    )


def filter_channels(
    x: np.ndarray,
    fs: float,
    bands: list[tuple[float, float]],
    order: int = 4,
    notch_hz: float | None = None,
) -> np.ndarray:
    """Band-pass every row of ``x`` (channel-major, shape (n_ch, n_samples)) in its own band.

    Rows sharing a band are filtered together by one causal ``sosfilt`` call; the filter
    starts in its steady state for the first sample, so a DC offset (raw ADC counts) does
    not produce a start-up transient. ``notch_hz`` (e.g. 50 or 60) adds a notch at that
    frequency when it lies inside the band. Returns float32, same shape.
    """
    if len(bands) != x.shape[0]:
        raise ConfigError(f"filter_channels: {len(bands)} bands for {x.shape[0]} channels")
    y = np.empty(x.shape, dtype=np.float32)
    groups: dict[tuple[float, float], list[int]] = {}
    for i, band in enumerate(bands):
        groups.setdefault((float(band[0]), float(band[1])), []).append(i)
    for (low, high), rows in groups.items():
        notch = notch_hz if notch_hz is not None and low < notch_hz < high else None
        sos, zi0 = band_filter(float(fs), low, high, int(order), notch)
        idx = np.asarray(rows)
        xs = x[idx] if len(rows) < x.shape[0] else x
        zi = zi0[:, None, :] * xs[:, 0][None, :, None]
        ys, _ = signal.sosfilt(sos.copy(), xs, axis=-1, zi=zi)  # sosfilt wants it writable
        y[idx] = ys
    return y


@functools.lru_cache(maxsize=256)
def band_filter(
    fs: float, low: float, high: float, order: int, notch_hz: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """The float32 second-order sections of filter_channels' band-pass (with the notch at
    ``notch_hz`` [Hz] when given) and their steady-state initial conditions per unit
    input (sosfilt_zi). Designed once per process for each rate and band (the design
    costs about as much as filtering a few seconds of signal); read-only arrays."""
    sos = bandpass_sos(fs, low, high, order)
    if notch_hz is not None:
        b, a = signal.iirnotch(notch_hz, 30.0, fs=fs)
        sos = np.vstack([sos, signal.tf2sos(b, a)])
    zi = signal.sosfilt_zi(sos).astype(np.float32)
    sos32 = sos.astype(np.float32)
    for arr in (sos32, zi):
        arr.setflags(write=False)
    return sos32, zi


@dataclass(frozen=True)
class TimeGrid:
    """Cells of fixed physical length over one recording.

    ``bounds`` (int64, length n_cells + 1) are the sample indices of the cell edges;
    ``bounds[-1] == n_samples``. ``step_s`` is the nominal cell length [s].
    """

    fs: float
    step_s: float
    bounds: np.ndarray

    @property
    def n_cells(self) -> int:
        return int(self.bounds.shape[0] - 1)

    @property
    def n_samples(self) -> int:
        return int(self.bounds[-1])

    @property
    def counts(self) -> np.ndarray:
        """Samples per cell (int64)."""
        return np.diff(self.bounds)

    def time_s(self, cell: np.ndarray) -> np.ndarray:
        """Time [s] of cell edges (``cell`` may equal n_cells: the recording's end)."""
        return self.bounds[np.asarray(cell)] / self.fs

    def cells(self, duration_ms: float) -> int:
        """Number of cells (>= 1) closest to ``duration_ms``."""
        return max(1, int(round(duration_ms / 1000.0 / self.step_s)))


def make_grid(n_samples: int, fs: float, step_ms: float) -> TimeGrid:
    """The time grid of a recording of ``n_samples`` at ``fs`` [Hz] with cells of ``step_ms``."""
    step_s = float(step_ms) / 1000.0
    per_cell = step_s * fs
    if per_cell < 1.0:
        raise ConfigError(
            f"grid_ms={step_ms} is shorter than one sample at fs={fs} Hz: "
            f"use grid_ms >= {1000 / fs:g}"
        )
    n_cells = max(1, int(np.ceil(n_samples / per_cell - 1e-9)))
    bounds = np.round(np.arange(n_cells + 1) * per_cell).astype(np.int64)
    bounds[-1] = n_samples
    bounds = np.minimum(bounds, n_samples)
    return TimeGrid(fs=float(fs), step_s=step_s, bounds=bounds)


def cell_power(y: np.ndarray, grid: TimeGrid) -> np.ndarray:
    """Sum of squares of each row of ``y`` (n_ch, n_samples) per grid cell (n_ch, n_cells)."""
    n = y.shape[1]
    if n == 0:
        return np.zeros((y.shape[0], grid.n_cells))
    starts = np.minimum(grid.bounds[:-1], n - 1)
    sums = np.add.reduceat(np.square(y, dtype=np.float32), starts, axis=1).astype(np.float64)
    sums[:, grid.counts == 0] = 0.0
    return sums


def rms_envelope(power: np.ndarray, grid: TimeGrid, window_ms: float) -> np.ndarray:
    """Centred moving RMS over ``window_ms`` on the grid: (n_ch, n_cells), same units as y.

    The window covers the ``grid.cells(window_ms)`` cells around each cell (fewer at the
    recording's edges, normalised by the samples actually covered).
    """
    w = grid.cells(window_ms)
    h = w // 2
    n_cells = grid.n_cells
    cs = np.zeros((power.shape[0], n_cells + 1))
    np.cumsum(power, axis=1, out=cs[:, 1:])
    cc = np.concatenate([[0], np.cumsum(grid.counts)])
    lo = np.clip(np.arange(n_cells) - h, 0, n_cells)
    hi = np.clip(np.arange(n_cells) - h + w, 0, n_cells)
    num = cs[:, hi] - cs[:, lo]
    den = np.maximum(cc[hi] - cc[lo], 1)
    return np.sqrt(np.maximum(num, 0.0) / den)


def block_levels(env: np.ndarray, grid: TimeGrid, block_ms: float) -> np.ndarray:
    """Medians of the envelope over consecutive blocks of ``block_ms``: (n_ch, n_blocks).

    Each block's median is a robust level of that block; a low percentile of these levels
    (over one recording, or pooled over a session) is the noise floor.
    """
    n_ch, n_cells = env.shape
    b = min(grid.cells(block_ms), n_cells)
    n_blocks = n_cells // b if b > 0 else 0
    if n_blocks == 0:
        return np.zeros((n_ch, 0))
    return np.asarray(np.median(env[:, : n_blocks * b].reshape(n_ch, n_blocks, b), axis=2))


def noise_floor(env: np.ndarray, grid: TimeGrid, block_ms: float, percentile: float) -> np.ndarray:
    """Per-channel noise floor (envelope units): a low percentile of short-block medians.

    The envelope is cut into blocks of ``block_ms``; each block's median is a robust level
    of that block and the ``percentile``-th percentile of those levels is the floor. It does
    not need rest at the start of the recording, only somewhere (``percentile`` % of the
    blocks). A channel that is digitally silent gets a floor of the smallest positive
    float32, so it never activates.
    """
    return floor_from_levels(block_levels(env, grid, block_ms), env, percentile)


def floor_from_levels(levels: np.ndarray, env: np.ndarray, percentile: float) -> np.ndarray:
    """Per-channel noise floor (envelope units) from block levels (n_channels, n_blocks):
    their ``percentile``-th percentile, at least 1e-6 of the envelope's peak and the
    smallest positive float32 (also the floor of a channel without blocks)."""
    if levels.shape[1] == 0:
        return np.full(env.shape[0], np.finfo(np.float32).tiny)
    floor = np.percentile(levels, percentile, axis=1)
    peak = env.max(axis=1)
    return np.maximum(floor, np.maximum(1e-6 * peak, np.finfo(np.float32).tiny))
