"""CapgMyo DB-a, DB-b, DB-c (Du et al. 2017, Sensors 17(3):458), adapter ``capgmyo``.

Release format (from the paper, the dataset's own description as redistributed with public
loaders, and those loaders' code; no file of the set is held here):

- folders ``db<x>-preprocessed-<NNN>`` holding one MATLAB v5 file per trial named
  ``<subject>-<gesture>-<trial>.mat`` (three zero-padded numbers, e.g. ``001-001-001.mat``);
- variables ``data`` (samples x 128, float, 1000 Hz), ``gesture``, ``subject``, ``trial``;
- 8 electrode arrays of 8 x 2 electrodes around the right forearm = an 8 x 16 grid,
  band-pass 20-380 Hz, 16-bit ADC; values normalised to [-1, 1] = [-2.5, 2.5] mV, so this
  adapter scales them to mV (float samples, gain 1);
- DB-a: 18 subjects, gestures 1-8 (NinaPro DB5 exercise B 1-8); DB-b: folders 1-20 are 10
  subjects x 2 sessions (odd = session 1 of subject (n + 1) / 2, even = session 2);
  DB-c: 10 subjects, gestures 1-12 (NinaPro DB5 exercise A); gestures 100 and 101 are
  maximal voluntary contractions (``kind="calibration"``).

Grid positions: array ``a = ch // 16`` covers grid columns ``2a, 2a + 1`` (around the
forearm), its 16 channels run down a column first (row = ``ch % 8`` along the forearm).
This channel order follows the public loaders (which reshape each sample to the 8 x 16
image); no documentation of the order itself was found, so it is not confirmed.
Electrodes: 3 mm diameter, inter-electrode distance 7.5 mm "horizontally" and 10.05 mm
"vertically" (the paper as summarised in a public README of a CapgMyo project; not checked
against the paper itself, and which grid axis is which is not stated). With one
``pitch_mm`` per electrode and the axes unassigned, ``pitch_mm`` stays n/a; the two
distances are written to each channel's ``placement_description``.

Options: ``database`` (``a``, ``b``, ``c``; inferred from the folder name otherwise).
Dataset name (the lake's ``dataset`` column): ``capgmyo-db<x>`` when the ``database``
option is set (the catalog's entry names), else ``capgmyo``; a ``dataset`` option wins.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from adapters._common import (
    check_finite,
    dataset_with_database,
    glob_units,
    load_mat,
    mat_number,
    mat_numeric,
    option_str,
)
from emgcorpus.errors import SourceError, check_option
from emgcorpus.recording import (
    Adapter,
    ChannelInfo,
    ElectrodePosition,
    Event,
    Recording,
    SourceFile,
    SourceUnit,
    SubjectInfo,
)

FS_HZ = 1000.0
N_CHANNELS = 128
FULL_SCALE_MV = 2.5
_NAME = re.compile(r"^(\d{3})-(\d{3})-(\d{3})\.mat$")
_FOLDER = re.compile(r"db([abc])-preprocessed-(\d+)", re.IGNORECASE)

#: NinaPro DB5 exercise B 1-8 (DB-a, DB-b).
GESTURES_AB = {
    1: "thumb_up",
    2: "index_middle_extension",
    3: "ring_little_flexion",
    4: "thumb_opposition",
    5: "finger_abduction",
    6: "fist",
    7: "index_pointing",
    8: "extended_finger_abduction",
}
#: NinaPro DB5 exercise A 1-12 (DB-c).
GESTURES_C = {
    1: "index_flexion",
    2: "index_extension",
    3: "middle_flexion",
    4: "middle_extension",
    5: "ring_flexion",
    6: "ring_extension",
    7: "little_flexion",
    8: "little_extension",
    9: "thumb_adduction",
    10: "thumb_abduction",
    11: "thumb_flexion",
    12: "thumb_extension",
}
MVC_GESTURES = {100: "mvc_100", 101: "mvc_101"}


def grid_channels() -> list[ChannelInfo]:
    """The 128 channels with their 8 x 16 grid positions."""
    out = []
    for ch in range(N_CHANNELS):
        array, within = divmod(ch, 16)
        pos = ElectrodePosition(
            system="grid", row=within % 8, col=2 * array + within // 8, grid_name="capgmyo"
        )
        out.append(
            ChannelInfo(
                name=f"emg{ch + 1}",
                units="mV",
                position=pos,
                group=f"array{array + 1}",
                placement_scheme="8 arrays of 8x2 electrodes around the right forearm",
                placement_description="3 mm electrodes; inter-electrode distance 7.5 mm and "
                "10.05 mm along the two grid axes (axis assignment not documented)",
                low_cutoff=20.0,
                high_cutoff=380.0,
            )
        )
    return out


class CapgMyoAdapter(Adapter):
    """CapgMyo preprocessed trial files; option ``database`` = a, b or c."""

    name = "capgmyo"
    version = "2"
    summary = "CapgMyo DB-a/b/c HD-sEMG (8x16 grid, 1 kHz), one .mat per trial"

    def __init__(self, source: str | Path, **options: Any) -> None:
        super().__init__(source, **options)
        db = option_str(options, "database")
        self.database = check_option("option database", db.lower(), "abc") if db else None

    @property
    def dataset(self) -> str:
        """``capgmyo-db<x>`` when option ``database`` is set, else ``capgmyo`` (option wins)."""
        return dataset_with_database(self.options, self.name, self.database)

    def discover(self) -> list[SourceUnit]:
        return glob_units(self.source, "**/*.mat", expected="a CapgMyo folder")

    def _database(self, path: Path) -> str:
        if self.database:
            return self.database
        for part in reversed(path.parts):
            m = _FOLDER.search(part)
            if m:
                return m.group(1).lower()
        raise SourceError(
            path, "cannot tell DB-a/b/c: no db<x>-preprocessed-<n> folder; set option database"
        )

    def read(self, unit: SourceUnit) -> Recording:
        path = unit.files[0]
        m = _NAME.match(path.name)
        if not m:
            raise SourceError(
                path, "not a CapgMyo trial file name: expected <subject>-<gesture>-<trial>.mat"
            )
        folder_subject, gesture, trial = (int(g) for g in m.groups())
        db = self._database(path)
        mat = load_mat(path)
        data = mat_numeric(mat, "data", path).astype(np.float64)
        if data.ndim != 2 or data.shape[1] != N_CHANNELS or data.shape[0] == 0:
            raise SourceError(path, f"variable 'data' has shape {data.shape}: expected (n, 128)")
        check_finite(data, path)
        for var, expected in (("gesture", gesture), ("trial", trial)):
            if var in mat:
                found = mat_number(mat, var, path)
                if found != expected:
                    raise SourceError(
                        path, f"variable {var!r} is {found:g} but the file name says {expected}"
                    )
        names = GESTURES_C if db == "c" else GESTURES_AB
        if gesture in MVC_GESTURES:
            label, kind = MVC_GESTURES[gesture], "calibration"
        elif gesture in names:
            label, kind = names[gesture], "gesture"
        else:
            raise SourceError(path, f"gesture {gesture} is not one of DB-{db}'s {sorted(names)}")
        subject, session = folder_subject, 1
        if db == "b":
            subject, session = (folder_subject + 1) // 2, 2 - folder_subject % 2
        duration = data.shape[0] / FS_HZ
        return Recording(
            dataset=self.dataset,
            subject=str(subject),
            session=str(session),
            trial=f"db{db}-g{gesture:03d}-t{trial:03d}",
            device="CapgMyo 8x16 HD-sEMG",
            fs=FS_HZ,
            channels=grid_channels(),
            samples=data * FULL_SCALE_MV,
            events=[Event(0.0, duration, label, trial, kind)],
            sources=[SourceFile(str(path))],
            subject_info=SubjectInfo(subject=str(subject)),
            meta={
                "database": f"DB-{db}",
                "preprocessing": "band-pass 20-380 Hz by the release; values scaled from "
                "[-1, 1] to [-2.5, 2.5] mV",
            },
        )
