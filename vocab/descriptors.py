"""Device-independent descriptors of NCT active segments (contraction sub-steps).

One float32 vector of ``DESCRIPTOR_DIM`` entries per active segment. Nothing depends on
the channel index, the channel count, the sample count or the signal's units/gain:

====  ====================  ========  =====================================================
 idx  name                  unit      meaning
====  ====================  ========  =====================================================
 0    log_duration          ln(s)     natural log of the segment duration
 1    log_intensity         ln(1)     ln(RMS of the band-passed segment / channel noise floor)
 2    log_contraction_peak  ln(1)     ln(peak envelope of the whole contraction / noise floor)
 3-6  shape_q1..shape_q4    1         envelope at the centres of the segment's 4 quarters,
                                      divided by the segment's mean envelope
 7    is_first              0/1       1 if the segment opens its contraction
 8    is_last               0/1       1 if the segment closes its contraction
                                      (a short contraction in one piece is first and last)
 9    mean_frequency        Hz        power-weighted mean frequency within the recorded band
 10   median_frequency      Hz        frequency splitting in-band power in halves
 11   spectral_edge_90      Hz        frequency below which 90 % of in-band power lies
 12   band_low              log10(1)  log10 power density in 20-60 Hz / in the recorded band
 13   band_mid              log10(1)  same for 60-150 Hz
 14   band_high             log10(1)  same for 150-450 Hz
 15   zero_crossing_rate    1/s       sign changes of the band-passed signal per second
====  ====================  ========  =====================================================

Spectra are Hann-windowed periodograms of the band-passed samples, one batched FFT per
group of segments, restricted to the channel's recorded band (see vocab.envelope). A
fixed band (12-14) that the device did not record (less than ``MIN_BAND_HZ`` of it lies
in the recorded band, e.g. 150-450 Hz on a 200 Hz Myo) gets the neutral value 0.0,
"same density as the recorded band on average", never a zero power from an absent band.
Descriptors are meant to be standardised (per-entry mean/std over a corpus) before
clustering.
"""

from __future__ import annotations

import numpy as np

from vocab.contractions import Contractions, SubSteps
from vocab.envelope import TimeGrid

DESCRIPTOR_NAMES: tuple[str, ...] = (
    "log_duration",
    "log_intensity",
    "log_contraction_peak",
    "shape_q1",
    "shape_q2",
    "shape_q3",
    "shape_q4",
    "is_first",
    "is_last",
    "mean_frequency",
    "median_frequency",
    "spectral_edge_90",
    "band_low",
    "band_mid",
    "band_high",
    "zero_crossing_rate",
)
DESCRIPTOR_UNITS: tuple[str, ...] = (
    "ln(s)", "ln(1)", "ln(1)", "1", "1", "1", "1", "0/1", "0/1",
    "Hz", "Hz", "Hz", "log10(1)", "log10(1)", "log10(1)", "1/s",
)  # fmt: skip
DESCRIPTOR_DIM = len(DESCRIPTOR_NAMES)

#: Fixed analysis bands [Hz] of entries 12-14.
FIXED_BANDS_HZ: tuple[tuple[float, float], ...] = ((20.0, 60.0), (60.0, 150.0), (150.0, 450.0))
#: A fixed band counts as recorded when at least this much of it [Hz] lies in the recorded band.
MIN_BAND_HZ = 10.0
N_SHAPE_POINTS = 4
#: Upper bound on batch_size x n_fft values in one FFT batch (memory bound).
FFT_BATCH_VALUES = 1 << 22


