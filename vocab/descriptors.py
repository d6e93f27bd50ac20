"""Device-independent descriptors of NCT active segments (contraction sub-steps).

One float32 vector of ``DESCRIPTOR_DIM`` entries per active segment. Nothing depends on
the channel index, the channel count, the sample count or the signal's units/gain:

====  =====================  ========  ====================================================
 idx  name                   unit      meaning
====  =====================  ========  ====================================================
 0    log_duration           ln(s)     natural log of the segment duration
 1    log_intensity          ln(1)     ln(RMS of the band-passed segment / noise floor)
 2    log_contraction_peak   ln(1)     ln(peak envelope of the whole contraction / floor)
 3-6  shape_q1..shape_q4     1         envelope at the centres of the segment's 4
                                       quarters, divided by the segment's mean envelope
 7    is_first               0/1       1 if the segment opens its contraction
 8    is_last                0/1       1 if the segment closes its contraction
                                       (a short contraction in one piece is first and last)
 9    mean_frequency         Hz        power-weighted mean frequency in the common band
 10   median_frequency       Hz        frequency splitting common-band power in halves
 11   spectral_edge_90       Hz        frequency below which 90 % of common-band power lies
 12   spectral_spread        Hz        power-weighted std of frequency in the common band
 13   low_high_ratio         log10(1)  log10 power density in 20-50 Hz / in 50-95 Hz
 14   band_mid               log10(1)  log10 power density in 95-150 Hz / common band
                                       (optional: NaN when not recorded)
 15   band_high              log10(1)  same for 150-450 Hz (optional: NaN when not recorded)
====  =====================  ========  ====================================================

**Why a common band.** Spectral descriptors over "the band the device recorded" are not
comparable across devices: a Myo (200 Hz, recorded band 20-95 Hz) and a 2 kHz amplifier
(20-450 Hz) give mean frequencies of ~60 Hz and ~110 Hz for the *same* muscle activity,
so no code was shared between them. Entries 9-13 are therefore measured only within
``COMMON_BAND_HZ`` (20-95 Hz), the band every surface-EMG device records (the Myo's
band), whatever the device's rate. What lies above it is described by separate entries
(14-15) that are NaN when the device did not record at least ``MIN_BAND_COVERAGE`` of
that band: the codebook treats NaN as *absent* and standardises it to the corpus mean
(vocab.codebook.standardize), so it pulls a segment towards no code in particular.

Spectra are Hann-windowed periodograms of the band-passed samples, one batched FFT per
group of segments; the spectral resolution is set by the segment duration (a fixed
physical length), not by the sampling rate. Descriptors are meant to be standardised
(per-entry mean/std over a corpus) before clustering.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft

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
    "spectral_spread",
    "low_high_ratio",
    "band_mid",
    "band_high",
)
DESCRIPTOR_UNITS: tuple[str, ...] = (
    "ln(s)", "ln(1)", "ln(1)", "1", "1", "1", "1", "0/1", "0/1",
    "Hz", "Hz", "Hz", "Hz", "log10(1)", "log10(1)", "log10(1)",
)  # fmt: skip
DESCRIPTOR_DIM = len(DESCRIPTOR_NAMES)

#: The band [Hz] every surface-EMG device records (a 200 Hz Myo's band): entries 9-13.
COMMON_BAND_HZ: tuple[float, float] = (20.0, 95.0)
#: Edge [Hz] between the two halves of the common band compared by entry 13.
COMMON_SPLIT_HZ = 50.0
#: Bands [Hz] above the common band, entries 14-15 (NaN when not recorded).
OPTIONAL_BANDS_HZ: tuple[tuple[float, float], ...] = ((95.0, 150.0), (150.0, 450.0))
#: Indices of the optional entries (NaN = absent; see vocab.codebook.standardize).
OPTIONAL_DIMS: tuple[int, ...] = (14, 15)
#: An optional band counts as recorded when this share of its width lies in the
#: recorded band.
MIN_BAND_COVERAGE = 0.5
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
    """Entries 9-15 (common-band frequencies and ratio, optional band densities)."""
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
    # Hann windows, one per distinct length (zero beyond the segment's end)
    u_len, inv = np.unique(length, return_inverse=True)
    lf = np.maximum(u_len, 1)[:, None].astype(np.float32)
    wins = np.where(
        j[None, :] < u_len[:, None], 0.5 - 0.5 * np.cos(2 * np.pi * (j[None, :] + 0.5) / lf), 0.0
    ).astype(np.float32)
    seg = _gather(y, row, s0, l_max)
    seg *= wins[inv.ravel()]
    df = fs / n_fft
    # only bins up to the highest recorded band edge are ever looked at
    n_f = min(n_fft // 2 + 1, int(np.floor(float(bands[row, 1].max()) / df + 1e-9)) + 2)
    spec = sfft.rfft(seg, n=n_fft, axis=1, workers=1)[:, :n_f]  # float32 in: single precision
    p32 = np.square(spec.real)
    p32 += np.square(spec.imag)
    p = p32.astype(np.float64)
    del seg, spec, p32
    f = np.arange(n_f) * df
    rows = np.arange(p.shape[0])

    def bin_range(lo_hz: np.ndarray, hi_hz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First and one-past-last bin of [lo_hz, hi_hz] per segment."""
        k0 = np.clip(np.ceil(lo_hz / df - 1e-9).astype(np.int64), 0, n_f)
        k1 = np.clip(np.floor(hi_hz / df + 1e-9).astype(np.int64) + 1, 0, n_f)
        return k0, np.maximum(k1, k0)

    def band_sum(c: np.ndarray, k0: np.ndarray, k1: np.ndarray) -> np.ndarray:
        return np.asarray(c[rows, k1] - c[rows, k0])

    def density(lo_hz: np.ndarray, hi_hz: np.ndarray) -> np.ndarray:
        """Mean power per bin in [lo_hz, hi_hz] (0 where the range holds no bin)."""
        k0, k1 = bin_range(lo_hz, hi_hz)
        return band_sum(cp, k0, k1) / np.maximum(k1 - k0, 1)

    lo, hi = bands[row, 0], bands[row, 1]
    # the common band, clipped to what this channel recorded
    c_lo = np.maximum(lo, COMMON_BAND_HZ[0])
    c_hi = np.minimum(hi, COMMON_BAND_HZ[1])
    k0, k1 = bin_range(c_lo, c_hi)
    # cumulative power over every bin (the optional bands), power x f and power x f^2 over
    # the bins up to the common band's last (its moments): band sums become two look-ups
    # (a cumulative sum's first columns do not depend on the columns after them)
    n_c = min(n_f, int(k1.max()) + 1)
    cp = np.zeros((p.shape[0], n_f + 1))
    np.cumsum(p, axis=1, out=cp[:, 1:])
    pc = p[:, :n_c]
    cpf = np.zeros((p.shape[0], n_c + 1))
    np.cumsum(pc * f[None, :n_c], axis=1, out=cpf[:, 1:])
    cpf2 = np.zeros_like(cpf)
    np.cumsum(pc * (f * f)[None, :n_c], axis=1, out=cpf2[:, 1:])
    total = band_sum(cp, k0, k1)
    ok = total > 0
    tot = np.where(ok, total, 1.0)
    mean_f = band_sum(cpf, k0, k1) / tot
    spread = np.sqrt(np.maximum(band_sum(cpf2, k0, k1) / tot - mean_f**2, 0.0))
    # normalised cumulative common-band power; bins below it count as 0, from its end on
    # as 1 (so a crossing lies at or before bin k1: the bins after n_c are never needed)
    cum = np.clip((cp[:, 1 : n_c + 1] - cp[rows, k0][:, None]) / tot[:, None], 0.0, 1.0)
    cum[np.arange(n_c)[None, :] >= k1[:, None]] = 1.0
    med_f = _crossing_freq(cum, f, 0.5)
    edge_f = _crossing_freq(cum, f, 0.9)
    split = np.clip(np.full_like(c_lo, COMMON_SPLIT_HZ), c_lo, c_hi)
    d_low, d_high = density(c_lo, split), density(split, c_hi)
    ratio = np.log10(np.maximum(d_low, 1e-30) / np.maximum(d_high, 1e-30))
    ratio = np.where((d_low > 0) & (d_high > 0), ratio, 0.0)
    common_density = total / np.maximum(k1 - k0, 1)

    band_cols = []
    for b_lo, b_hi in OPTIONAL_BANDS_HZ:
        blo, bhi = np.maximum(lo, b_lo), np.minimum(hi, b_hi)
        recorded = (bhi - blo) >= MIN_BAND_COVERAGE * (b_hi - b_lo)
        d = density(blo, bhi)
        val = np.log10(np.maximum(d, 1e-30) / np.maximum(common_density, 1e-30))
        band_cols.append(np.where(recorded, np.where(ok, val, 0.0), np.nan))

    res = np.stack([mean_f, med_f, edge_f, spread, ratio, *band_cols], axis=1)
    res[~ok, :5] = 0.0
    return res


def _gather(y: np.ndarray, row: np.ndarray, s0: np.ndarray, l_max: int) -> np.ndarray:
    """``y[row[i], s0[i] : s0[i] + l_max]`` for every i, (n, l_max); samples past the end of
    the recording repeat its last sample (they are windowed to 0 anyway)."""
    n = y.shape[1]
    out = np.empty((row.shape[0], l_max), dtype=y.dtype)
    inside = s0 + l_max <= n
    if inside.any():
        windows = np.lib.stride_tricks.sliding_window_view(y, l_max, axis=1)
        out[inside] = windows[row[inside], s0[inside]]
    if not inside.all():
        idx = np.minimum(s0[~inside, None] + np.arange(l_max)[None, :], n - 1)
        out[~inside] = y[row[~inside, None], idx]
    return out


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
