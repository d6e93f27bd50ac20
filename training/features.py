"""Hand-crafted EMG window features for the classical baselines.

Every function takes windows ``x`` of shape (n_windows, n_samples, n_channels) in physical
units (mV or whatever the channel's units are) and returns (n_windows, n_features), float64.
Feature columns are channel-major within each feature family (all channels of feature 1,
then all channels of feature 2, ...).

- TD set (Hudgins): MAV, RMS, WL, ZC, SSC per channel. WL is the summed absolute first
  difference (units of x), ZC and SSC are counts per window.
- Strong set: TD + log RMS, Hjorth mobility/complexity, spectral (mean and median
  frequency [Hz], relative power in fixed bands [Hz] below Nyquist), AR(4) coefficients,
  and spatial (normalised RMS pattern across channels, channel correlation for <= 16
  channels).
"""

from __future__ import annotations

import numpy as np

from emgcorpus.errors import ConfigError

#: Bands [Hz] for relative band power (kept where the lower edge is below Nyquist).
BANDS_HZ = (
    (5.0, 30.0),
    (30.0, 60.0),
    (60.0, 100.0),
    (100.0, 150.0),
    (150.0, 250.0),
    (250.0, 500.0),
)
AR_ORDER = 4
MAX_CORR_CHANNELS = 16


def _check(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ConfigError(
            f"windows must have shape (n_windows, n_samples, n_channels), got {x.shape}"
        )
    if x.shape[1] < 3:
        raise ConfigError(f"windows need >= 3 samples for TD features, got {x.shape[1]}")
    return x


def mav(x: np.ndarray) -> np.ndarray:
    """Mean absolute value per channel."""
    return np.abs(_check(x)).mean(axis=1)


def rms(x: np.ndarray) -> np.ndarray:
    """Root mean square per channel."""
    return np.sqrt((_check(x) ** 2).mean(axis=1))


def waveform_length(x: np.ndarray) -> np.ndarray:
    """Sum of |x[i+1] - x[i]| per channel."""
    return np.abs(np.diff(_check(x), axis=1)).sum(axis=1)


def zero_crossings(x: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Count of sign changes whose step |x[i+1] - x[i]| is >= ``threshold``."""
    x = _check(x)
    a, b = x[:, :-1], x[:, 1:]
    return ((a * b < 0) & (np.abs(a - b) >= threshold)).sum(axis=1).astype(np.float64)


def slope_sign_changes(x: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Count of i with (x[i] - x[i-1]) * (x[i] - x[i+1]) > ``threshold``."""
    x = _check(x)
    mid = x[:, 1:-1]
    return ((mid - x[:, :-2]) * (mid - x[:, 2:]) > threshold).sum(axis=1).astype(np.float64)


def td_features(x: np.ndarray, zc_threshold: float = 0.0, ssc_threshold: float = 0.0) -> np.ndarray:
    """Hudgins' TD set: [MAV | RMS | WL | ZC | SSC], shape (n_windows, 5 * n_channels)."""
    return np.concatenate(
        [
            mav(x),
            rms(x),
            waveform_length(x),
            zero_crossings(x, zc_threshold),
            slope_sign_changes(x, ssc_threshold),
        ],
        axis=1,
    )


def spectral_features(x: np.ndarray, fs: float) -> np.ndarray:
    """Mean frequency [Hz], median frequency [Hz], relative band powers per channel."""
    x = _check(x)
    x = x - x.mean(axis=1, keepdims=True)
    n = x.shape[1]
    win = np.hanning(n)[None, :, None]
    power = np.abs(np.fft.rfft(x * win, axis=1)) ** 2
    freqs = np.fft.rfftfreq(n, d=1.0 / fs)
    total = power.sum(axis=1) + 1e-20
    mean_f = (power * freqs[None, :, None]).sum(axis=1) / total
    cum = np.cumsum(power, axis=1) / total[:, None, :]
    median_f = freqs[np.argmax(cum >= 0.5, axis=1)]
    nyq = fs / 2
    bands = []
    for lo, hi in BANDS_HZ:
        if lo >= nyq:
            continue
        sel = (freqs >= lo) & (freqs < min(hi, nyq + 1e-9))
        bands.append(power[:, sel].sum(axis=1) / total)
    return np.concatenate([mean_f, median_f, *bands], axis=1)


def ar_coefficients(x: np.ndarray, order: int = AR_ORDER) -> np.ndarray:
    """AR(``order``) coefficients per channel by least squares on the demeaned window."""
    x = _check(x)
    x = x - x.mean(axis=1, keepdims=True)
    n_w, n, n_c = x.shape
    if n <= order + 1:
        raise ConfigError(f"AR({order}) needs more than {order + 1} samples per window, got {n}")
    out = np.zeros((n_w, order, n_c))
    # lagged design (n_w, n_c, n - order, order) solved per (window, channel) with normal eqs
    xs = np.moveaxis(x, 2, 1)
    lags = np.stack([xs[:, :, order - k - 1 : n - k - 1] for k in range(order)], axis=-1)
    target = xs[:, :, order:]
    gram = np.einsum("wctk,wctl->wckl", lags, lags) + 1e-9 * np.eye(order)
    rhs = np.einsum("wctk,wct->wck", lags, target)
    coef = np.linalg.solve(gram, rhs[..., None])[..., 0]
    out[:] = np.moveaxis(coef, 2, 1)
    return out.reshape(n_w, order * n_c)


def hjorth(x: np.ndarray) -> np.ndarray:
    """Hjorth mobility and complexity per channel (dimensionless, per sample)."""
    x = _check(x)
    d1 = np.diff(x, axis=1)
    d2 = np.diff(d1, axis=1)
    v0, v1, v2 = x.var(axis=1) + 1e-20, d1.var(axis=1) + 1e-20, d2.var(axis=1) + 1e-20
    mobility = np.sqrt(v1 / v0)
    complexity = np.sqrt(v2 / v1) / mobility
    return np.concatenate([mobility, complexity], axis=1)


def spatial_features(x: np.ndarray) -> np.ndarray:
    """Normalised RMS pattern (RMS / sum of RMS) and, for <= 16 channels, correlations."""
    x = _check(x)
    r = rms(x)
    parts = [r / (r.sum(axis=1, keepdims=True) + 1e-20)]
    n_c = x.shape[2]
    if 1 < n_c <= MAX_CORR_CHANNELS:
        xc = x - x.mean(axis=1, keepdims=True)
        cov = np.einsum("wtc,wtd->wcd", xc, xc)
        sd = np.sqrt(np.einsum("wcc->wc", cov)) + 1e-20
        corr = cov / (sd[:, :, None] * sd[:, None, :])
        iu = np.triu_indices(n_c, k=1)
        parts.append(corr[:, iu[0], iu[1]])
    return np.concatenate(parts, axis=1)


def strong_features(x: np.ndarray, fs: float) -> np.ndarray:
    """The strong set: TD, log RMS, Hjorth, spectral, AR(4), spatial."""
    x = _check(x)
    return np.concatenate(
        [
            td_features(x),
            np.log(rms(x) + 1e-12),
            hjorth(x),
            spectral_features(x, fs),
            ar_coefficients(x),
            spatial_features(x),
        ],
        axis=1,
    )