def describe(
    y: np.ndarray,
    grid: TimeGrid,
    power: np.ndarray,
    env: np.ndarray,
    floor: np.ndarray,
    bands: np.ndarray,
    steps: SubSteps,
    contractions: Contractions,
) -> np.ndarray:
    """Descriptors (n_steps, DESCRIPTOR_DIM) float32 of the sub-steps ``steps``.

    ``y`` band-passed samples (n_rows, n_samples); ``power``/``env`` per-cell sum of
    squares and RMS envelope (n_rows, n_cells); ``floor`` (n_rows,) noise floors; ``bands``
    (n_rows, 2) recorded band [Hz] per row.
    """
    n = len(steps)
    out = np.zeros((n, DESCRIPTOR_DIM), dtype=np.float64)
    if n == 0:
        return out.astype(np.float32)
    b = grid.bounds
    s0, s1 = b[steps.start], b[steps.end]
    dur_s = (s1 - s0) / grid.fs
    out[:, 0] = np.log(dur_s)

    cp = np.zeros((power.shape[0], power.shape[1] + 1))
    np.cumsum(power, axis=1, out=cp[:, 1:])
    sumsq = cp[steps.row, steps.end] - cp[steps.row, steps.start]
    rms = np.sqrt(np.maximum(sumsq, 0.0) / np.maximum(s1 - s0, 1))
    fl = floor[steps.row]
    out[:, 1] = np.log(np.maximum(rms, 1e-30) / fl)
    out[:, 2] = np.log(np.maximum(contractions.peak_env[steps.contraction], 1e-30) / fl)

    out[:, 3 : 3 + N_SHAPE_POINTS] = _shape(env, steps)
    out[:, 7] = steps.is_first
    out[:, 8] = steps.is_last
    out[:, 9:16] = _spectral(y, grid.fs, bands, steps.row, s0, s1)
    return out.astype(np.float32)


def _shape(env: np.ndarray, steps: SubSteps) -> np.ndarray:
    """Envelope at the quarter centres of each segment over the segment's mean envelope."""
    ce = np.zeros((env.shape[0], env.shape[1] + 1))
    np.cumsum(env, axis=1, out=ce[:, 1:])
    length = steps.end - steps.start
    mean_env = (ce[steps.row, steps.end] - ce[steps.row, steps.start]) / length
    frac = (np.arange(N_SHAPE_POINTS) + 0.5) / N_SHAPE_POINTS
    pos = steps.start[:, None] + frac[None, :] * length[:, None] - 0.5
    pos = np.clip(pos, steps.start[:, None], (steps.end - 1)[:, None])
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, (steps.end - 1)[:, None])
    w = pos - lo
    rows = steps.row[:, None]
    val = (1 - w) * env[rows, lo] + w * env[rows, hi]
    return val / np.maximum(mean_env, 1e-30)[:, None]


