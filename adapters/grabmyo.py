"""GRABMyo (PhysioNet) gesture recordings (``grabmyo``), original WFDB records.

**Dataset.** Gesture Recognition and Biometrics ElectroMyogram: 43 participants, 3
sessions on separate days, 17 gestures (16 + rest), 7 trials each, forearm and wrist
electrodes. Made by A. Pradhan, J. He, N. Jiang (University of Waterloo).

**Device.** OT Bioelettronica EMGUSB2+ (libemg's GRABMyo wrapper), 2048 Hz. Each record
has 32 signals: ``F1..F16`` forearm (group ``forearm``), ``W1..W12`` wrist (group
``wrist``), and ``U1..U4`` **unused** channels interleaved with them (order
``F1..F16, U1, W1..W6, U2, U3, W7..W12, U4``; std ~0.005 mV against 0.04-0.3 mV for EMG).
The unused ones are kept with ``type="MISC"``, ``status="bad"``, group ``unused``, so
they never mix in as EMG. Electrode positions on the rings are not given in the sources
we hold, so positions are ``n/a``; ``high_cutoff`` = fs/2 (hardware band not documented
here). Digital values are kept losslessly: ``gain = 1 / adc_gain``, ``offset = baseline``
per channel from the header, units mV (see :mod:`adapters.wfdb_record`).

**Format.** WFDB ``session{S}_participant{P}_gesture{G}_trial{T}.hea/.dat`` (format 16),
5 s (10240 samples) each. subject = ``P``, session = ``S``, trial = ``gesture{G}_trial{T}``.
The whole record is one interval of gesture ``G`` (1-based), repetition ``T - 1``.
Gesture names (libemg GRABMyo wrapper, 0-based there; here ``G - 1`` indexes them):
1 Lateral Prehension, 2 Thumb Adduction, 3 Thumb and Little Finger Opposition, 4 Thumb
and Index Finger Opposition, 5 Thumb and Index Finger Extension, 6 Thumb and Little
Finger Extension, 7 Index and Middle Finger Extension, 8 Little Finger Extension,
9 Index Finger Extension, 10 Thumb Finger Extension, 11 Wrist Extension, 12 Wrist
Flexion, 13 Forearm Supination, 14 Forearm Pronation, 15 Hand Open, 16 Hand Close,
17 Rest (``kind="rest"``). 11/12/15/16 agree with the README of the copy we hold.

**Licence.** PhysioNet open-data licence (Open Data Commons Attribution v1.0 per
PhysioNet; verify before redistribution). **Citation.** A. Pradhan et al., "A large
cross-session dataset for sEMG-based hand-gesture recognition and biometrics" (GRABMyo),
Scientific Data 9, 733 (2022), https://www.nature.com/articles/s41597-022-01836-y .
**URL.** https://physionet.org/content/grabmyo/

Format facts from ``../shared/data/grabmyo_p1/MANIFEST.md`` (load snippet run there) and
the record headers.
"""

from __future__ import annotations

import re

from adapters._common import nyquist, relative_key, whole_recording_event
from adapters.wfdb_record import read_wfdb
from emgcorpus.errors import SourceError
from emgcorpus.recording import Adapter, ChannelInfo, Recording, SourceFile, SourceUnit

#: 1-based gesture number G -> name (libemg GRABMyo wrapper)
GESTURES = {
    1: "Lateral Prehension",
    2: "Thumb Adduction",
    3: "Thumb and Little Finger Opposition",
    4: "Thumb and Index Finger Opposition",
    5: "Thumb and Index Finger Extension",
    6: "Thumb and Little Finger Extension",
    7: "Index and Middle Finger Extension",
    8: "Little Finger Extension",
    9: "Index Finger Extension",
    10: "Thumb Finger Extension",
    11: "Wrist Extension",
    12: "Wrist Flexion",
    13: "Forearm Supination",
    14: "Forearm Pronation",
    15: "Hand Open",
    16: "Hand Close",
    17: "Rest",
}
REST_GESTURE = 17
_RECORD_RX = re.compile(r"^session(\d+)_participant(\d+)_gesture(\d+)_trial(\d+)$")
_CHANNEL_RX = re.compile(r"^([FWU])(\d+)$")
_GROUPS = {"F": "forearm", "W": "wrist", "U": "unused"}


def grabmyo_channel(name: str, units: str, gain: float, offset: float, fs: float) -> ChannelInfo:
    """Channel ``F<k>``/``W<k>`` (EMG) or ``U<k>`` (unused: MISC, status bad)."""
    m = _CHANNEL_RX.match(name)
    if m is None:
        raise ValueError(name)
    unused = m.group(1) == "U"
    return ChannelInfo(
        name=name,
        type="MISC" if unused else "EMG",
        units=units,
        gain=gain,
        offset=offset,
        group=_GROUPS[m.group(1)],
        placement_description=None if unused else f"{_GROUPS[m.group(1)]} electrode",
        high_cutoff=nyquist(fs),
        status="bad" if unused else "good",
    )


class GrabMyoAdapter(Adapter):
    """GRABMyo WFDB records: one recording per ``session*_participant*_gesture*_trial*``."""

    name = "grabmyo"
    version = "1"
    summary = "GRABMyo (PhysioNet) 28 EMG + 4 unused ch, 2048 Hz, WFDB records"

    def discover(self) -> list[SourceUnit]:
        if not self.source.is_dir():
            raise SourceError(self.source, "source is not a folder of GRABMyo .hea/.dat records")
        units = []
        for hea in self.source.rglob("session*_participant*_gesture*_trial*.hea"):
            dat = hea.with_suffix(".dat")
            files = (hea, dat) if dat.is_file() else (hea,)
            units.append(
                SourceUnit(key=relative_key(hea.with_suffix(""), self.source), files=files)
            )
        return sorted(units, key=lambda u: u.key)

    def read(self, unit: SourceUnit) -> Recording:
        hea = unit.files[0]
        m = _RECORD_RX.match(hea.stem)
        if m is None:
            raise SourceError(
                hea, "record name is not session{S}_participant{P}_gesture{G}_trial{T}"
            )
        session, participant, gesture, trial = (int(g) for g in m.groups())
        if gesture not in GESTURES:
            raise SourceError(hea, f"gesture {gesture} outside the documented 1..{len(GESTURES)}")
        if trial < 1:
            raise SourceError(hea, f"trial {trial} is not a 1-based trial number")
        data = read_wfdb(hea)
        if data.record_name != hea.stem:
            raise SourceError(
                hea, f"header names record {data.record_name!r}, file is {hea.stem!r}"
            )
        bad = [n for n in data.names if _CHANNEL_RX.match(n) is None]
        if bad:
            raise SourceError(hea, f"unexpected signal names {bad} (expected F*, W*, U*)")
        channels = [
            grabmyo_channel(n, u, g, o, data.fs)
            for n, u, g, o in zip(data.names, data.units, data.gains, data.offsets, strict=True)
        ]
        event = whole_recording_event(
            data.samples.shape[0] / data.fs,
            GESTURES[gesture],
            trial - 1,
            rest=gesture == REST_GESTURE,
        )
        return Recording(
            dataset=self.dataset,
            subject=str(participant),
            session=str(session),
            trial=f"gesture{gesture}_trial{trial}",
            device="OT Bioelettronica EMGUSB2+",
            fs=data.fs,
            channels=channels,
            samples=data.samples,
            events=[event],
            sources=[SourceFile(relative_key(f, self.source)) for f in (hea, *data.files)],
            meta={"gesture_number": str(gesture), "gesture_name": GESTURES[gesture]},
        )
