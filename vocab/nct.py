"""The Neuromuscular Contraction Tokenizer (NCT): contractions, not windows.

Per recording, for every channel of type ``EMG`` with status ``good`` (others produce no
segments):

1. band-pass (Butterworth, causal, one call per distinct band) within the band the device
   recorded: ``band_low_hz`` .. min(``band_high_hz``, 0.95 x high_cutoff, 0.95 x Nyquist);
   optional notch at ``notch_hz``;
2. RMS envelope over ``envelope_window_ms`` on a fixed time grid of ``grid_ms`` cells
   (vocab.envelope: rate-independent, one sum of squares per sample);
3. noise floor per channel: the ``noise_percentile``-th percentile of the medians of
   ``noise_block_ms`` blocks of the envelope (needs some rest somewhere, not at the start);
   capped at ``floor_channel_spread`` x the quietest channel's floor, so that a channel
   active for the whole recording (a gesture trial cut inside the hold) still gets a floor
   near the device's noise level (``None`` turns the cap off);
4. contractions by hysteresis: on above ``on_ratio`` x floor, off below ``off_ratio`` x
   floor; gaps shorter than ``min_gap_ms`` merged, contractions shorter than
   ``min_duration_ms`` dropped (vocab.contractions);
5. each contraction is cut into sub-steps of ``substep_ms`` (the last one takes the
   remainder) -> KIND_ACTIVE segments with a descriptor (vocab.descriptors); the time
   between contractions (and before the first / after the last) -> KIND_REST segments
   carrying their duration. Per channel, active and rest durations add up to the
   recording's duration.

Segments are sorted by (onset_s, channel); ``channel`` is the index into ``channels``.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np

from adapters.base import ChannelInfo
from emgcorpus.errors import ConfigError, check_positive
from vocab.contractions import ContractionDetector, rest_runs, split_substeps
from vocab.descriptors import DESCRIPTOR_DIM, describe
from vocab.envelope import (
    cell_power,
    filter_channels,
    make_grid,
    noise_floor,
    recorded_band,
    rms_envelope,
)
from vocab.tokenizer_base import KIND_ACTIVE, KIND_REST, Segments, Tokenizer


def check_input(x: np.ndarray, fs: float, channels: list[ChannelInfo], who: str) -> np.ndarray:
    """Validate one recording's samples; returns them as a 2-D float array.

    Raises ConfigError naming ``who`` when the shape, rate or channel list is wrong or the
    samples contain NaN/inf.
    """
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ConfigError(
            f"{who}: x must have shape (n_samples, n_channels), got shape {arr.shape}"
        )
    if arr.shape[1] != len(channels):
        raise ConfigError(
            f"{who}: x has {arr.shape[1]} channels but {len(channels)} ChannelInfo were given"
        )
    check_positive(f"{who}: fs", fs, "Hz")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.size and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ConfigError(
            f"{who}: samples must be finite, found {arr[bad[0], bad[1]]} at sample {bad[0]} "
            f"of channel {bad[1]} ({channels[bad[1]].name!r}); "
            "fill or drop the gap before tokenizing"
        )
    return arr


def emg_channels(channels: list[ChannelInfo]) -> list[int]:
    """Indices of the channels a tokenizer uses: type ``EMG`` and status ``good``."""
    return [
        i
        for i, c in enumerate(channels)
        if str(c.type).upper() == "EMG" and str(c.status).lower() == "good"
    ]


def sort_segments(
    channel: np.ndarray,
    onset_s: np.ndarray,
    duration_s: np.ndarray,
    kind: np.ndarray,
    desc: np.ndarray,
) -> Segments:
    """Build Segments sorted by (onset_s, channel) with the contract's dtypes."""
    order = np.lexsort((channel, onset_s))
    return Segments(
        channel=channel[order].astype(np.int32),
        onset_s=onset_s[order].astype(np.float64),
        duration_s=duration_s[order].astype(np.float32),
        kind=kind[order].astype(np.int8),
        descriptor=desc[order].astype(np.float32),
    )


