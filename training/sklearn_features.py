"""The baselines' EMG window features as a scikit-learn transformer.

:class:`EMGFeatures` wraps training.features (the one implementation the LOSO baselines
use): ``features="td"`` is Hudgins' TD set (MAV, RMS, WL, ZC, SSC per channel),
``features="strong"`` the strong set (TD, log RMS, Hjorth, spectral, AR(4), spatial). It is
stateless (fit only records the input shape), so it clones, pickles and sits in a
``Pipeline`` like any transformer::

    make_pipeline(EMGFeatures("td"), StandardScaler(), LinearDiscriminantAnalysis())

Input: windows in physical units, shape (n_windows, n_samples, n_channels) (features.py's
layout), or (n_windows, n_channels, n_samples) with ``channels_first=True`` (the layout of
training.lake_windows.LakeWindowDataset); a 2-D array (n_windows, n_samples) is one channel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from emgcorpus.errors import ConfigError
from training.features import AR_ORDER, strong_features, td_features

FEATURE_SETS = ("td", "strong")
TD_NAMES = ("mav", "rms", "wl", "zc", "ssc")
#: Fewest samples per window of each feature set (TD: slope signs; strong: the AR fit).
MIN_SAMPLES = {"td": 3, "strong": AR_ORDER + 2}


class FeatureInputError(ConfigError, ValueError):
    """Windows or parameters EMGFeatures cannot use (a ValueError, as scikit-learn expects)."""


class EMGFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """TD or strong features of EMG windows (training.features), one row per window.

    ``features``: ``td`` or ``strong``. ``fs``: sampling rate [Hz] of the windows (the
    spectral features of ``strong`` need it; TD ignores it). ``zc_threshold`` /
    ``ssc_threshold``: TD's zero-crossing and slope-sign-change thresholds (units of the
    signal, and its square). ``channels_first``: input is (n_windows, n_channels, n_samples).
    """

    def __init__(
        self,
        features: str = "td",
        fs: float = 1000.0,
        zc_threshold: float = 0.0,
        ssc_threshold: float = 0.0,
        channels_first: bool = False,
    ) -> None:
        self.features = features
        self.fs = fs
        self.zc_threshold = zc_threshold
        self.ssc_threshold = ssc_threshold
        self.channels_first = channels_first

    def _windows(self, x: Any, reset: bool) -> np.ndarray:
        """``x`` checked (finite numbers, 2-D or 3-D) as (n_windows, n_samples, n_channels)."""
        if self.features not in FEATURE_SETS:
            raise FeatureInputError(
                f"EMGFeatures: features must be one of {FEATURE_SETS}, got {self.features!r}"
            )
        if not float(self.fs) > 0:
            raise FeatureInputError(f"EMGFeatures: fs must be a rate > 0 Hz, got {self.fs!r}")
        ndim = x.ndim if hasattr(x, "ndim") else np.asarray(x).ndim
        if ndim == 3:
            arr = validate_data(self, x, reset=reset, allow_nd=True, dtype=np.float64)
            w = np.asarray(arr, np.float64)
            return np.swapaxes(w, 1, 2) if self.channels_first else w
        arr = validate_data(self, x, reset=reset, dtype=np.float64)
        return np.asarray(arr, np.float64)[:, :, None]

    def fit(self, x: Any, y: Any = None) -> EMGFeatures:
        """Check ``x`` and record its shape (``n_features_in_``: samples of a 2-D input,
        ``n_channels_``, ``n_window_samples_``); nothing is learned."""
        w = self._windows(x, reset=True)
        self.n_window_samples_ = int(w.shape[1])
        self.n_channels_ = int(w.shape[2])
        need = MIN_SAMPLES[self.features]
        if w.shape[1] < need:
            raise FeatureInputError(
                f"EMGFeatures({self.features!r}): windows need >= {need} samples, "
                f"got {w.shape[1]} (n_features = {w.shape[1]} of a one-channel 2-D input)"
            )
        return self

    def transform(self, x: Any) -> np.ndarray:
        """Feature matrix (n_windows, n_features), float64 (features.py's column order)."""
        check_is_fitted(self, "n_channels_")
        w = self._windows(x, reset=False)
        if w.shape[1:] != (self.n_window_samples_, self.n_channels_):
            raise FeatureInputError(
                f"EMGFeatures: windows of shape {w.shape[1:]} (samples, channels), fitted on "
                f"{(self.n_window_samples_, self.n_channels_)}"
            )
        if self.features == "td":
            return td_features(w, self.zc_threshold, self.ssc_threshold)
        return strong_features(w, float(self.fs))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``mav_ch0, ..., ssc_chN`` for TD; ``strong0 ..`` for the strong set (its
        column count depends on fs and the channel count)."""
        check_is_fitted(self, "n_channels_")
        if self.features == "td":
            return np.array([f"{f}_ch{c}" for f in TD_NAMES for c in range(self.n_channels_)])
        probe = np.zeros((1, self.n_window_samples_, self.n_channels_))
        probe[0, :, :] = np.sin(np.arange(self.n_window_samples_))[:, None]
        n = strong_features(probe, float(self.fs)).shape[1]
        return np.array([f"strong{i}" for i in range(n)])

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        tags.transformer_tags.preserves_dtype = []
        return tags
