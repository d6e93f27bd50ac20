"""emg2pose (``emg2pose``), read from its original per-session HDF5 files.

**Dataset.** sEMG from one wrist of 193 users with simultaneous hand motion capture,
about 370 hours, 25,253 session files (Meta Reality Labs; Salter et al., NeurIPS 2024
Datasets and Benchmarks, arXiv:2412.02725). Licence CC BY-NC-SA 4.0.

**Device.** Meta's sEMG research wristband: 16 electrode channels in a ring, 2 kHz
(``sample_rate`` attribute when present). Channels ``EMG0..EMG15``, ``ring`` positions
``angle_deg = 22.5 * k``; group = the ``side`` attribute (left/right). Units of the EMG
values are not stated by the loader -> ``units = "n/a"``.

**Format.** One ``.hdf5`` file per session: group ``emg2pose`` with dataset ``timeseries``,
a compound array with fields ``time`` (unix time [s]), ``emg`` (T x 16) and
``joint_angles`` (T x 20, hand joint angles from motion capture through inverse
kinematics). Group attributes: ``session``, ``side``, ``stage``, ``start``, ``end``,
``num_channels``, ``user``, ``sample_rate`` (as declared by the official loader).

**Mapping.** One recording per file: 16 EMG channels then 20 auxiliary channels
``joint_angle_0..19`` of type ``ANGLE`` (position ``n/a``; units ``rad`` - the release
states joint angles in radians as far as known here; unverified). The samples are float32.
No discrete labels: pose regression targets live in the ANGLE channels; ``trial`` is the
file name (unique per stage and side). All attributes (``stage`` too) are kept in
``meta`` as text. The ``time`` field is checked by the contract's clock rule
(:func:`adapters._common.check_regular_clock`: monotonic, no repeated stamp, steps within
0.5-1.5 periods, implied rate within 1 % of ``fs``); a file that breaks it is a
SourceError naming the file; ``meta["clock_*"]`` keeps the clock's facts.

Facts from the official loader (``emg2pose/data.py``: group/timeseries/field names) and
its README (16 channels, 2 kHz, 20 joint angles).
"""

from __future__ import annotations

import numpy as np

from adapters._common import check_regular_clock, glob_units, open_hdf5
from adapters.emg2qwerty import attr_text, band_channels, session_timeseries
from emgcorpus.errors import SourceError
from emgcorpus.recording import Adapter, ChannelInfo, Recording, SourceFile, SourceUnit

FS_HZ = 2000.0
N_EMG = 16
N_JOINTS = 20
GROUP = "emg2pose"


class Emg2PoseAdapter(Adapter):
    """emg2pose: one recording per session ``.hdf5`` (16 EMG + 20 joint-angle channels)."""

    name = "emg2pose"
    version = "1"
    reads_time_stamps = True
    summary = "emg2pose wristband sEMG (16 ch, 2 kHz) + 20 hand joint angles, original HDF5"

    def discover(self) -> list[SourceUnit]:
        return glob_units(self.source, "**/*.hdf5", expected="a folder of .hdf5 files")

    def read(self, unit: SourceUnit) -> Recording:
        path = unit.files[0]
        with open_hdf5(path) as h5:
            group, ts = session_timeseries(path, h5, GROUP, ("time", "emg", "joint_angles"))
            attrs = {k: group.attrs[k] for k in group.attrs}
        emg = np.asarray(ts["emg"], dtype=np.float32)
        angles = np.asarray(ts["joint_angles"], dtype=np.float32)
        if emg.ndim != 2 or emg.shape[1] != N_EMG:
            raise SourceError(path, f"field emg has shape {emg.shape}, expected (T, {N_EMG})")
        if angles.ndim != 2 or angles.shape[1] != N_JOINTS:
            raise SourceError(
                path, f"field joint_angles has shape {angles.shape}, expected (T, {N_JOINTS})"
            )
        fs = float(attrs["sample_rate"]) if "sample_rate" in attrs else FS_HZ
        if "num_channels" in attrs and int(attrs["num_channels"]) != N_EMG:
            raise SourceError(
                path, f"attribute num_channels is {attrs['num_channels']}, expected {N_EMG}"
            )
        time_s = np.asarray(ts["time"], dtype=np.float64)
        clock = check_regular_clock(path, time_s, fs, what="timeseries time")
        side = attr_text(attrs["side"]) if "side" in attrs else "n/a"
        channels = band_channels("EMG", side, N_EMG, fs) + [
            ChannelInfo(
                name=f"joint_angle_{j}",
                type="ANGLE",
                units="rad",
                group="joint_angles",
                placement_description="hand joint angle from motion capture (inverse kinematics)",
                high_cutoff=fs / 2.0,
            )
            for j in range(N_JOINTS)
        ]
        meta = {k: attr_text(v) for k, v in attrs.items()}
        meta["start_unix_s"] = f"{time_s[0]:.6f}"
        meta.update(clock.meta())
        session = attr_text(attrs["session"]) if "session" in attrs else path.stem
        return Recording(
            dataset=self.dataset,
            subject=attr_text(attrs["user"]) if "user" in attrs else "n/a",
            session=session,
            trial=path.stem,
            device="Meta sEMG research wristband",
            fs=fs,
            channels=channels,
            samples=np.concatenate([emg, angles], axis=1),
            sources=[SourceFile(path=unit.key)],
            meta=meta,
        )
