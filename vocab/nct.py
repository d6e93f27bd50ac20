"""The Neuromuscular Contraction Tokenizer (NCT): contractions, not windows.

Per recording, for every channel of type ``EMG`` with status ``good`` (others produce no
segments):

1. band-pass (Butterworth, causal, one call per distinct band) within the band the device
   recorded: ``band_low_hz`` .. min(``band_high_hz``, 0.95 x high_cutoff, 0.95 x Nyquist);
   optional notch at ``notch_hz``;
2. RMS envelope over ``envelope_window_ms`` on a fixed time grid of ``grid_ms`` cells
   (vocab.envelope: rate-independent, one sum of squares per sample);
3. noise floor per channel: the ``noise_percentile``-th percentile of the medians of
   ``noise_block_ms`` blocks of the envelope (needs some rest somewhere, not at the start).
   Over a whole *session* when the recordings come through :meth:`segment_session` (the
   compiler and tokenize_lake do this): the recordings of one (dataset, subject, session,
   device) pool their block levels by channel name, so a trial cut inside a held gesture
   borrows the floor of the session's rest recording; ``segment(..., noise_floor=...)``
   takes such floors from the caller. Floors are capped at ``floor_channel_spread`` x the
   quietest channel's floor, so that a channel active throughout still gets a floor near
   the device's noise level (``None`` turns the cap off). The floors set every channel's
   contraction thresholds; the descriptors' intensities (entries 1-2) are taken against
   ``intensity_reference``: ``"channel"``, each channel's own floor, or ``"device"``, one
   reference per recording (the median of its channels' floors), so that the intensity
   pattern over the electrodes keeps the channels' relative amplitudes while the device's
   gain and the person's skin still cancel;
4. contractions by hysteresis: on above ``on_ratio`` x floor, off below ``off_ratio`` x
   floor; gaps shorter than ``min_gap_ms`` merged, contractions shorter than
   ``min_duration_ms`` dropped (vocab.contractions);
5. each contraction is cut into sub-steps of ``substep_ms`` (the last one takes the
   remainder) -> KIND_ACTIVE segments with a descriptor (vocab.descriptors: spectral
   entries on the common 20-95 Hz band, high-band entries NaN when not recorded); the time
   between contractions (and before the first / after the last) -> KIND_REST segments
   carrying their duration. Per channel, active and rest durations add up to the
   recording's duration.

Segments are sorted by (onset_s, channel); ``channel`` is the index into ``channels``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from emgcorpus.errors import ConfigError, check_positive
from emgcorpus.recording import ChannelInfo
from vocab.contractions import ContractionDetector, rest_runs, split_substeps
from vocab.descriptors import DESCRIPTOR_DIM, describe
from vocab.envelope import (
    TimeGrid,
    block_levels,
    cell_power,
    filter_channels,
    floor_from_levels,
    make_grid,
    recorded_band,
    rms_envelope,
)
from vocab.tokenizer_base import KIND_ACTIVE, KIND_REST, Recorded, Segments, Tokenizer


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


#: What the descriptors' intensities are taken against (module docstring, step 3).
INTENSITY_REFERENCES = ("channel", "device")

#: Filtered recordings of one session kept in memory between the floor pass and the
#: tokenizing pass [bytes]; the others are filtered again (bounded memory per task).
SESSION_CACHE_BYTES = 256 * 2**20


@dataclass
class PreparedRecording:
    """One recording after filtering and enveloping (rows = its tokenized channels)."""

    n_channels: int  # channels of the recording (tokenized or not)
    used: np.ndarray  # int64 (n_used,): indices of the tokenized channels
    names: tuple[str, ...]  # their names (a session matches channels by name)
    bands: np.ndarray  # float64 (n_used, 2): recorded band [Hz]
    y: np.ndarray  # float32 (n_used, n_samples): band-passed samples
    grid: TimeGrid
    power: np.ndarray  # (n_used, n_cells) sum of squares per cell
    env: np.ndarray  # (n_used, n_cells) RMS envelope
    levels: np.ndarray  # (n_used, n_blocks) block medians of the envelope

    @property
    def nbytes(self) -> int:
        return int(self.y.nbytes + self.power.nbytes + self.env.nbytes + self.levels.nbytes)


def _levels_only(prep: PreparedRecording) -> PreparedRecording:
    """``prep`` without its samples (what the floor pass keeps of a recording)."""
    empty = np.zeros((len(prep.used), 0), np.float32)
    return PreparedRecording(
        prep.n_channels, prep.used, prep.names, prep.bands, empty, prep.grid,
        empty, empty, prep.levels,
    )  # fmt: skip


class NCTTokenizer(Tokenizer):
    """Neuromuscular Contraction Tokenizer (see module docstring for the algorithm)."""

    name: ClassVar[str] = "nct"
    label: ClassVar[str] = "NCT"
    #: 2: spectral descriptors on the common 20-95 Hz band, optional high-band entries
    #: (NaN when not recorded), session-level noise floors. 3: a session's floors are
    #: pooled over all of its recordings, also when the compiler cuts it over several
    #: partitions (they were pooled per partition: tokens depended on the partition size).
    version: ClassVar[str] = "3"

    def __init__(self, **params: Any) -> None:
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
        if p["intensity_reference"] not in INTENSITY_REFERENCES:
            raise ConfigError(
                f"intensity_reference must be one of {', '.join(INTENSITY_REFERENCES)}, "
                f"got {p['intensity_reference']!r}"
            )
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
            "intensity_reference": "channel",
            # 2 / 1.5 measured (training/RESULTS.md, O1): Cote-Allard within-subject +2.8
            # (p = 0.013), across people -0.4 to +0.8 on the real sets and -1.3 to -2.9 on
            # the quick start: not the default
            "on_ratio": 3.0,
            "off_ratio": 2.0,
            "min_duration_ms": 100.0,
            "min_gap_ms": 100.0,
            "substep_ms": 200.0,
        }

    @property
    def descriptor_dim(self) -> int:
        return DESCRIPTOR_DIM

    def prepare(
        self, x: np.ndarray, fs: float, channels: list[ChannelInfo]
    ) -> PreparedRecording | None:
        """Steps 1-2 of the algorithm (filter, envelope) and the channels' block levels.

        ``None`` when nothing can be tokenized (no usable channel, recording too short).
        """
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
                    stacklevel=3,
                )
                continue
            used.append(i)
            bands.append(band)
        n_samples = arr.shape[0]
        min_s = max(float(p["envelope_window_ms"]), float(p["min_duration_ms"])) / 1000.0
        if not used or n_samples / fs < min_s or n_samples * p["grid_ms"] / 1000.0 * fs < 1:
            return None
        picked = arr if len(used) == arr.shape[1] else arr[:, used]
        xt = np.ascontiguousarray(picked.T, dtype=np.float32)
        y = filter_channels(xt, fs, bands, order=int(p["filter_order"]), notch_hz=p["notch_hz"])
        del xt
        grid = make_grid(n_samples, fs, p["grid_ms"])
        power = cell_power(y, grid)
        env = rms_envelope(power, grid, p["envelope_window_ms"])
        levels = block_levels(env, grid, p["noise_block_ms"])
        return PreparedRecording(
            n_channels=len(channels),
            used=np.asarray(used, dtype=np.int64),
            names=tuple(str(channels[i].name) for i in used),
            bands=np.asarray(bands, dtype=np.float64),
            y=y,
            grid=grid,
            power=power,
            env=env,
            levels=levels,
        )

    def recording_floor(self, prep: PreparedRecording) -> np.ndarray:
        """Step 3 on one recording alone: floors (n_used,) from its own block levels."""
        q = float(self.params["noise_percentile"])
        return self._cap(floor_from_levels(prep.levels, prep.env, q))

    def session_floors(self, preps: list[PreparedRecording]) -> dict[str, float]:
        """Step 3 over a session: one floor per channel name from the block levels of
        every recording of the session (e.g. its rest recording), envelope units."""
        return self.pool_floors(self._levels_by_name(preps))

    @staticmethod
    def _levels_by_name(preps: list[PreparedRecording]) -> dict[str, list[np.ndarray]]:
        pooled: dict[str, list[np.ndarray]] = {}
        for prep in preps:
            for name, lv in zip(prep.names, prep.levels):
                pooled.setdefault(name, []).append(lv)
        return pooled

    def session_levels(
        self, n: int, load: Callable[[int], Recorded]
    ) -> dict[str, list[np.ndarray]]:
        """The block levels (step 3's input) of ``n`` recordings of a session, by channel
        name: what a partition holding part of a session contributes to its floors."""
        levels: list[PreparedRecording] = []
        for i in range(n):
            prep = self.prepare(*load(i))
            if prep is not None:
                levels.append(_levels_only(prep))
        return self._levels_by_name(levels)

    def pool_floors(self, levels: dict[str, list[np.ndarray]]) -> dict[str, float]:
        """Step 3 on pooled block levels (channel name -> arrays): the
        ``noise_percentile``-th percentile of all of them, capped (floor_channel_spread).
        The percentile does not depend on the order of the arrays."""
        names = sorted(levels)
        if not names:
            return {}
        q = float(self.params["noise_percentile"])
        floor = np.array(
            [np.percentile(np.concatenate(levels[n]), q) if sum(map(len, levels[n])) else 0.0
             for n in names]
        )  # fmt: skip
        floor = np.maximum(floor, np.finfo(np.float32).tiny)
        return dict(zip(names, self._cap(floor).tolist()))

    def _cap(self, floor: np.ndarray) -> np.ndarray:
        """Cap every floor at ``floor_channel_spread`` x the quietest channel's floor."""
        spread = self.params["floor_channel_spread"]
        if spread is not None and len(floor) > 1:
            floor = np.minimum(floor, float(spread) * floor.min())
        return floor

    def intensity_floor(self, floor: np.ndarray) -> np.ndarray:
        """What the descriptors' intensities are divided by (``intensity_reference``): the
        floors (n_used,) themselves, or their median on every channel."""
        if self.params["intensity_reference"] == "device" and len(floor):
            return np.full_like(floor, float(np.median(floor)))
        return floor

    def finish(self, prep: PreparedRecording, floor: np.ndarray | None = None) -> Segments:
        """Steps 4-5: contractions, sub-steps and rests against ``floor`` (n_used,), or the
        recording's own floor when ``None`` (NaN entries also fall back to it)."""
        p = self.params
        own = self.recording_floor(prep)
        if floor is None:
            floor = own
        else:
            floor = np.asarray(floor, dtype=np.float64)
            floor = np.where(np.isfinite(floor) & (floor > 0), floor, own)
        grid, env = prep.grid, prep.env
        contractions = self.detector.detect(env, floor, grid)
        steps = split_substeps(contractions, grid.cells(p["substep_ms"]))
        desc = describe(
            prep.y, grid, prep.power, env, self.intensity_floor(floor), prep.bands, steps,
            contractions,
        )  # fmt: skip
        rests = rest_runs(contractions, len(prep.used), grid.n_cells)

        used_arr = prep.used
        b = grid.bounds
        fs = grid.fs
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

    def segment(
        self,
        x: np.ndarray,
        fs: float,
        channels: list[ChannelInfo],
        noise_floor: np.ndarray | None = None,
    ) -> Segments:
        """Cut one recording into contraction sub-steps and rests (see module docstring).

        ``noise_floor`` (optional, shape (len(channels),), the signal's physical units as
        an RMS envelope level): a floor per channel computed elsewhere, e.g. over the
        recording's whole session (:meth:`session_floors`); NaN entries, and ``None``, use
        the recording's own floor.
        """
        prep = self.prepare(x, fs, channels)
        if prep is None:
            return Segments.empty(DESCRIPTOR_DIM)
        floor = None
        if noise_floor is not None:
            nf = np.asarray(noise_floor, dtype=np.float64).reshape(-1)
            if nf.shape[0] != len(channels):
                raise ConfigError(
                    f"NCT: noise_floor has {nf.shape[0]} entries for {len(channels)} channels"
                )
            floor = nf[prep.used]
        return self.finish(prep, floor)

    def floors_for(self, prep: PreparedRecording, floors: dict[str, float]) -> np.ndarray:
        """The session floors of ``prep``'s tokenized channels by name (NaN where missing)."""
        return np.array([floors.get(n, np.nan) for n in prep.names], dtype=np.float64)

    def segment_session(
        self,
        n: int,
        load: Callable[[int], Recorded],
        floors: dict[str, float] | None = None,
    ) -> Iterator[Segments]:
        """Segment one session's recordings against floors pooled over all of them, or
        against ``floors`` (per channel name) pooled by the caller over the whole session
        when it spans several partitions (then there is no floor pass here).

        Pass 1 filters every recording and collects its block levels; the filtered
        recordings are kept while they fit in ``SESSION_CACHE_BYTES`` (the rest are loaded
        and filtered again in pass 2), so memory stays bounded whatever the session's size.
        """
        if floors is not None:
            for i in range(n):
                prep = self.prepare(*load(i))
                if prep is None:
                    yield Segments.empty(DESCRIPTOR_DIM)
                    continue
                yield self.finish(prep, self.floors_for(prep, floors))
            return
        if n == 1:
            yield self.segment(*load(0))
            return
        cache: dict[int, PreparedRecording | None] = {}
        levels: list[PreparedRecording] = []
        budget = SESSION_CACHE_BYTES
        for i in range(n):
            prep = self.prepare(*load(i))
            if prep is None:
                cache[i] = None
                continue
            if prep.nbytes <= budget:
                cache[i] = prep
                budget -= prep.nbytes
            levels.append(_levels_only(prep))
        floors = self.session_floors(levels)
        del levels
        for i in range(n):
            prep = cache.pop(i) if i in cache else self.prepare(*load(i))
            if prep is None:
                yield Segments.empty(DESCRIPTOR_DIM)
                continue
            yield self.finish(prep, self.floors_for(prep, floors))
