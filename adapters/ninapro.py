"""NinaPro databases DB1-DB8 (Atzori et al. 2014 and later), adapter ``ninapro``.

Release format (facts from the NinaPro instruction pages ``ninapro.hevs.ch/instructions/
DB<n>.html``, the DB3 README on Dryad, and public loaders of the files; see each entry of
:data:`DATABASES`): one MATLAB v5 ``.mat`` file per subject and exercise with synchronized
variables, rows = samples:

- ``emg`` (n x channels), ``stimulus``/``restimulus`` (n x 1, movement id, 0 = rest;
  ``restimulus`` is relabelled a posteriori to match the real movement),
  ``repetition``/``rerepetition`` (n x 1), ``subject``, ``exercise``;
- auxiliary streams at the EMG rate: ``glove`` (CyberGlove, uncalibrated), ``acc``,
  ``gyro``, ``mag``, ``inclin``, ``force`` (and ``forcecal``, a 2 x 6 calibration table,
  kept in ``meta``).

File names: DB1 ``S<subj>_A1_E<ex>.mat``; DB2, DB3, DB4, DB5, DB7 ``S<subj>_E<ex>_A1.mat``
(DB3 as ``DB3_s<subj>/S<subj>_E<ex>_A1.mat`` in public loaders' documented layouts);
DB6 ``S<subj>_D<day>_T<time>.mat`` (5 days x morning/afternoon); DB8
``S<subj>_E1_A<acquisition>.mat`` (3 acquisitions). The database is the ``database`` option
(1..8), or inferred from the first file name and the EMG channel count.

Labels come from ``restimulus`` (option ``labels=stimulus`` for the cue) with repetitions
from ``rerepetition`` (``repetition``). Movement ids are made global across exercises
(NinaPro's own numbering, exercise offsets per database) whether a file numbers them per
exercise or globally (both releases exist); rest (0) is the class ``rest``. Events carry
the movement's documented name (:data:`EXERCISES`: exercise A = 12 basic finger movements,
B = 17 hand configurations and wrist movements, C = 23 grasps and functional movements,
D = 9 finger force patterns; lists of Atzori et al. 2014, Sci Data 1:140053, Fig. 2, and
the NinaPro instruction pages, as also used by public loaders). DB1, DB4 and DB5 record
exercises A, B, C (ids 1-52); DB2 and DB3 B, C, D (ids 1-49); DB7 B, C (ids 1-40). DB6 (7
grasps) and DB8 (9 finger movements) keep ``movement_<id>``: their lists are not encoded
here. ``Recording.meta["movement_ids"]`` maps each label of the recording to its id (JSON).

Dataset name (the lake's ``dataset`` column): ``ninapro-db<N>`` when the database is known
from the ``database`` option (the catalog's entry names), else ``ninapro``; an explicit
``dataset`` option wins.

DB1 signals are RMS-rectified by the Otto Bock 13E200 electrodes themselves (not raw EMG):
this is written to ``Recording.meta["preprocessing"]`` and to every EMG channel's
``placement_description``. EMG columns that are zero throughout (DB6's two padding columns,
amputees with fewer electrodes in DB3) keep their place with ``status="bad"``.
Files saved as MATLAB v7.3 (HDF5) are read with h5py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from adapters._common import (
    check_nonempty,
    dataset_with_database,
    glob_units,
    mat_numeric,
    option_int,
    option_positive_float,
    option_str,
    ring_position,
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

#: File-name patterns: (regex, what the 2nd and 3rd numbers mean).
_NAME_A_E = re.compile(r"^S(\d+)_A(\d+)_E(\d+)\.mat$", re.IGNORECASE)
_NAME_E_A = re.compile(r"^S(\d+)_E(\d+)_A(\d+)\.mat$", re.IGNORECASE)
_NAME_D_T = re.compile(r"^S(\d+)_D(\d+)_T(\d+)\.mat$", re.IGNORECASE)

#: Auxiliary variables -> BIDS channel type.
AUX_TYPES = {
    "glove": "GLOVE",
    "acc": "ACC",
    "gyro": "GYRO",
    "mag": "MISC",
    "inclin": "ANGLE",
    "force": "FORCE",
}

#: Movement names per exercise, in NinaPro's order (id 1 = first of the list).
EXERCISES: dict[str, tuple[str, ...]] = {
    "A": (
        "Index flexion", "Index extension", "Middle flexion", "Middle extension",
        "Ring flexion", "Ring extension", "Little finger flexion", "Little finger extension",
        "Thumb adduction", "Thumb abduction", "Thumb flexion", "Thumb extension",
    ),
    "B": (
        "Thumb up", "Extension of index and middle, flexion of the others",
        "Flexion of ring and little finger, extension of the others",
        "Thumb opposing base of little finger", "Abduction of all fingers",
        "Fingers flexed together in fist", "Pointing index", "Adduction of extended fingers",
        "Wrist supination (axis: middle finger)", "Wrist pronation (axis: middle finger)",
        "Wrist supination (axis: little finger)", "Wrist pronation (axis: little finger)",
        "Wrist flexion", "Wrist extension", "Wrist radial deviation", "Wrist ulnar deviation",
        "Wrist extension with closed hand",
    ),
    "C": (
        "Large diameter grasp", "Small diameter grasp (power grip)", "Fixed hook grasp",
        "Index finger extension grasp", "Medium wrap", "Ring grasp",
        "Prismatic four fingers grasp", "Stick grasp", "Writing tripod grasp",
        "Power sphere grasp", "Three finger sphere grasp", "Precision sphere grasp",
        "Tripod grasp", "Prismatic pinch grasp", "Tip pinch grasp", "Quadpod grasp",
        "Lateral grasp", "Parallel extension grasp", "Extension type grasp", "Power disk grasp",
        "Open a bottle with a tripod grasp",
        "Turn a screw (grasp the screwdriver with a stick grasp)",
        "Cut something (grasp the knife with an index finger extension grasp)",
    ),
    "D": (
        "Flexion of the little finger", "Flexion of the ring finger",
        "Flexion of the middle finger", "Flexion of the index finger",
        "Abduction of the thumb", "Flexion of the thumb",
        "Flexion of index and little finger", "Flexion of ring and middle finger",
        "Flexion of index finger and thumb",
    ),
}  # fmt: skip

_RING8_MUSCLES = ("flexor digitorum superficialis", "extensor digitorum communis")
_ARM_MUSCLES = ("biceps brachii", "triceps brachii")


@dataclass(frozen=True)
class NinaProDb:
    """Facts of one NinaPro database."""

    number: int
    fs: float  # [Hz]
    device: str
    n_emg: int
    name_style: str  # "A_E", "E_A" or "D_T"
    exercise_sizes: tuple[int, ...]  # movements per exercise (for global ids)
    ring: int = 0  # electrodes equally spaced around the forearm (per ring); 0 = unknown
    extra_muscles: tuple[str, ...] = ()  # electrodes on named muscles after the ring(s)
    units: str = "n/a"
    low_cutoff: float | None = None  # [Hz]
    high_cutoff: float | None = None  # [Hz]; None = Nyquist
    rings: int = 1
    preprocessing: str | None = None
    note: str = ""
    exercises: str = ""  # letters of :data:`EXERCISES` recorded, in order ("" = unknown)

    def movement_names(self) -> dict[int, str]:
        """Global movement id -> documented name ({} when the exercises are not encoded)."""
        names = [n for letter in self.exercises for n in EXERCISES[letter]]
        return {i + 1: n for i, n in enumerate(names)}


def _db(
    number: int, fs: float, device: str, n_emg: int, style: str, sizes: tuple[int, ...], **kw: Any
) -> NinaProDb:
    return NinaProDb(
        number=number,
        fs=fs,
        device=device,
        n_emg=n_emg,
        name_style=style,
        exercise_sizes=sizes,
        **kw,
    )


_DELSYS = {
    "ring": 8,
    "extra_muscles": _RING8_MUSCLES + _ARM_MUSCLES,
    "units": "V",
    "high_cutoff": 1000.0,
    "exercises": "BCD",
}

DATABASES: dict[int, NinaProDb] = {
    1: _db(
        1,
        100.0,
        "Otto Bock MyoBock 13E200",
        10,
        "A_E",
        (12, 17, 23),
        ring=8,
        extra_muscles=_RING8_MUSCLES,
        units="n/a",
        exercises="ABC",
        preprocessing="device RMS-rectified: Otto Bock 13E200 output is an amplified, "
        "band-passed and RMS-rectified EMG envelope, not raw EMG",
    ),
    2: _db(2, 2000.0, "Delsys Trigno Wireless", 12, "E_A", (17, 23, 9), **_DELSYS),
    3: _db(
        3,
        2000.0,
        "Delsys Trigno Wireless",
        12,
        "E_A",
        (17, 23, 9),
        **_DELSYS,
        note="transradial amputees; subjects 6 and 7 have 10 electrodes",
    ),
    4: _db(4, 2000.0, "Cometa Dormo", 12, "E_A", (12, 17, 23), **{**_DELSYS, "exercises": "ABC"}),
    5: _db(
        5,
        200.0,
        "2 x Thalmic Myo armband",
        16,
        "E_A",
        (12, 17, 23),
        ring=8,
        rings=2,
        units="n/a",
        high_cutoff=100.0,
        exercises="ABC",
        note="second Myo closer to the hand, rotated 22.5 deg against the first",
    ),
    6: _db(
        6,
        2000.0,
        "Delsys Trigno Wireless",
        16,
        "D_T",
        (7,),
        units="V",
        high_cutoff=1000.0,
        note="14 electrodes in 16 columns: the two unused columns are zero; electrode "
        "sites are not given per column in the release, so positions are n/a",
    ),
    7: _db(
        7,
        2000.0,
        "Delsys Trigno IM Wireless",
        12,
        "E_A",
        (17, 23),
        **{**_DELSYS, "exercises": "BC"},
    ),
    8: _db(
        8,
        1111.0,
        "Delsys Trigno IM Wireless",
        16,
        "E_A",
        (9,),
        ring=8,
        rings=2,
        units="V",
        note="sEMG rate as used by public DB8 loaders (1111 Hz); override with option fs",
    ),
}


def parse_name(path: Path) -> tuple[str, int, int, int]:
    """``(style, subject, a, b)`` from a NinaPro file name; SourceError for another name.

    style ``A_E``: a = acquisition, b = exercise; ``E_A``: a = exercise, b = acquisition;
    ``D_T``: a = day, b = time of day.
    """
    for style, rx in (("A_E", _NAME_A_E), ("E_A", _NAME_E_A), ("D_T", _NAME_D_T)):
        m = rx.match(path.name)
        if m:
            return style, int(m.group(1)), int(m.group(2)), int(m.group(3))
    raise SourceError(
        path,
        "not a NinaPro file name: expected S<subject>_A1_E<exercise>.mat (DB1), "
        "S<subject>_E<exercise>_A<n>.mat (DB2, DB3, DB4, DB5, DB7, DB8) or "
        "S<subject>_D<day>_T<time>.mat (DB6)",
    )


def load_ninapro_mat(path: Path) -> dict[str, Any]:
    """Variables of a NinaPro file (MATLAB v5 via scipy, v7.3 via h5py), rows = samples."""
    import scipy.io

    check_nonempty(path)
    try:
        return dict(scipy.io.loadmat(path))
    except NotImplementedError:
        pass  # v7.3: HDF5
    except Exception as exc:
        problem = f"not a readable MATLAB .mat file ({type(exc).__name__}: {exc})"
        raise SourceError(path, problem) from None
    import h5py

    try:
        with h5py.File(path, "r") as f:
            # MATLAB stores column-major: HDF5 datasets come back transposed.
            return {k: np.asarray(v).T for k, v in f.items() if isinstance(v, h5py.Dataset)}
    except OSError as exc:
        raise SourceError(path, f"not a readable MATLAB v7.3 (HDF5) file: {exc}") from None


def _column(mat: dict[str, Any], name: str, n: int, path: Path) -> np.ndarray:
    v = mat_numeric(mat, name, path)
    if v.ndim == 2 and 1 in v.shape:
        v = v.ravel()
    if v.ndim != 1 or v.size != n:
        raise SourceError(
            path, f"variable {name!r} has shape {v.shape}: expected {n} values, one per emg row"
        )
    return v


def global_ids(
    codes: np.ndarray, db: NinaProDb, exercise: int, path: Path
) -> tuple[np.ndarray, str]:
    """Movement ids made global across exercises, and which numbering the file used."""
    if exercise < 1 or exercise > len(db.exercise_sizes):
        raise SourceError(
            path, f"exercise {exercise} not in DB{db.number} (it has {len(db.exercise_sizes)})"
        )
    offset = sum(db.exercise_sizes[: exercise - 1])
    size = db.exercise_sizes[exercise - 1]
    moving = codes[codes != 0]
    if offset == 0 or moving.size == 0:
        return codes, "global"
    lo, hi = int(moving.min()), int(moving.max())
    if lo > offset and hi <= offset + size:
        return codes, "global"
    if hi <= size:
        return np.where(codes != 0, codes + offset, 0), "per-exercise"
    raise SourceError(
        path,
        f"movement ids {lo}..{hi} fit neither exercise {exercise}'s own numbering (1..{size}) "
        f"nor the global one ({offset + 1}..{offset + size})",
    )


def events_from_codes(
    codes: np.ndarray, reps: np.ndarray, fs: float, names: dict[int, str] | None = None
) -> list[Event]:
    """Run-length events of a movement-id vector (0 = rest) with its repetition vector.

    ``names`` maps ids to labels; an id without a name is labelled ``movement_<id>``.
    """
    names = names or {}
    change = np.flatnonzero((codes[1:] != codes[:-1]) | (reps[1:] != reps[:-1])) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [codes.size]))
    events = []
    for s, e in zip(starts, ends, strict=True):
        code, rep = int(codes[s]), int(reps[s])
        if code == 0:
            events.append(Event(s / fs, (e - s) / fs, "rest", None, "rest"))
        else:
            label = names.get(code, f"movement_{code}")
            events.append(Event(s / fs, (e - s) / fs, label, rep or None, "gesture"))
    return events


class NinaProAdapter(Adapter):
    """NinaPro DB1-DB8 .mat files; options ``database`` (1..8), ``labels``, ``fs``."""

    name = "ninapro"
    version = "2"
    summary = "NinaPro DB1-DB8 (.mat per subject and exercise), labels from restimulus"

    def __init__(self, source: str | Path, **options: Any) -> None:
        super().__init__(source, **options)
        db = option_int(options, "database")
        if db is not None:
            check_option("option database", db, DATABASES)
        self.database = db
        self.labels = check_option(
            "option labels", option_str(options, "labels", "restimulus"), ("restimulus", "stimulus")
        )
        self.fs_override = option_positive_float(options, "fs", "Hz")

    @property
    def dataset(self) -> str:
        """``ninapro-db<N>`` when option ``database`` is set, else ``ninapro`` (option wins)."""
        return dataset_with_database(self.options, self.name, self.database)

    def discover(self) -> list[SourceUnit]:
        """Every ``S*.mat`` below the source (file names checked when read)."""
        return glob_units(
            self.source,
            "**/*",
            expected="a NinaPro folder or .mat",
            keep=lambda p: p.suffix.lower() == ".mat",
        )

    def _database_for(self, style: str, n_emg: int, path: Path) -> NinaProDb:
        if self.database is not None:
            db = DATABASES[self.database]
            if style != db.name_style:
                raise SourceError(
                    path, f"file name style {style} does not match DB{db.number} ({db.name_style})"
                )
            return db
        candidates = [d for d in DATABASES.values() if d.name_style == style and d.n_emg >= n_emg]
        exact = [d for d in candidates if d.n_emg == n_emg]
        found = exact or candidates
        if len(found) != 1:
            names = ", ".join(f"DB{d.number}" for d in found) or "none"
            raise SourceError(
                path,
                f"cannot infer the NinaPro database from the name and {n_emg} emg columns "
                f"(candidates: {names}): set option database=1..8",
            )
        return found[0]

    def read(self, unit: SourceUnit) -> Recording:
        path = unit.files[0]
        style, subject, a, b = parse_name(path)
        mat = load_ninapro_mat(path)
        emg = mat_numeric(mat, "emg", path)
        if emg.ndim != 2 or emg.shape[0] == 0:
            raise SourceError(
                path, f"variable 'emg' has shape {emg.shape}: expected (samples, channels)"
            )
        n, n_emg = emg.shape
        db = self._database_for(style, n_emg, path)
        if n_emg > db.n_emg:
            raise SourceError(path, f"emg has {n_emg} columns: DB{db.number} has {db.n_emg}")
        fs = self.fs_override or db.fs
        label_var = self.labels
        rep_var = "rerepetition" if label_var == "restimulus" else "repetition"
        codes = _column(mat, label_var, n, path).astype(np.int64)
        reps = _column(mat, rep_var, n, path).astype(np.int64)
        if style == "D_T":
            exercise, session, trial = 1, f"D{a}T{b}", "E1"
        elif style == "A_E":
            exercise, session, trial = b, f"A{a}", f"E{b}"
        else:
            exercise, session, trial = a, f"A{b}", f"E{a}"
        codes, numbering = global_ids(codes, db, exercise, path)
        names = db.movement_names()
        events = events_from_codes(codes, reps, fs, names)

        emg = emg.astype(np.float64) if emg.dtype.kind != "f" else emg
        if not np.all(np.isfinite(emg)):
            raise SourceError(path, "variable 'emg' holds non-finite values")
        channels = self._emg_channels(db, emg, fs)
        blocks = [emg]
        meta: dict[str, str] = {
            "database": f"DB{db.number}",
            "exercise": str(exercise),
            "labels": label_var,
            "label_numbering_in_file": numbering,
            "movement_ids": json.dumps(
                {names.get(int(c), f"movement_{c}"): int(c) for c in np.unique(codes) if c},
                ensure_ascii=False,
            ),
        }
        for var, ctype in AUX_TYPES.items():
            if var not in mat:
                continue
            aux = mat_numeric(mat, var, path).astype(np.float64)
            if aux.ndim == 1:
                aux = aux[:, None]
            if aux.ndim != 2 or aux.shape[0] != n:
                raise SourceError(
                    path, f"variable {var!r} has shape {aux.shape}: expected ({n}, k) like emg"
                )
            blocks.append(aux)
            channels += [
                ChannelInfo(name=f"{var}{k + 1}", type=ctype, units="n/a", group=var)
                for k in range(aux.shape[1])
            ]
        if "forcecal" in mat:
            meta["forcecal"] = np.array2string(np.asarray(mat["forcecal"]).ravel(), separator=",")
        if db.preprocessing:
            meta["preprocessing"] = db.preprocessing
        if db.note:
            meta["note"] = db.note
        return Recording(
            dataset=self.dataset,
            subject=str(subject),
            session=session,
            trial=trial,
            device=db.device,
            fs=fs,
            channels=channels,
            samples=np.hstack(blocks),
            events=events,
            sources=[SourceFile(str(path))],
            subject_info=SubjectInfo(subject=str(subject)),
            meta=meta,
        )

    @staticmethod
    def _emg_channels(db: NinaProDb, emg: np.ndarray, fs: float) -> list[ChannelInfo]:
        silent = ~np.any(emg != 0, axis=0)
        description = f"{db.device}; " + (db.preprocessing or "raw sEMG")
        infos = []
        for i in range(emg.shape[1]):
            ring_index, ring_no = (i % db.ring, i // db.ring) if db.ring else (0, db.rings)
            muscle = None
            if ring_no < db.rings:
                pos = ring_position(ring_index, db.ring)
                angle = pos.angle_deg or 0.0
                if ring_no == 1 and db.number == 5:
                    angle += 22.5
                pos = ElectrodePosition(system="ring", angle_deg=angle)
                scheme = f"armband ring {ring_no + 1}"
                if db.number == 5:
                    scheme += " (ring 1 nearer the elbow)"
            elif i - db.ring * db.rings < len(db.extra_muscles):
                muscle = db.extra_muscles[i - db.ring * db.rings]
                pos = ElectrodePosition(system="muscle", muscle=muscle)
                scheme = "muscle activity spot"
            else:
                pos, scheme = ElectrodePosition(), "n/a"
            infos.append(
                ChannelInfo(
                    name=f"emg{i + 1}",
                    type="EMG",
                    units=db.units,
                    position=pos,
                    group="emg",
                    target_muscle=muscle,
                    placement_scheme=scheme,
                    placement_description=description,
                    low_cutoff=db.low_cutoff,
                    high_cutoff=min(db.high_cutoff or fs / 2, fs / 2),
                    status="bad" if silent[i] else "good",
                )
            )
        return infos
