"""A lake recording as an MNE-Python ``Raw`` (:func:`to_mne_raw`).

MNE keeps voltage channels in volts, so samples are converted from each channel's units
(``V``, ``mV``, ``uV``/``µV``, ``nV``) to V. A channel whose units are not a voltage (the
Myo's raw counts are ``n/a``) keeps its stored physical value, unscaled; the channels it
concerns are listed in ``raw.info["description"]``. Channel types: ``EMG`` -> ``emg``,
``TRIG`` -> ``stim``, every other type -> ``misc``; channels of status ``bad`` are in
``info["bads"]``. Events become annotations (onset/duration [s], description = raw
label). ``info["subject_info"]`` holds the subject id, sex, handedness, height [m] and
weight [kg] where the lake knows them (MNE codes: sex 1 male / 2 female, hand 1 right /
2 left / 3 ambidextrous); the recording's identity is in ``info["description"]`` and
the measurement date is unset (the lake does not keep one). ``info["lowpass"]`` /
``info["highpass"]`` [Hz] are the narrowest band all channels state.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from emgcorpus.recording import ChannelInfo, SubjectInfo

if TYPE_CHECKING:
    import mne

    from emgcorpus.lake import Lake

#: Voltage units -> factor to volts.
VOLTS_PER_UNIT = {"V": 1.0, "mV": 1e-3, "uV": 1e-6, "µV": 1e-6, "μV": 1e-6, "nV": 1e-9}
#: BIDS-EMG channel type -> MNE channel type (others: ``misc``).
MNE_TYPES = {"EMG": "emg", "TRIG": "stim"}
_SEX = {"m": 1, "male": 1, "f": 2, "female": 2}
_HAND = {"r": 1, "right": 1, "l": 2, "left": 2, "a": 3, "ambidextrous": 3, "both": 3}


def volts_per_unit(units: str) -> float | None:
    """Factor from ``units`` to volts, or None when ``units`` is not a voltage."""
    return VOLTS_PER_UNIT.get(units.strip())


def mne_subject_info(info: SubjectInfo | None) -> dict[str, Any] | None:
    """MNE's ``subject_info`` dict from the lake's demographics (known fields only)."""
    if info is None:
        return None
    out: dict[str, Any] = {"his_id": info.subject}
    if info.sex and info.sex.strip().lower() in _SEX:
        out["sex"] = _SEX[info.sex.strip().lower()]
    if info.handedness and info.handedness.strip().lower() in _HAND:
        out["hand"] = _HAND[info.handedness.strip().lower()]
    if info.height_cm is not None:
        out["height"] = info.height_cm / 100.0
    if info.weight_kg is not None:
        out["weight"] = float(info.weight_kg)
    return out


def _band(channels: list[ChannelInfo]) -> tuple[float | None, float | None]:
    """(high-pass, low-pass) [Hz] every channel states: max low_cutoff, min high_cutoff."""
    lows = [c.low_cutoff for c in channels]
    highs = [c.high_cutoff for c in channels]
    highpass = max(lows) if lows and all(v is not None for v in lows) else None  # type: ignore[type-var]
    lowpass = min(highs) if highs and all(v is not None for v in highs) else None  # type: ignore[type-var]
    return highpass, lowpass


def to_mne_raw(lake: Lake, recording_id: str, fs: float | None = None) -> mne.io.RawArray:
    """The recording ``recording_id`` of ``lake`` as an ``mne.io.RawArray`` (see the module
    docstring): voltage channels in V, the lake's channel names and rate, events as
    annotations. ``fs`` [Hz] reads the harmonized stream at that rate instead of the
    native one (LakeError if it was never built). LakeError if the recording is unknown.
    """
    import mne

    rec = lake.read_recording(recording_id, fs=fs)
    data = rec.samples.astype(np.float64).T
    unscaled = []
    for k, c in enumerate(rec.channels):
        factor = volts_per_unit(c.units)
        if factor is None:
            unscaled.append(f"{c.name} ({c.units})")
        else:
            data[k] *= factor
    types = [MNE_TYPES.get(c.type, "misc") for c in rec.channels]
    info = mne.create_info([c.name for c in rec.channels], rec.fs, types)
    highpass, lowpass = _band(rec.channels)
    with info._unlock():
        if lowpass is not None:
            info["lowpass"] = float(lowpass)
        if highpass is not None:
            info["highpass"] = float(highpass)
        info["subject_info"] = mne_subject_info(rec.subject_info)
    identity = {
        "recording_id": recording_id,
        "dataset": rec.dataset,
        "subject": rec.subject,
        "session": rec.session,
        "trial": rec.trial,
        "device": rec.device,
    }
    if unscaled:
        identity["not_volts"] = ", ".join(unscaled)
    info["description"] = json.dumps(identity, sort_keys=True)
    info["bads"] = [c.name for c in rec.channels if c.status == "bad"]
    raw = mne.io.RawArray(data, info, verbose="error")
    if rec.events:
        raw.set_annotations(
            mne.Annotations(
                onset=[e.onset for e in rec.events],
                duration=[e.duration for e in rec.events],
                description=[e.label for e in rec.events],
            )
        )
    return raw