def _spectral(
    y: np.ndarray, fs: float, bands: np.ndarray, row: np.ndarray, s0: np.ndarray, s1: np.ndarray
) -> np.ndarray:
    """Entries 9-15 (mean/median/edge frequency, fixed-band densities, ZCR) per segment."""
    n = row.shape[0]
    out = np.zeros((n, 7))
    lengths = s1 - s0
    order = np.argsort(lengths, kind="stable")  # similar lengths share a batch: less padding
    i = 0
    while i < n:
        l_max = int(lengths[order[min(n - 1, i)]])
        n_fft = 1 << max(3, int(np.ceil(np.log2(max(l_max, 2)))))
        batch = max(1, FFT_BATCH_VALUES // n_fft)
        sel = order[i : i + batch]
        l_max = int(lengths[sel].max())
        n_fft = 1 << max(3, int(np.ceil(np.log2(max(l_max, 2)))))
        out[sel] = _spectral_batch(y, fs, bands, row[sel], s0[sel], lengths[sel], l_max, n_fft)
        i += batch
    return out


def _spectral_batch(
    y: np.ndarray,
    fs: float,
    bands: np.ndarray,
    row: np.ndarray,
    s0: np.ndarray,
    length: np.ndarray,
    l_max: int,
    n_fft: int,
) -> np.ndarray:
    j = np.arange(l_max)
    idx = np.minimum(s0[:, None] + j[None, :], y.shape[1] - 1)
    # Hann windows, one per distinct length (zero beyond the segment's end)
    u_len, inv = np.unique(length, return_inverse=True)
    lf = np.maximum(u_len, 1)[:, None].astype(np.float32)
    wins = np.where(
        j[None, :] < u_len[:, None], 0.5 - 0.5 * np.cos(2 * np.pi * (j[None, :] + 0.5) / lf), 0.0
    ).astype(np.float32)
    win = wins[inv.ravel()]
    seg = y[row[:, None], idx] * (win > 0)

    # zero-crossing rate [1/s] (padding is 0: a product with it is never < 0)
    zcr = np.count_nonzero(seg[:, 1:] * seg[:, :-1] < 0, axis=1) / (np.maximum(length, 1) / fs)

    spec = np.fft.rfft(seg * win, n=n_fft, axis=1)
    p = (spec.real**2 + spec.imag**2).astype(np.float64)
    df = fs / n_fft
    n_f = p.shape[1]
    f = np.arange(n_f) * df
    # cumulative power and power x frequency: band sums become two look-ups
    cp = np.zeros((p.shape[0], n_f + 1))
    np.cumsum(p, axis=1, out=cp[:, 1:])
    cpf = np.zeros_like(cp)
    np.cumsum(p * f[None, :], axis=1, out=cpf[:, 1:])
    rows = np.arange(p.shape[0])

    def bin_range(lo_hz: np.ndarray, hi_hz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First and one-past-last bin of [lo_hz, hi_hz] per segment."""
        k0 = np.clip(np.ceil(lo_hz / df - 1e-9).astype(np.int64), 0, n_f)
        k1 = np.clip(np.floor(hi_hz / df + 1e-9).astype(np.int64) + 1, 0, n_f)
        return k0, np.maximum(k1, k0)

    lo, hi = bands[row, 0], bands[row, 1]
    k0, k1 = bin_range(lo, hi)
    total = cp[rows, k1] - cp[rows, k0]
    ok = total > 0
    tot = np.where(ok, total, 1.0)
    mean_f = (cpf[rows, k1] - cpf[rows, k0]) / tot
    # normalised cumulative in-band power; bins below the band count as 0, above as 1
    cum = (cp[:, 1:] - cp[rows, k0][:, None]) / tot[:, None]
    med_f = _crossing_freq(cum, f, 0.5)
    edge_f = _crossing_freq(cum, f, 0.9)

    density = total / np.maximum(k1 - k0, 1)
    band_cols = []
    for b_lo, b_hi in FIXED_BANDS_HZ:
        blo, bhi = np.maximum(lo, b_lo), np.minimum(hi, b_hi)
        c0, c1 = bin_range(blo, bhi)
        d = (cp[rows, c1] - cp[rows, c0]) / np.maximum(c1 - c0, 1)
        ratio = np.log10(np.maximum(d, 1e-30) / np.maximum(density, 1e-30))
        band_cols.append(np.where((bhi - blo >= MIN_BAND_HZ) & ok & (c1 > c0), ratio, 0.0))

    res = np.stack([mean_f, med_f, edge_f, *band_cols, zcr], axis=1)
    res[~ok, :6] = 0.0
    return res


def _crossing_freq(cum: np.ndarray, f: np.ndarray, q: float) -> np.ndarray:
    """Frequency [Hz] where the normalised cumulative spectrum ``cum`` first reaches ``q``
    (linear interpolation between bins)."""
    k = np.argmax(cum >= q, axis=1)
    km = np.maximum(k - 1, 0)
    rows = np.arange(cum.shape[0])
    c_hi, c_lo = cum[rows, k], cum[rows, km]
    step = np.where(c_hi > c_lo, c_hi - c_lo, 1.0)
    frac = np.clip((q - c_lo) / step, 0.0, 1.0)
    return np.where(k > 0, f[km] + frac * (f[k] - f[km]), f[k])
