"""Côté-Allard Myo armband dataset (``cote-allard``), read from its original release files.

**Dataset.** 40 able-bodied participants performing 7 hand/wrist gestures with a Myo
armband: PreTrainingDataset (22 subjects: Female0-9, Male0-11, one session ``training0``)
and EvaluationDataset (18 subjects: Female0-1, Male0-15, three sessions ``training0``,
``Test0``, ``Test1``). Made by U. Côté-Allard et al., Université Laval (ethics approval
2017-026/21-02-2016).

**Device.** Thalmic Labs Myo armband: 8 dry electrodes evenly spaced around the forearm
(45 deg apart), 8 channels, 200 Hz, 8-bit values (observed -128..127). Channel ``k`` is
Myo pod ``k``; positions are ``ring`` with ``angle_deg = 45 * k`` from the first pod
(where the first pod sits on the forearm is not documented). Units: raw Myo ADC counts,
no documented scale -> ``units = "n/a"``, ``gain = 1``. ``high_cutoff`` 100 Hz (Nyquist
of 200 Hz); ``low_cutoff`` not documented (``None``).

**Format.** One headerless little-endian int16 file per gesture repetition,
channel-interleaved (``np.fromfile(f, "<i2").reshape(-1, 8)``), about 5 s each:
``<part>/<Subject>/<session>/classe_<i>.dat`` with ``i`` in 0..27;
gesture = ``i % 7``, cycle (repetition) = ``i // 7``. Gestures (README): 0 Neutral,
1 Radial Deviation, 2 Wrist Flexion, 3 Ulnar Deviation, 4 Wrist Extension, 5 Hand Close,
6 Hand Open. The whole file is one labelled interval; gesture 0 "Neutral" is the rest
class (``kind="rest"``, label ``rest``).

**What the reader cannot see.** The ``.dat`` files have no header, no length field and
no checksum, and every int16 value within -32768..32767 is a possible sample: a flipped
byte in a file, or a file swapped for another of the same size, parses and is stored as
data (only an empty file or a size that is not a whole number of 16-byte frames is a
SourceError; values outside the observed -128..127 are not refused, as the release does
not state the range). The guard is the checksum, not this reader: ingest compares each
file's sha256 with the one ``catalog.yaml`` lists for it, where it lists one
(ChecksumError when they differ), every ``recordings`` row keeps the sha256 of its
files, and ``emgcorpus verify --sources`` (:mod:`emgcorpus.catalog.source_check`)
re-hashes the source files against the lake and the catalog.

**Subjects.** ``experiment.csv`` per subject folder (rows ``Sex,<F|M>``, ``Age,<years>``,
``Circumference,,<value>`` ...) gives sex and age; the rest is kept as ``extra`` text.
Subject ids are ``<part>/<Subject>`` (e.g. ``PreTraining/Female0``) because the README
treats the two parts as separate participant groups.

**Source.** ``source`` may be the release root (holding ``PreTrainingDataset`` and/or
``EvaluationDataset``) or one of those folders.

**Licence.** GNU GPL v3 (repository ``LICENSE``). **Citation.** Côté-Allard et al.,
"Deep learning for electromyographic hand gesture signal classification using transfer
learning", IEEE TNSRE 27(4):760-771, 2019; and SMC 2017 (README). **URL.**
https://github.com/UlysseCoteAllard/MyoArmbandDataset

Format facts from the repository README and ``../shared/data/cote_allard_myo/MANIFEST.md``
(load snippet run there; all 2128 files have a size divisible by 16 bytes).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from adapters._common import (
    check_nonempty,
    part_folders,
    read_interleaved_binary,
    relative_key,
    whole_recording_event,
)
from adapters._myo import myo_channels
from emgcorpus.errors import SourceError
from emgcorpus.recording import (
    Adapter,
    Recording,
    SourceFile,
    SourceUnit,
    SubjectInfo,
)

FS_HZ = 200.0
N_CHANNELS = 8
N_FILES_PER_SESSION = 28
#: gesture index -> name, from the dataset README
GESTURES = (
    "Neutral",
    "Radial Deviation",
    "Wrist Flexion",
    "Ulnar Deviation",
    "Wrist Extension",
    "Hand Close",
    "Hand Open",
)
#: release folder -> part name used in subject ids
PARTS = {"PreTrainingDataset": "PreTraining", "EvaluationDataset": "Evaluation"}
_FILE_RX = re.compile(r"^classe_(\d+)\.dat$")


def read_experiment_csv(path: Path, subject: str) -> SubjectInfo:
    """Demographics from a Côté-Allard ``experiment.csv`` (first non-empty value per row)."""
    check_nonempty(path)
    values: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        for row in csv.reader(fh):
            if not row or not row[0].strip():
                continue
            rest = [c.strip() for c in row[1:] if c.strip()]
            if rest:
                values[row[0].strip()] = ",".join(rest)
    sex = values.pop("Sex", None)
    age_text = values.pop("Age", None)
    try:
        age = float(age_text) if age_text is not None else None
    except ValueError:
        age = None
        values["Age"] = age_text or ""
    return SubjectInfo(subject=subject, age=age, sex=sex, extra=values)


class CoteAllardAdapter(Adapter):
    """Côté-Allard Myo armband set: one recording per ``classe_<i>.dat`` file."""

    name = "cote-allard"
    version = "1"
    summary = "Côté-Allard Myo armband set (8 ch, 200 Hz, 7 gestures), original .dat files"

    def discover(self) -> list[SourceUnit]:
        units = []
        for root in part_folders(self.source, PARTS, "the release root or a part"):
            for path in root.glob("*/*/classe_*.dat"):
                exp = path.parent.parent / "experiment.csv"
                files = (path, exp) if exp.is_file() else (path,)
                units.append(SourceUnit(key=relative_key(path, self.source), files=files))
        return sorted(units, key=lambda u: u.key)

    def read(self, unit: SourceUnit) -> Recording:
        path = unit.files[0]
        m = _FILE_RX.match(path.name)
        if m is None or not 0 <= int(m.group(1)) < N_FILES_PER_SESSION:
            raise SourceError(
                path, f"file name is not classe_<i>.dat with i in 0..{N_FILES_PER_SESSION - 1}"
            )
        index = int(m.group(1))
        session_dir = path.parent
        subject_dir = session_dir.parent
        part_dir = subject_dir.parent
        part = PARTS.get(part_dir.name)
        if part is None:
            raise SourceError(path, f"not inside {' or '.join(PARTS)}/<Subject>/<session>/")
        samples = read_interleaved_binary(path, "<i2", N_CHANNELS)
        gesture, cycle = index % len(GESTURES), index // len(GESTURES)
        event = whole_recording_event(
            samples.shape[0] / FS_HZ, GESTURES[gesture], cycle, rest=gesture == 0
        )
        subject = f"{part}/{subject_dir.name}"
        sources = [SourceFile(path=unit.key)]
        info = None
        exp = subject_dir / "experiment.csv"
        if exp in unit.files:
            info = read_experiment_csv(exp, subject)
            sources.append(SourceFile(path=relative_key(exp, self.source)))
        return Recording(
            dataset=self.dataset,
            subject=subject,
            session=session_dir.name,
            trial=f"classe_{index}",
            device="Thalmic Labs Myo armband",
            fs=FS_HZ,
            channels=myo_channels("EMG", FS_HZ),
            samples=samples,
            events=[event],
            sources=sources,
            subject_info=info,
            meta={"gesture_index": str(gesture), "gesture_name": GESTURES[gesture]},
        )