class NCTTokenizer(Tokenizer):
    """Neuromuscular Contraction Tokenizer (see module docstring for the algorithm)."""

    name: ClassVar[str] = "nct"
    version: ClassVar[str] = "1"

    def __init__(self, **params: Any) -> None:
        unknown = sorted(set(params) - set(self.default_params()))
        if unknown:
            raise ConfigError(
                f"unknown NCT parameter(s) {unknown}: "
                f"expected some of {sorted(self.default_params())}"
            )
        super().__init__(**params)
        p = self.params
        for key in (
            "band_low_hz", "band_high_hz", "envelope_window_ms", "grid_ms", "substep_ms",
            "noise_block_ms", "on_ratio", "off_ratio",
        ):  # fmt: skip
            check_positive(key, p[key])
        if not 0 <= float(p["noise_percentile"]) <= 100:
            raise ConfigError(f"noise_percentile must be in [0, 100], got {p['noise_percentile']}")
        if int(p["filter_order"]) < 1:
            raise ConfigError(f"filter_order must be >= 1, got {p['filter_order']}")
        self.detector = ContractionDetector(
            on_ratio=p["on_ratio"],
            off_ratio=p["off_ratio"],
            min_duration_ms=p["min_duration_ms"],
            min_gap_ms=p["min_gap_ms"],
        )

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {
            "band_low_hz": 20.0,
            "band_high_hz": 450.0,
            "notch_hz": None,
            "filter_order": 4,
            "grid_ms": 10.0,
            "envelope_window_ms": 50.0,
            "noise_block_ms": 200.0,
            "noise_percentile": 10.0,
            "floor_channel_spread": 2.0,
            "on_ratio": 3.0,
            "off_ratio": 2.0,
            "min_duration_ms": 100.0,
            "min_gap_ms": 100.0,
            "substep_ms": 200.0,
        }

    @property
    def descriptor_dim(self) -> int:
        return DESCRIPTOR_DIM

    def segment(self, x: np.ndarray, fs: float, channels: list[ChannelInfo]) -> Segments:
        """Cut one recording into contraction sub-steps and rests (see module docstring)."""
        p = self.params
        arr = check_input(x, fs, channels, "NCT")
        fs = float(fs)
        used: list[int] = []
        bands: list[tuple[float, float]] = []
        for i in emg_channels(channels):
            band = recorded_band(channels[i], fs, p["band_low_hz"], p["band_high_hz"])
            if band is None:
                warnings.warn(
                    f"NCT: channel {i} ({channels[i].name!r}) skipped: at fs={fs:g} Hz with "
                    f"high_cutoff={channels[i].high_cutoff} nothing of {p['band_low_hz']:g}-"
                    f"{p['band_high_hz']:g} Hz was recorded",
                    stacklevel=2,
                )
                continue
            used.append(i)
            bands.append(band)
        n_samples = arr.shape[0]
        min_s = max(float(p["envelope_window_ms"]), float(p["min_duration_ms"])) / 1000.0
        if not used or n_samples / fs < min_s or n_samples * p["grid_ms"] / 1000.0 * fs < 1:
            return Segments.empty(DESCRIPTOR_DIM)

        picked = arr if len(used) == arr.shape[1] else arr[:, used]
        xt = np.ascontiguousarray(picked.T, dtype=np.float32)
        y = filter_channels(xt, fs, bands, order=int(p["filter_order"]), notch_hz=p["notch_hz"])
        del xt
        grid = make_grid(n_samples, fs, p["grid_ms"])
        power = cell_power(y, grid)
        env = rms_envelope(power, grid, p["envelope_window_ms"])
        floor = noise_floor(env, grid, p["noise_block_ms"], p["noise_percentile"])
        spread = p["floor_channel_spread"]
        if spread is not None and len(floor) > 1:
            floor = np.minimum(floor, float(spread) * floor.min())
        contractions = self.detector.detect(env, floor, grid)
        steps = split_substeps(contractions, grid.cells(p["substep_ms"]))
        desc = describe(y, grid, power, env, floor, np.asarray(bands), steps, contractions)
        rests = rest_runs(contractions, len(used), grid.n_cells)

        used_arr = np.asarray(used, dtype=np.int64)
        b = grid.bounds
        channel = np.concatenate([used_arr[steps.row], used_arr[rests.row]])
        onset = np.concatenate([b[steps.start], b[rests.start]]) / fs
        duration = (
            np.concatenate([b[steps.end] - b[steps.start], b[rests.end] - b[rests.start]]) / fs
        )
        kind = np.concatenate(
            [np.full(len(steps), KIND_ACTIVE, np.int8), np.full(len(rests), KIND_REST, np.int8)]
        )
        all_desc = np.concatenate([desc, np.full((len(rests), DESCRIPTOR_DIM), np.nan, np.float32)])
        keep = duration > 0
        return sort_segments(channel[keep], onset[keep], duration[keep], kind[keep], all_desc[keep])
