"""LibEMG CIIL Myo datasets (``ciil``): ElectrodeShift and MinimalTrainingData, original CSV.

**Dataset.** Two Myo armband gesture sets collected by the CIIL lab (University of New
Brunswick) and distributed for LibEMG in the GitHub repository ``LibEMG/CIILData``:

- ``ElectrodeShift/subject0..20`` (21 subjects): ``training/`` (5 reps x 5 classes) and
  ``trial_1..trial_4`` (recorded after shifting the electrodes; subjects 13 and 16 also
  ``trial_0``);
- ``MinimalTrainingData/subject0..10`` (11 subjects): ``train/`` (1 rep x 5 classes) and
  ``test/trial_0..`` (online-test folders, also holding game logs that are ignored).

Whether the two sets share participants is not stated, so subject ids carry the set name
(``ElectrodeShift/subject0``). Session = the folder below the subject (``training``,
``trial_1``, ``train``, ``test/trial_0``); trial = the file stem (``R_0_C_3``).

**Device.** Thalmic Labs Myo armband, 8 channels, 200 Hz (libemg metadata), raw Myo int8
counts written as text integers (-128..127) -> kept as int16, ``units = "n/a"``,
``gain = 1``; ring positions 45 deg apart as in :mod:`adapters.cote_allard`;
``high_cutoff`` 100 Hz (Nyquist).

**Format.** Headerless CSV, one row per sample, 8 integer columns; one file per
repetition of one class, ``R_<rep>_C_<class>.csv``. ``metadata.json`` beside the CSVs maps
the original collection path (``data/subjectN/sgt/<folder>/R_r_C_c.csv``) to ``rep_idx``,
``class_idx``, ``class_name``. **Class names come from metadata.json** (authoritative; the
libemg description swaps flexion/extension): 0 Hand_Close, 1 Hand_Open, 2 No_Motion,
3 Wrist_Extension, 4 Wrist_Flexion. ``MinimalTrainingData/*/train`` has no metadata.json:
its class names come from the first metadata.json of the same subject (sorted path), and
the recording's ``meta["class_names_from"]`` says which file. A file whose name disagrees
with its metadata entry (rep or class) is a SourceError. Each file is one labelled
interval; ``No_Motion`` is the rest class (``kind="rest"``, label ``rest``).

**Licence.** None stated in the data repository (libemg's code is MIT; the data's terms
are unclear). **Citation.** ElectrodeShift: J NeuroEng Rehabil 2024,
https://doi.org/10.1186/s12984-024-01355-4 ; MinimalTrainingData:
https://ieeexplore.ieee.org/abstract/document/10394393 . **URL.**
https://github.com/LibEMG/CIILData

Format facts from ``../shared/data/ciil_myo/MANIFEST.md`` (load snippet run there) and the
metadata.json files themselves.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from adapters._common import (
    as_integer_if_exact,
    check_finite,
    check_nonempty,
    part_folders,
    relative_key,
    whole_recording_event,
)
from adapters._myo import myo_channels
from emgcorpus.errors import SourceError
from emgcorpus.recording import Adapter, Recording, SourceFile, SourceUnit

FS_HZ = 200.0
N_CHANNELS = 8
PARTS = ("ElectrodeShift", "MinimalTrainingData")
REST_CLASS = "No_Motion"
_FILE_RX = re.compile(r"^R_(\d+)_C_(\d+)\.csv$")


def _load_metadata(path: Path) -> dict[str, Any]:
    """A metadata.json, parsed once per (path, size, mtime): many CSVs share one file."""
    try:
        st = path.stat()
    except OSError as exc:
        raise SourceError(path, f"cannot open metadata.json ({exc.strerror})") from None
    return _load_metadata_cached(path, st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=64)
def _load_metadata_cached(path: Path, size: int, mtime_ns: int) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SourceError(path, f"not a readable metadata.json ({exc})") from None
    if not isinstance(data, dict):
        raise SourceError(path, "metadata.json is not a JSON object")
    return data


def class_names(metadata: dict[str, Any]) -> dict[int, str]:
    """class_idx -> class_name over every file entry of a metadata.json."""
    out: dict[int, str] = {}
    for entry in metadata.values():
        if isinstance(entry, dict) and "class_idx" in entry and "class_name" in entry:
            out[int(entry["class_idx"])] = str(entry["class_name"])
    return out


def file_entry(metadata: dict[str, Any], file_name: str) -> dict[str, Any] | None:
    """The metadata entry whose original path ends with ``/file_name``, if any."""
    for key, entry in metadata.items():
        if isinstance(entry, dict) and key.rsplit("/", 1)[-1] == file_name:
            return entry
    return None


def read_myo_csv(path: Path) -> np.ndarray:
    """A headerless 8-column integer CSV as int16 ``(n_samples, 8)``; SourceError otherwise."""
    check_nonempty(path)
    try:
        x = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise SourceError(path, f"not a numeric CSV ({exc})") from None
    if x.shape[0] == 0:
        raise SourceError(path, "CSV has no rows")
    if x.shape[1] != N_CHANNELS:
        raise SourceError(path, f"expected {N_CHANNELS} columns, found {x.shape[1]}")
    check_finite(x, path)
    out = as_integer_if_exact(x, "int16")
    if out.dtype != np.int16:
        raise SourceError(path, "values are not whole Myo counts within the int16 range")
    return out


class CiilAdapter(Adapter):
    """LibEMG CIIL ElectrodeShift / MinimalTrainingData: one recording per CSV file."""

    name = "ciil"
    version = "1"
    summary = "LibEMG CIIL Myo sets (ElectrodeShift, MinimalTrainingData), 8 ch 200 Hz CSV"

    def _subject_metadata(self, subject_dir: Path) -> Path | None:
        found = sorted(subject_dir.rglob("metadata.json"))
        return found[0] if found else None

    def discover(self) -> list[SourceUnit]:
        units = []
        for root in part_folders(self.source, PARTS, "the CIILData root or a set"):
            for subject_dir in sorted(p for p in root.iterdir() if p.is_dir()):
                fallback = None
                for path in subject_dir.rglob("R_*_C_*.csv"):
                    meta = path.parent / "metadata.json"
                    if not meta.is_file():
                        fallback = fallback or self._subject_metadata(subject_dir)
                        meta = fallback if fallback is not None else meta
                    files = (path, meta) if meta.is_file() else (path,)
                    units.append(SourceUnit(key=relative_key(path, self.source), files=files))
        return sorted(units, key=lambda u: u.key)

    def read(self, unit: SourceUnit) -> Recording:
        path = unit.files[0]
        m = _FILE_RX.match(path.name)
        if m is None:
            raise SourceError(path, "file name is not R_<rep>_C_<class>.csv")
        rep, cls = int(m.group(1)), int(m.group(2))
        subject_dir = next((p for p in path.parents if p.parent.name in PARTS), None)
        if subject_dir is None:
            raise SourceError(path, f"not inside {' or '.join(PARTS)}/<subject>/")
        if len(unit.files) < 2:
            raise SourceError(
                path, "no metadata.json with class names beside it or for its subject"
            )
        meta_path = unit.files[1]
        metadata = _load_metadata(meta_path)
        names = class_names(metadata)
        if meta_path.parent == path.parent:
            entry = file_entry(metadata, path.name)
            if entry is None:
                raise SourceError(path, f"file has no entry in {meta_path.name}")
            if int(entry.get("class_idx", -1)) != cls or int(entry.get("rep_idx", -1)) != rep:
                raise SourceError(
                    path,
                    f"file name says rep {rep}, class {cls} but {meta_path.name} says "
                    f"rep {entry.get('rep_idx')}, class {entry.get('class_idx')}",
                )
        if cls not in names:
            raise SourceError(path, f"class {cls} has no name in {meta_path}")
        class_name = names[cls]
        samples = read_myo_csv(path)
        event = whole_recording_event(
            samples.shape[0] / FS_HZ, class_name, rep, rest=class_name == REST_CLASS
        )
        return Recording(
            dataset=self.dataset,
            subject=f"{subject_dir.parent.name}/{subject_dir.name}",
            session=path.parent.relative_to(subject_dir).as_posix(),
            trial=path.stem,
            device="Thalmic Labs Myo armband",
            fs=FS_HZ,
            channels=myo_channels("EMG", FS_HZ),
            samples=samples,
            events=[event],
            sources=[SourceFile(path=unit.key), SourceFile(relative_key(meta_path, self.source))],
            meta={
                "class_index": str(cls),
                "class_name": class_name,
                "class_names_from": relative_key(meta_path, self.source),
            },
        )
